
// data-liveview-poll="2s": acts every 2 s while visible and connected.
const pollDue = new WeakMap();
setInterval(() => {
  const now = Date.now();
  if (!doc.hidden && window.liveview.connected) for (const el of findAll('[data-liveview-poll]')) {
    const due = pollDue.get(el);
    if (!(now < due)) pollDue.set(el, now + duration(el.dataset.liveviewPoll));
    if (now >= due) act(el, el.dataset.liveviewFunction, el.dataset.liveviewJs, 'poll');
  }
}, 100);
