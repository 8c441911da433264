
const pending = new Map(), busyCount = new WeakMap(), swapping = new WeakSet();
const errorBoxes = new WeakMap(); // box -> `hidden` before it showed an error
function busy(ref, el, type) {
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
  pending.set(ref, {
    el, form, swapped,
    submitted: type === 'submit' || SUBMIT.test(el.type) ? form : null,
    timer: setTimeout(() => done(ref), BUSY_TIMEOUT),
  });
}
function done(ref) {
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
  return entry;
}
