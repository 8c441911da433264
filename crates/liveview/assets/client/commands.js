
// Commands ("toggle #menu; add-class open"): run in the page. What they set
// on an element a morph keeps is set again after it. `log` gathers steps
// that undo them: step(true) in the DOM too, step() only their stickiness.
const stuck = new WeakMap(); // el -> Map('.class' or attribute -> value, null: off)
const read = (el, key) => key[0] === '.' ? (el.classList.contains(key.slice(1)) ? '' : null) : el.getAttribute(key);
const write = (el, key, value) => key[0] === '.' ? el.classList.toggle(key.slice(1), value != null)
  : value == null ? el.removeAttribute(key) : el.setAttribute(key, value);
function stick(el, key, value, log) {
  const map = stuck.get(el) || new Map(), old = read(el, key), was = map.get(key);
  stuck.set(el, map.set(key, value));
  write(el, key, value);
  log?.push((dom) => { if (dom) write(el, key, old); was === undefined ? map.delete(key) : map.set(key, was); });
}
const restick = (el) => stuck.get(el)?.forEach((value, key) => write(el, key, value));
const undo = (log, dom = true) => log.reverse().forEach((step) => step(dom));
const duration = (text) => parseFloat(text) * (/\ds$/.test(text) ? 1000 : 1); // 2s, 300ms
const classes = (el, log, names, on) => names.split(',').forEach((name) =>
  stick(el, '.' + name, (on ?? !el.classList.contains(name)) ? '' : null, log));
const COMMANDS = { // (el, log, ...arguments): the words after them are a selector
  show: (el, log) => stick(el, 'hidden', null, log),
  hide: (el, log) => stick(el, 'hidden', '', log),
  toggle: (el, log) => stick(el, 'hidden', el.hidden ? null : '', log),
  'add-class': (el, log, names) => classes(el, log, names, true),
  'remove-class': (el, log, names) => classes(el, log, names, false),
  'toggle-class': (el, log, names) => classes(el, log, names),
  'set-attr': (el, log, name, value) => stick(el, name, value, log),
  'remove-attr': (el, log, name) => stick(el, name, null, log),
  focus: (el, log) => el.focus(),
  dispatch: (el, log, type) => el.dispatchEvent(new CustomEvent(type, { bubbles: true })),
  transition: (el, log, names, time) => {
    classes(el, log, names, true);
    setTimeout(classes, duration(time), el, null, names, false);
  },
  navigate: (el, log, to) => location.assign(to),
};
function run(text, el, log) {
  for (const command of (text || '').split(';')) {
    const [name, ...words] = command.trim().split(/\s+/), fn = COMMANDS[name], n = fn?.length - 2;
    if (fn) for (const target of words[n] ? findAll(words.slice(n).join(' ')) : [el]) fn(target, log, ...words);
    else if (name) warn('unknown command', name);
  }
}
// Commands, then the event; data-liveview-js-after once its answer is applied.
function act(el, fn, js, type, submitter) {
  run(js, el);
  if (fn) sendFrom(el, fn, type, submitter);
}
const runAfter = ({ el, then }) => then.push((frame) =>
  isAnswer(frame) && queueMicrotask(() => run(el.dataset.liveviewJsAfter, el)));
