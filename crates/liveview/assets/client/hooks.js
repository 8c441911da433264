
// data-liveview-hook="Name": the element gets an object made from
// liveview.hooks.Name, whose callbacks run as the element lives.
const hooks = {}, mounted = new Map(); // el -> hook
const hookProto = {
  // Resolves with the answering frame; rejects with an error frame, or an
  // Error when no answer comes (or the event could not be sent).
  push(fn, data) {
    const entry = pending.get(send(fn, data, {}, this.el, 'hook'));
    return new Promise((resolve, reject) => entry ? entry.then.push((frame) =>
      isAnswer(frame) ? resolve(frame) : reject(frame || Error('no answer'))) : reject(Error('no answer')));
  },
  handle(name, callback) { this['liveview:' + name] = callback; },
};
function call(hook, name, arg) {
  try { hook[name]?.(arg); } catch (err) { fail('hook', name, err); }
}
function hookUp(scope) {
  for (const el of [scope, ...scope.querySelectorAll('[data-liveview-hook]')]) {
    const spec = hooks[el.dataset?.liveviewHook], hook = spec && !mounted.has(el) && Object.assign(Object.create(hookProto), spec, { el });
    if (hook) {
      mounted.set(el, hook);
      call(hook, 'mounted');
    }
  }
}
function unhook(el) {
  const hook = mounted.get(el);
  if (hook && mounted.delete(el)) call(hook, 'destroyed');
}
const each = (name, arg) => mounted.forEach((hook) => call(hook, name, arg));
// Before a patch of `scope`; the hooks it keeps get `updated` after.
function updating(scope) {
  const list = [...mounted.values()].filter((hook) => scope.contains(hook.el));
  list.forEach((hook) => call(hook, 'beforeUpdate'));
  return () => list.forEach((hook) => hook.el.isConnected && call(hook, 'updated'));
}
// {"event": name, "payload": …}, from ctx.push_event.
function pushed(frame) {
  each('liveview:' + frame.event, frame.payload);
  emit(frame.event, frame.payload);
}
let dropped = false;
on('disconnected', () => { dropped = true; each('disconnected'); });
on('connected', () => dropped && each('reconnected'));
addEventListener('DOMContentLoaded', () => hookUp(doc));
