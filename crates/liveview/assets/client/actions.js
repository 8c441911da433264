
// data-action="event.filter->controller#run:option" (Stimulus syntax): only
// `run` is ours, other methods belong to whatever else the page runs.
const ACTION = /^(?:([^.>]+?)(?:\.([^>]+))?->)?[^#\s]+#(\w+)((?::!?\w+)*)$/;
const DEFAULT_EVENTS = { A: 'click', BUTTON: 'click', FORM: 'submit', DETAILS: 'toggle', SELECT: 'change', TEXTAREA: 'input' };
const defaultEvent = (el) => el.tagName !== 'INPUT' ? DEFAULT_EVENTS[el.tagName] || 'click'
  : /^(submit|image|button|reset)$/.test(el.type) ? 'click' : 'input';
const parsedActions = new Map();
function actionsOf(el) {
  const attr = el.getAttribute('data-action') || '';
  let list = parsedActions.get(attr);
  if (!list) {
    list = [];
    for (const token of attr.trim().split(/\s+/)) {
      const match = ACTION.exec(token);
      if (!match) { if (token) warn('bad data-action', token); continue; }
      const [, event, filter, method, options] = match;
      if (method === 'run') list.push({ event, filter: filter && canonicalCombo(filter), options: options.split(':') });
    }
    if (parsedActions.size > 999) parsedActions.clear(); // bounded
    parsedActions.set(attr, list);
  }
  return list;
}

// Delegation, so patched-in markup needs no binding. Events that do not
// bubble (focus, toggle…) reach document only while capturing.
const listening = new Set();
function listen(type) {
  if (listening.has(type)) return;
  listening.add(type);
  doc.addEventListener(type, onEvent, true);
  doc.addEventListener(type, onEvent);
}
function onEvent(e) {
  if ((e.eventPhase === e.CAPTURING_PHASE) === e.bubbles) return;
  let stopped = false;
  for (let el = e.target; el && el.nodeType === 1 && !stopped; el = e.bubbles && el.parentElement) {
    for (const action of actionsOf(el)) {
      if (!actionMatches(action, el, e)) continue;
      if (action.options.includes('prevent') || wouldLeavePage(el, e)) e.preventDefault();
      if (action.options.includes('stop')) { e.stopPropagation(); stopped = true; }
      trigger(el, e);
    }
  }
}
const actionMatches = (action, el, e) => (action.event || defaultEvent(el)) === e.type &&
  (!action.filter || action.filter === eventCombo(e, keyName(e.key || ''))) &&
  !(action.options.includes('self') && e.target !== el);
// Defaults that would leave the page being updated are prevented.
function wouldLeavePage(el, e) {
  if (e.type === 'submit') return true;
  if (e.type !== 'click') return false;
  return el.tagName === 'A' ? /^#?$/.test(el.getAttribute('href') || '') : el.form && SUBMIT.test(el.type);
}

const debounceTimers = new WeakMap(), lastSent = new WeakMap();
function trigger(el, e) {
  const dataset = el.dataset, fn = dataset.liveviewFunction;
  const debounce = +dataset.liveviewDebounce, throttle = +dataset.liveviewThrottle;
  // Read when sent: a debounced input sends its final value.
  const go = () => confirmed(el, () => act(el, fn, dataset.liveviewJs, e.type, e.submitter));
  if (!fn && dataset.liveviewJs == null) warn('data-action without data-liveview-function:', el);
  else if (debounce > 0) {
    clearTimeout(debounceTimers.get(el));
    debounceTimers.set(el, setTimeout(go, debounce));
  } else if (!(Date.now() - (lastSent.get(el) || 0) < throttle)) { // NaN: no throttle
    lastSent.set(el, Date.now());
    go();
  }
}

// The page's liveview.confirm may answer with a promise (a dialog of its own).
const confirmed = (el, then, message = el.dataset.liveviewConfirm) => message == null ? then()
  : Promise.resolve(window.liveview.confirm(message, el)).then((yes) => yes && then());

// No prototype: a field may be named "__proto__".
const put = (object, key, value) => { object[key] = key in object ? [].concat(object[key], value) : value; };
function sendFrom(el, fn, type, submitter) {
  const data = Object.create(null), form = formOf(el);
  for (const key in el.dataset) if (!/^(action|controller|liveview[A-Z].*)$/.test(key)) data[key] = el.dataset[key];
  const fields = fieldsOf(form, el, submitter);
  const files = type === 'submit' || el.type === 'file' || SUBMIT.test(el.type) ? filesOf(form || el) : [];
  return files.length ? uploadThenSend(el, fn, data, fields, type, files) : send(fn, data, fields, el, type);
}
// What a form submission would send (files aside), by name, else by id.
function fieldsOf(form, el, submitter) {
  const fields = Object.create(null);
  for (const field of form ? form.elements : FIELD.test(el.tagName) ? [el] : []) {
    const key = field.name || field.id, type = field.type;
    if (key && FIELD.test(field.tagName) && !field.matches(':disabled') && !/^(submit|button|reset|image|file)$/.test(type) &&
        (field.checked || !/^(checkbox|radio)$/.test(type))) {
      put(fields, key, type === 'select-multiple' ? Array.from(field.selectedOptions, (option) => option.value) : field.value);
    }
  }
  if (submitter?.name) put(fields, submitter.name, submitter.value);
  return fields;
}
