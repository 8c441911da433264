
// data-liveview-hook="Name": the element gets an object made from
// liveview.hooks.Name, whose callbacks run as the element lives.
const hooks = {}, mounted = new Map(); // el -> hook
const hookProto = {
  push(fn, data) { // resolves with the answering frame
    return new Promise((resolve, reject) => pending.get(send(fn, data, {}, this.el, 'hook'))?.then.push((frame) =>
      frame?.error == null && frame ? resolve(frame) : reject(frame || Error('no answer'))));
  },
  handle(name, callback) { this['liveview:' + name] = callback; },
};
function call(hook, name, arg) {
  try { hook[name]?.(arg); } catch (err) { console.error('liveview: hook', name, err); }
}
const hookUp = (scope) => [scope, ...scope.querySelectorAll('[data-liveview-hook]')].forEach((el) => {
  const spec = hooks[el.dataset?.liveviewHook];
  if (spec && !mounted.has(el)) call(mounted.set(el, Object.assign(Object.create(hookProto), spec, { el })).get(el), 'mounted');
});
function unhook(el) {
  if (mounted.has(el)) call(mounted.get(el), 'destroyed', mounted.delete(el));
}
const each = (name, arg) => mounted.forEach((hook) => call(hook, name, arg));
// Before a patch of `scope`; the hooks it keeps get `updated` after.
function updating(scope) {
  const list = Array.from(mounted.values()).filter((hook) => scope.contains(hook.el));
  list.forEach((hook) => call(hook, 'beforeUpdate'));
  return () => list.forEach((hook) => hook.el.isConnected && call(hook, 'updated'));
}
// {"event": name, "payload": …}, from ctx.push_event.
function pushed(frame) {
  each('liveview:' + frame.event, frame.payload);
  emit(frame.event, frame.payload);
}
let dropped = false;
on('disconnected', () => each('disconnected', dropped = true));
on('connected', () => dropped && each('reconnected'));
addEventListener('DOMContentLoaded', () => hookUp(doc));
