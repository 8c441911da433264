
const pending = new Map(), busyCount = new WeakMap(), swapping = new WeakSet();
const errorBoxes = new WeakMap(); // box -> `hidden` before it showed an error
function busy(ref, el, type, message) {
  const form = formOf(el), box = form?.querySelector(ERROR_BOX), swapped = [];
  busyCount.set(el, (busyCount.get(el) || 0) + 1);
  el.setAttribute('aria-busy', 'true');
  el.classList.add('lv-busy');
  if (errorBoxes.has(box)) { box.textContent = ''; box.hidden = errorBoxes.get(box); errorBoxes.delete(box); }
  for (const button of el.tagName === 'FORM' ? [el, ...el.querySelectorAll('[data-liveview-disable-with]')] : [el]) {
    const label = button.dataset.liveviewDisableWith, prop = button.tagName === 'INPUT' ? 'value' : 'innerHTML';
    if (label == null || swapping.has(button)) continue;
    const labelProp = prop === 'value' ? prop : 'textContent';
    swapping.add(button);
    swapped.push({ button, prop, labelProp, old: button[prop], disabled: button.disabled, label });
    button[labelProp] = label;
    button.disabled = true;
  }
  const entry = {
    el, form, swapped, fn: message?.function, then: [],
    submitted: type === 'submit' || SUBMIT.test(el.type) ? form : null,
    timer: setTimeout(() => done(ref), BUSY_TIMEOUT),
  };
  pending.set(ref, entry);
  if (message) sending(entry, message);
  inFlight();
}
// `then` callbacks get the answer; none: timed out or lost.
const isAnswer = (frame) => !!frame && frame.error == null;
function done(ref, frame) {
  const entry = pending.get(ref);
  if (!entry) return;
  const el = entry.el;
  pending.delete(ref);
  clearTimeout(entry.timer);
  busyCount.set(el, busyCount.get(el) - 1);
  if (!busyCount.get(el)) { el.removeAttribute('aria-busy'); el.classList.remove('lv-busy'); }
  for (const { button, prop, labelProp, old, disabled, label } of entry.swapped) {
    swapping.delete(button);
    if (button[labelProp] === label) button[prop] = old; // unless re-rendered meanwhile
    if (button.disabled) button.disabled = disabled;
  }
  entry.then.forEach((then) => then(frame));
  inFlight();
  return entry;
}

// data-liveview-loading="commands" (default "show") while an event of its
// -for="fn" (else of its form, else any) is in flight; then undone.
const loadingUndo = new Map();
let wasBusy = false;
function inFlight() {
  for (const el of findAll('[data-liveview-loading]')) {
    const fn = el.dataset.liveviewLoadingFor, form = el.closest('form'), log = loadingUndo.get(el);
    const on = [...pending.values()].some((entry) => fn ? entry.fn === fn : !form || entry.form === form);
    if (on && !log) run(el.dataset.liveviewLoading || 'show', el, loadingUndo.set(el, []).get(el));
    if (!on && log) {
      loadingUndo.delete(el);
      undo(log);
    }
  }
  if (wasBusy !== !!pending.size) emit((wasBusy = !!pending.size) ? 'busy' : 'idle');
}
