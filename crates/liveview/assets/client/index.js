
['click', 'submit', 'input', 'change', 'keydown'].forEach(listen);
window.liveview = {
  version: PROTOCOL_VERSION, room, url: url.href,
  applyPatch: (patch) => applyPatch(patch),
  send: (fn, data, fields) => send(fn, data, fields),
  morph(from, html) {
    const target = typeof from === 'string' ? find(from) : from;
    if (target) change(target, { html }, { withScripts: false });
    return target;
  },
  hooks,
  confirm: (message) => confirm(message),
  debug: (yes) => { debugging = remember('debug', !!yes); },
  latency: (ms) => { delay = remember('latency', +ms || 0); },
  get connected() { return connected; },
  get socket() { return socket; },
  get transport() { return longPoll ? 'longpoll' : 'websocket'; },
};
connect();
if (doc.readyState === 'loading') doc.addEventListener('DOMContentLoaded', () => hydrate(doc)); else hydrate(doc);
})();
