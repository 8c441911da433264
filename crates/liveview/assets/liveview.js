/*! liveview client: wire protocol v1 (docs/protocol.md), markup in docs/client.md.
 *  Plain script, no dependencies; its only global is window.liveview. */
(() => {
'use strict';
if (window.liveview) return; // loaded twice: the first copy owns the page

const doc = document, root = doc.documentElement;
const warn = (...a) => console.warn('liveview:', ...a);
const emit = (name, detail, cancelable) => doc.dispatchEvent(new CustomEvent('liveview:' + name, { detail, cancelable }));
const $ = (s) => { try { return doc.querySelector(s); } catch (e) { warn('bad selector', s); } };
const formOf = (el) => el.tagName === 'FORM' ? el : el.form || el.closest('form');
const FIELD = /^(INPUT|SELECT|TEXTAREA)$/, SUBMIT = /^(submit|image)$/;
const where = () => location.pathname + location.search;

// -- room and socket URL
let room = root.dataset.room || root.dataset.liveviewRoomUuid;
if (!room) {
  try { room = sessionStorage.getItem('liveview-room'); } catch (e) { /* storage disabled */ }
  // randomUUID needs a secure context, which plain-http LAN hosts are not
  room = room || (crypto.randomUUID ? crypto.randomUUID()
    : Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => (b + 256).toString(16).slice(1)).join(''));
  try { sessionStorage.setItem('liveview-room', room); } catch (e) { /* this page only */ }
}
const url = new URL((root.dataset.liveviewUrl || '/ws/liveview/{room}/?v=1')
  .replace('{room}', encodeURIComponent(room)), location.href);
url.protocol = url.protocol.replace(/^http/, 'ws');

// -- keys: filters (keydown.esc) and keyboard maps ("ctrl+k") share one spelling
const MODS = ['ctrl', 'alt', 'meta', 'shift'];
const ALIAS = { escape: 'esc', ' ': 'space', control: 'ctrl', cmd: 'meta', command: 'meta', option: 'alt', return: 'enter' };
const alias = (k) => (k = k.toLowerCase().replace(/^arrow/, '').replace(/^page(up|down)$/, 'page_$1'), ALIAS[k] || k);
const canon = (s) => {
  const p = s.split('+').map(alias);
  return [...MODS.filter((m) => p.includes(m)), ...p.filter((k) => !MODS.includes(k))].join('+');
};
const combo = (e, key, noShift) =>
  [...MODS.filter((m) => e[m + 'Key'] && !(noShift && m === 'shift')), key].filter(Boolean).join('+');

// -- data-action (Stimulus syntax): "event.filter->controller#run:option".
// Only `run` is ours; other methods belong to whatever else the page runs.
const DEFAULT = { A: 'click', BUTTON: 'click', FORM: 'submit', DETAILS: 'toggle', SELECT: 'change', TEXTAREA: 'input' };
const defaultEvent = (el) => el.tagName !== 'INPUT' ? DEFAULT[el.tagName] || 'click'
  : /^(submit|image|button|reset)$/.test(el.type) ? 'click' : 'input';
const parsed = new Map();
function actions(attr) {
  let list = parsed.get(attr);
  if (!list) {
    list = [];
    for (const tok of attr.trim().split(/\s+/)) {
      const m = /^(?:([^.>]+?)(?:\.([^>]+))?->)?[^#\s]+#(\w+)((?::!?\w+)*)$/.exec(tok);
      if (!m) { if (tok) warn('bad data-action', tok); }
      else if (m[3] === 'run') list.push({ ev: m[1], filter: m[2] && canon(m[2]), opts: m[4].split(':') });
    }
    if (parsed.size > 999) parsed.clear(); // bounded
    parsed.set(attr, list);
  }
  return list;
}

// -- delegation, so patched-in markup needs no binding: bubbling events walk
// up from their target; others (focus, toggle…) reach document only while
// capturing, and concern their target alone.
const listening = new Set();
function listen(type) {
  if (listening.has(type)) return;
  listening.add(type);
  doc.addEventListener(type, onEvent, true);
  doc.addEventListener(type, onEvent);
}
function onEvent(e) {
  if ((e.eventPhase === 1) === e.bubbles) return;
  for (let el = e.target, stop; el && el.nodeType === 1 && !stop; el = e.bubbles && el.parentElement) {
    for (const a of actions(el.getAttribute('data-action') || '')) {
      const o = a.opts;
      if ((a.ev || defaultEvent(el)) !== e.type || (a.filter && a.filter !== combo(e, alias(e.key || ''))) ||
          (o.includes('self') && e.target !== el)) continue;
      // Defaults that would leave the page being updated are prevented.
      if (o.includes('prevent') || e.type === 'submit' || (e.type === 'click' && (el.tagName === 'A'
        ? /^#?$/.test(el.getAttribute('href') || '') : el.form && SUBMIT.test(el.type)))) e.preventDefault();
      if (o.includes('stop')) { e.stopPropagation(); stop = true; }
      trigger(el, e);
    }
  }
}
const timers = new WeakMap(), lastSent = new WeakMap();
function trigger(el, e) {
  const ds = el.dataset, fn = ds.liveviewFunction, wait = +ds.liveviewDebounce, gap = +ds.liveviewThrottle;
  // Values are read when sending: a debounced input sends its final value.
  const go = () => sendFrom(el, fn, e.type, e.submitter);
  if (!fn) warn('data-action without data-liveview-function:', el);
  else if (wait > 0) { clearTimeout(timers.get(el)); timers.set(el, setTimeout(go, wait)); }
  else if (!(Date.now() - (lastSent.get(el) || 0) < gap)) { lastSent.set(el, Date.now()); go(); }
}

// -- payloads (without prototype: a field may be named "__proto__")
const put = (o, k, v) => { o[k] = k in o ? [].concat(o[k], v) : v; };
function sendFrom(el, fn, type, submitter) {
  const data = Object.create(null), form = Object.create(null), f = formOf(el);
  for (const k in el.dataset) if (!/^(action|controller|liveview[A-Z].*)$/.test(k)) data[k] = el.dataset[k];
  // What a form submission would send (files aside), by name, else by id.
  for (const x of f ? f.elements : FIELD.test(el.tagName) ? [el] : []) {
    const key = x.name || x.id, t = x.type;
    if (key && FIELD.test(x.tagName) && !x.matches(':disabled') && !/^(submit|button|reset|image|file)$/.test(t) &&
        (x.checked || !/^(checkbox|radio)$/.test(t))) {
      put(form, key, t === 'select-multiple' ? Array.from(x.selectedOptions, (o) => o.value) : x.value);
    }
  }
  if (submitter && submitter.name) put(form, submitter.name, submitter.value);
  const files = type === 'submit' || el.type === 'file' || SUBMIT.test(el.type) ? filesOf(f || el) : [];
  return files.length ? uploadThenSend(el, fn, data, form, type, files) : send(fn, data, form, el, type);
}

// -- sending; while disconnected, events wait in a bounded queue
let seq = 0, ws = null, queue = [];
function send(fn, data, form, el, type, uploaded) {
  const ev = { function: String(fn), data: data || {}, form: form || {}, lang: root.lang || undefined, room, ref: ++seq };
  if (uploaded) ev.uploads = uploaded;
  let text;
  try { text = JSON.stringify(ev); } catch (err) { return warn('cannot encode event', err); }
  if (el) busy(ev.ref, el, type);
  if (ws && ws.readyState === 1) ws.send(text);
  else if (queue.push([ev.ref, text]) > 100) { done(queue[0][0]); warn('offline queue full: dropped', queue.shift()); }
  return ev.ref; // never reused, so unique on every connection
}

// -- loading state, until a frame with the event's ref (or 30 s: Django
// LiveView's server never acknowledges)
const pending = new Map(), busyCount = new WeakMap(), swapping = new WeakSet();
const errorBoxes = new WeakMap(); // box -> `hidden` before it showed an error
function busy(ref, el, type) {
  const form = formOf(el), box = form && form.querySelector('[data-liveview-error]'), swapped = [];
  busyCount.set(el, (busyCount.get(el) || 0) + 1);
  el.setAttribute('aria-busy', 'true');
  el.classList.add('lv-busy');
  if (errorBoxes.has(box)) { box.textContent = ''; box.hidden = errorBoxes.get(box); errorBoxes.delete(box); }
  // disable-with: on the element, and on the buttons of a submitted form
  for (const b of el.tagName === 'FORM' ? [el, ...el.querySelectorAll('[data-liveview-disable-with]')] : [el]) {
    const text = b.dataset.liveviewDisableWith, prop = b.tagName === 'INPUT' ? 'value' : 'innerHTML';
    if (text == null || swapping.has(b)) continue;
    swapping.add(b);
    swapped.push([b, prop, b[prop], b.disabled, text]);
    b[prop === 'value' ? prop : 'textContent'] = text;
    b.disabled = true;
  }
  pending.set(ref, { el, form, swapped, submitted: type === 'submit' || SUBMIT.test(el.type) ? form : null,
    timer: setTimeout(() => done(ref), 30000) });
}
function done(ref) {
  const p = pending.get(ref), el = p && p.el;
  if (!p) return;
  pending.delete(ref);
  clearTimeout(p.timer);
  busyCount.set(el, busyCount.get(el) - 1);
  if (!busyCount.get(el)) { el.removeAttribute('aria-busy'); el.classList.remove('lv-busy'); }
  for (const [b, prop, old, disabled, text] of p.swapped) {
    swapping.delete(b);
    if (b[prop === 'value' ? prop : 'textContent'] === text) b[prop] = old; // unless re-rendered meanwhile
    if (b.disabled) b.disabled = disabled;
  }
  return p;
}

// -- incoming frames
let submitted = null; // the form whose submit the frame being applied answers
function onFrame(raw) {
  let f;
  try { f = JSON.parse(raw); } catch (err) { return warn('frame is not JSON:', String(raw).slice(0, 200)); }
  if (!f || typeof f !== 'object' || Array.isArray(f)) return warn('unexpected frame', f);
  if (f.upload != null) return onUploadFrame(f);
  // Loading state ends first, or a restored label would undo the patches.
  const p = done(f.ref), box = p && p.form && p.form.querySelector('[data-liveview-error]');
  if (f.error != null) {
    warn(f.error, f);
    if (emit('error', f, true) && box) {
      if (!errorBoxes.has(box)) errorBoxes.set(box, box.hidden);
      box.textContent = f.error;
      box.hidden = false;
    }
    return;
  }
  submitted = p && p.submitted;
  // A frame with a url is one history step, whichever of its patches carries
  // the url: saved before any of them, pushed after all of them, with the
  // regions of every target.
  const list = Array.isArray(f.patches) ? f.patches : [f], nav = list.filter((x) => x && x.url).pop();
  const regions = nav && list.filter((x) => x && x.target != null).map((x) => String(x.target));
  if (nav) snapshot(regions);
  for (const patch of list) applyPatch(patch, !!nav);
  if (nav) navigate(String(nav.url), regions);
  submitted = null;
  emit('patched', f);
}

function applyPatch(p, inFrame) {
  if (!p || typeof p !== 'object') return warn('bad patch', p);
  try {
    const sel = p.target != null ? String(p.target) : null, t = sel && $(sel);
    if (sel && !t) return warn('patch target not found:', sel);
    if (p.url && !inFrame) snapshot([sel]);
    if (t) change(t, p);
    if (p.title != null) doc.title = p.title;
    if (p.url && !inFrame) navigate(String(p.url), [sel]);
    // A new page starts at its top, as after a page load (and in Django LiveView).
    if (p.scrollTop || (p.url && t && p.html != null && !p.append && !p.prepend && !p.scroll)) scrollTo(0, 0);
    // Looked up after the change: the patch may have brought the element.
    const s = p.scroll && $(p.scroll);
    if (s) s.scrollIntoView(); else if (p.scroll) warn('scroll target not found:', p.scroll);
  } catch (err) {
    console.error('liveview: bad patch', p, err);
  }
}

// The DOM part of a patch. Precedence: remove, outer, append, prepend, html.
function change(t, p, noScripts) {
  if (p.remove) return drop(t);
  if (p.html == null) return;
  const [frag, scripts] = parse(String(p.html), p.outer ? t.parentNode : t), f = saveFocus();
  let el = t, scope = t;
  focused = f && f.a;
  try {
    if (p.outer) {
      const only = frag.children.length === 1 && frag.firstElementChild;
      scope = t.parentNode;
      if (only && only.tagName === t.tagName) { callCleanup(t); morphNode(t, only, true); }
      else { el = frag.firstElementChild || scope; cleanup(t); t.replaceWith(frag); }
    } else if (p.append || p.prepend) {
      // A child with the same id is updated and moved, not duplicated.
      let ref = p.prepend ? t.firstChild : null;
      for (const n of Array.from(frag.childNodes)) {
        const old = n.nodeType === 1 && n.id && doc.getElementById(n.id);
        if (old && old.parentNode === t) {
          morphNode(old, n);
          if (old === ref) ref = ref.nextSibling;
          t.insertBefore(old, ref);
        } else t.insertBefore(n, ref);
      }
    } else { callCleanup(t); morphChildren(t, frag); }
  } finally {
    focused = null;
  }
  restoreFocus(f);
  // Each script runs as a fresh <script> (so src, module and CSP nonce work)
  // with `el` and `this` bound to the patched element, as in Django LiveView.
  if (!noScripts) for (const old of scripts) {
    const s = doc.createElement('script');
    for (const a of old.attributes) s.setAttribute(a.name, a.value);
    s.nonce = old.nonce;
    s.lvEl = el;
    s.text = old.src || s.type === 'module' ? old.text
      : `(function(el){${old.text}\n}).call(document.currentScript.lvEl,document.currentScript.lvEl)`;
    (doc.head || root).append(s); // an inline script runs right here
    if (!s.src) s.remove();
  }
  hydrate(scope);
}

// Parses html in the context of ctx (SVG or HTML) and takes out the scripts
// to run, which parsing leaves inert.
function parse(html, ctx) {
  const tpl = doc.createElement('template'), scripts = [];
  const svg = ctx && ctx.namespaceURI === 'http://www.w3.org/2000/svg' && ctx.tagName !== 'foreignObject';
  tpl.innerHTML = svg ? `<svg>${html}</svg>` : html;
  const frag = svg ? doc.createDocumentFragment() : tpl.content;
  if (svg) frag.append(...tpl.content.firstChild.childNodes);
  for (const s of frag.querySelectorAll('script')) {
    if (/^(|module|.*(java|ecma)script)$/i.test((s.getAttribute('type') || '').trim())) { scripts.push(s); s.remove(); }
  }
  return [frag, scripts];
}

// Before elements leave: their __cleanup hooks, which patch scripts may set.
function callCleanup(el) {
  const c = el.__cleanup;
  if (typeof c !== 'function') return;
  delete el.__cleanup;
  try { c.call(el); } catch (err) { console.error('liveview: __cleanup failed', err); }
}
function cleanup(node) {
  if (node.nodeType === 1) for (const el of [node, ...node.querySelectorAll('*')]) {
    callCleanup(el);
    if (observedBy.has(el)) { observedBy.get(el).unobserve(el); observedBy.delete(el); }
  }
}
function drop(node) {
  const next = node.nextSibling;
  cleanup(node);
  node.remove();
  return next;
}

// -- morphing. Moving a node blurs it: the focused element gets its focus
// and selection back after a patch.
let focused = null;
function saveFocus() {
  const a = doc.activeElement;
  let sel;
  try { sel = a.selectionStart != null && [a.selectionStart, a.selectionEnd, a.selectionDirection]; } catch (e) { /* none */ }
  return a && a !== doc.body && { a, sel };
}
function restoreFocus(f) {
  if (!f || !f.a.isConnected || doc.activeElement === f.a) return;
  f.a.focus({ preventScroll: true });
  try { if (f.sel) f.a.setSelectionRange(...f.sel); } catch (e) { /* type without selection */ }
}

const keyed = (n) => n.nodeType === 1 && n.id !== '';
const same = (a, b) => a.nodeType === b.nodeType && (a.nodeType !== 1 || (a.tagName === b.tagName && a.id === b.id));
// An old sibling further on that n matches (the ones before were deleted);
// none if they rather match n's next siblings (n was inserted) or after a
// few tries (morphing stays linear). Keyed nodes still wanted are passed
// over: they move on their own turn.
function softMatch(cur, n, wanted) {
  let ahead = n.nextElementSibling, later = 0;
  for (let c = cur, k = 0; c && k < 24; c = c.nextSibling, k++) {
    if (keyed(c) && wanted.has(c.id)) continue;
    if (same(c, n)) return c;
    if (ahead && same(c, ahead) && (ahead = ahead.nextElementSibling, ++later > 1)) return;
  }
}
// Makes the children of `from` like those of `to` (consumed) in one pass:
// elements with an id match by id and move, never recreated; other nodes
// match an old node of the same type and tag.
function morphChildren(from, to) {
  const byId = new Map(), wanted = new Set();
  for (let c = from.firstElementChild; c; c = c.nextElementSibling) if (c.id) byId.set(c.id, c);
  for (let c = to.firstElementChild; c; c = c.nextElementSibling) if (c.id) wanted.add(c.id);
  let cur = from.firstChild;
  for (let n = to.firstChild, next, m; n; n = next) {
    next = n.nextSibling;
    m = null;
    while (cur && keyed(cur) && !wanted.has(cur.id)) cur = drop(cur); // gone, and in the way
    if (keyed(n)) {
      m = byId.get(n.id);
      if (m && m.tagName === n.tagName) byId.delete(n.id); else m = null;
    } else if (cur && same(cur, n)) m = cur;
    else if (cur && n.nodeType === 1 && (m = softMatch(cur, n, wanted))) {
      // Old nodes in between are gone, but not keyed ones still wanted:
      // then m moves ahead of them.
      while (cur !== m && !(keyed(cur) && wanted.has(cur.id))) cur = drop(cur);
    }
    if (!m) from.insertBefore(n, cur); // new; an old node it replaces goes later
    else {
      if (m === cur) cur = cur.nextSibling; else from.insertBefore(m, cur);
      morphNode(m, n);
    }
  }
  while (cur) cur = drop(cur);
}

function morphNode(o, n, top) {
  if (o.nodeType !== 1) { if (o.nodeValue !== n.nodeValue) o.nodeValue = n.nodeValue; return; }
  if (!top && o.hasAttribute('data-liveview-permanent')) return; // unless targeted
  // The focused field keeps its value, unless this answers a submit of its
  // form (that is how a server clears a form).
  const tag = o.tagName, keep = o === focused && !(submitted && o.form === submitted);
  for (const a of Array.from(o.attributes)) {
    if (!n.hasAttributeNS(a.namespaceURI, a.localName)) o.removeAttributeNS(a.namespaceURI, a.localName);
  }
  for (const a of n.attributes) {
    // A cloned Attr dodges setAttribute's name check (Alpine's @click fails it).
    if (o.getAttributeNS(a.namespaceURI, a.localName) !== a.value && !(keep && a.name === 'value')) o.setAttributeNode(a.cloneNode());
  }
  if (tag === 'TEMPLATE') { if (o.innerHTML !== n.innerHTML) o.innerHTML = n.innerHTML; return; }
  // Form state lives in properties; attributes only set it initially.
  if (!keep && tag === 'TEXTAREA') o.defaultValue = n.defaultValue;
  if (!keep && (tag === 'TEXTAREA' || tag === 'INPUT' && o.type !== 'file') && o.value !== n.value) o.value = n.value;
  if (!keep && tag === 'INPUT') o.checked = n.checked;
  if (tag === 'TEXTAREA') return;
  // A <select>'s choice, read before the new options move over.
  const sel = tag === 'SELECT' && (keep ? Array.from(o.options, (x) => x.selected && x.value) : Array.from(n.options, (x) => x.selected));
  morphChildren(o, n);
  if (sel) Array.from(o.options, (x, i) => { x.selected = keep ? sel.includes(x.value) : sel[i]; });
}

// -- on load and after patches: listen to the events data-action uses,
// observe intersections, and init / focus elements not seen before (nodes
// a morph keeps are not new).
const HYDRATE = '[data-action],[data-liveview-init],[data-liveview-focus],' +
  '[data-liveview-intersect-appear],[data-liveview-intersect-disappear]';
const seen = new WeakSet(), observers = new Map(), observedBy = new WeakMap(), visible = new WeakSet();
function hydrate(scope) {
  let toFocus;
  if (scope && scope.querySelectorAll) for (const el of [scope, ...scope.querySelectorAll(HYDRATE)]) {
    const ds = el.dataset;
    if (!el.matches || !el.matches(HYDRATE)) continue;
    for (const a of actions(el.getAttribute('data-action') || '')) listen(a.ev || defaultEvent(el));
    if ((ds.liveviewIntersectAppear || ds.liveviewIntersectDisappear) && !observedBy.has(el) && window.IntersectionObserver) {
      const th = Math.min(1, Math.max(0, parseFloat(ds.liveviewIntersectThreshold) || 0));
      if (!observers.has(th)) observers.set(th, new IntersectionObserver((list) => list.forEach((en) => intersect(en, th)), { threshold: th }));
      observers.get(th).observe(el);
      observedBy.set(el, observers.get(th));
    }
    if (seen.has(el)) continue;
    seen.add(el);
    if (ds.liveviewInit) sendFrom(el, ds.liveviewInit, 'init');
    if (ds.liveviewFocus != null && ds.liveviewFocus !== 'false') toFocus = toFocus || el;
  }
  if (toFocus) toFocus.focus();
}
// Only changes count: starting out of view is not "disappearing".
function intersect(en, th) {
  const el = en.target, shown = th > 0 ? en.intersectionRatio >= th - 0.001 : en.isIntersecting;
  if (!el.isConnected || shown === visible.has(el)) return;
  if (shown) visible.add(el); else visible.delete(el);
  const fn = el.dataset[shown ? 'liveviewIntersectAppear' : 'liveviewIntersectDisappear'];
  if (fn) sendFrom(el, fn, 'intersect');
}

// -- keyboard maps: data-liveview-keyboard-map='{"ctrl+k": "search"}'
const maps = new Map();
doc.addEventListener('keydown', (e) => {
  const t = e.target, key = alias(e.key || ''), char = key.length === 1 || key === 'space';
  // Typing in a field is text, not shortcuts.
  if (!key || e.isComposing || MODS.includes(key) || (char && !e.ctrlKey && !e.altKey && !e.metaKey &&
      (t.isContentEditable || FIELD.test(t.tagName)))) return;
  for (const el of doc.querySelectorAll('[data-liveview-keyboard-map]')) {
    const json = el.dataset.liveviewKeyboardMap;
    if (!maps.has(json)) {
      const m = {};
      try { for (const [k, fn] of Object.entries(JSON.parse(json))) m[canon(k)] = fn; } catch (err) { warn('bad keyboard map', json); }
      maps.set(json, m);
    }
    // "?" is shift+/ on many layouts: so "?" (and "k" for K) match without shift.
    const m = maps.get(json), fn = m[combo(e, key)] || (char && m[combo(e, key, true)]);
    if (fn) { e.preventDefault(); sendFrom(el, fn, 'keydown'); }
  }
});

// -- history: the entry pushed for a patch's url keeps the HTML of the regions
// it changed and the title; the entry left is saved again first with their
// current HTML, so Back restores it. A reload is a plain GET.
let shown = where(); // the URL whose content the DOM shows
function saveState(push, lv, to) {
  try { history[push ? 'pushState' : 'replaceState']({ ...(push ? null : history.state), liveview: lv }, '', to); }
  catch (err) { warn('history:', err); } // too big, other origin, rate limited…
}
const regionsOf = (sels) => {
  const regions = {};
  for (const sel of new Set(sels)) { const el = sel && $(sel); if (el) regions[sel] = el.innerHTML; }
  return regions;
};
function snapshot(targets) {
  const regions = regionsOf([...Object.keys(history.state?.liveview?.regions || {}), ...targets]);
  saveState(false, { regions, title: doc.title }, location.href);
}
function navigate(to, targets) {
  try { to = new URL(to, location.href).href; } catch (err) { return warn('bad url', to); }
  // Pushing the URL already shown would only add a dead Back step.
  saveState(to !== location.href, { regions: regionsOf(targets), title: doc.title }, to);
  shown = where();
}
addEventListener('popstate', (e) => {
  const lv = e.state && e.state.liveview;
  if (lv) {
    for (const [sel, html] of Object.entries(lv.regions || {})) { const t = $(sel); if (t) change(t, { html }, true); }
    if (lv.title != null) doc.title = lv.title;
    shown = where();
  } else if (where() !== shown) location.reload(); // an entry we know nothing of: the server renders it
});

// -- uploads over the socket (docs/uploads.md): announce each file, stream
// it in binary chunks with at most WINDOW unacknowledged, then send the event
// naming the finished uploads.
const CHUNK = 65536, WINDOW = 4, uploads = new Map();
let uploadSeq = 0;
const filesOf = (scope) => (scope.tagName === 'INPUT' ? [scope] : Array.from(scope.elements || []))
  .filter((x) => x.type === 'file' && x.name && !x.disabled && x.files && x.files.length);
const inScope = (input, attr) => (input.form || doc).querySelector(`[${attr}="${CSS.escape(input.name)}"]`);
async function uploadThenSend(el, fn, data, form, type, inputs) {
  const ids = {}, jobs = [], own = [], mark = -++uploadSeq; // a negative ref: loading state while uploading
  busy(mark, el, type);
  try {
    for (const input of inputs) {
      uploadError(input, '');
      const list = inScope(input, 'data-liveview-upload-list');
      if (list) list.textContent = '';
      input.classList.add('lv-uploading');
      for (const file of input.files) {
        const id = ++uploadSeq;
        (ids[input.name] = ids[input.name] || []).push(id);
        own.push(id);
        jobs.push(startUpload(id, fn, input, file, list));
      }
    }
    await Promise.all(jobs);
    done(mark);
    return send(fn, data, form, el, type, ids);
  } catch (err) {
    done(mark);
    for (const id of own) cancelUpload(id, err.message);
    const input = err.input || inputs[0];
    uploadError(input, err.message);
    emit('upload-error', { input, message: err.message });
  } finally {
    for (const input of inputs) input.classList.remove('lv-uploading');
  }
}
function startUpload(id, fn, input, file, list) {
  return new Promise((resolve, reject) => {
    if (!ws || ws.readyState !== 1) return reject(Object.assign(new Error('not connected'), { input }));
    let li;
    if (list) {
      li = doc.createElement('li');
      li.className = 'lv-upload';
      li.append(Object.assign(doc.createElement('span'), { textContent: file.name + ' ' }),
        Object.assign(doc.createElement('progress'), { max: file.size || 1, value: 0 }));
      list.append(li);
    }
    uploads.set(id, { id, file, input, li, socket: ws, sent: 0, acked: 0, pumping: false, resolve,
      reject: (message) => reject(Object.assign(new Error(message), { input })) });
    ws.send(JSON.stringify({ upload: { op: 'start', id, function: String(fn), field: input.name,
      name: file.name, type: file.type, size: file.size } }));
  });
}
async function pump(u) {
  if (u.pumping) return;
  u.pumping = true;
  try {
    while (uploads.get(u.id) === u && u.sent < u.file.size && u.sent - u.acked < WINDOW * CHUNK) {
      const end = Math.min(u.file.size, u.sent + CHUNK), body = await u.file.slice(u.sent, end).arrayBuffer();
      if (uploads.get(u.id) !== u || u.socket !== ws) return;
      const frame = new Uint8Array(12 + body.byteLength), view = new DataView(frame.buffer);
      view.setUint32(0, u.id);
      view.setBigUint64(4, BigInt(u.sent));
      frame.set(new Uint8Array(body), 12);
      ws.send(frame);
      u.sent = end;
    }
  } catch (err) {
    finishUpload(u, 'cannot read ' + u.file.name + ': ' + err.message);
  } finally {
    u.pumping = false;
  }
}
function onUploadFrame(f) {
  const u = uploads.get(typeof f.upload === 'object' ? f.upload.id : f.upload);
  if (!u) return;
  if (f.error != null) return finishUpload(u, String(f.error));
  const { status, received } = f.upload;
  if (received != null) { u.acked = received; progress(u); }
  if (status === 'ready') pump(u);
  else if (status === 'done') { u.acked = u.file.size; progress(u); finishUpload(u); }
  else if (received != null) pump(u);
}
function progress(u) {
  if (u.li) u.li.lastChild.value = u.acked;
  let total = 0, acked = 0;
  for (const x of uploads.values()) if (x.input === u.input) { total += x.file.size; acked += x.acked; }
  u.input.style.setProperty('--lv-upload-progress', total ? (acked / total).toFixed(3) : '1');
}
function finishUpload(u, error) {
  if (uploads.get(u.id) !== u) return;
  uploads.delete(u.id);
  if (u.li) u.li.classList.add(error ? 'lv-upload-failed' : 'lv-upload-done');
  if (error) u.reject(error); else u.resolve();
}
function cancelUpload(id, why) {
  const u = uploads.get(id);
  if (!u) return;
  if (ws && ws.readyState === 1) ws.send(JSON.stringify({ upload: { op: 'cancel', id } }));
  finishUpload(u, why || 'upload cancelled');
}
function abortUploads(why) {
  for (const u of Array.from(uploads.values())) finishUpload(u, why);
}
function uploadError(input, message) {
  let box = inScope(input, 'data-liveview-upload-error');
  if (!box && message) {
    box = input.nextElementSibling && input.nextElementSibling.classList.contains('lv-upload-error')
      ? input.nextElementSibling : doc.createElement('p');
    box.className = 'lv-upload-error';
    box.setAttribute('role', 'alert');
    input.after(box);
  }
  if (!box) return;
  box.textContent = message;
  box.hidden = !message;
}
// Cancel buttons and drop zones work by delegation, like actions.
doc.addEventListener('click', (e) => {
  const b = e.target.closest && e.target.closest('[data-liveview-upload-cancel]');
  if (!b) return;
  e.preventDefault();
  const scope = formOf(b) || doc;
  for (const u of Array.from(uploads.values())) if (scope === doc || u.input.form === scope) cancelUpload(u.id);
});
const dropZone = (e) => e.target.closest && e.target.closest('[data-liveview-upload-drop]');
for (const type of ['dragenter', 'dragover']) doc.addEventListener(type, (e) => {
  const z = dropZone(e);
  if (z) { e.preventDefault(); z.classList.add('lv-dragover'); }
});
doc.addEventListener('dragleave', (e) => { const z = dropZone(e); if (z && !z.contains(e.relatedTarget)) z.classList.remove('lv-dragover'); });
doc.addEventListener('drop', (e) => {
  const z = dropZone(e);
  if (!z) return;
  e.preventDefault();
  z.classList.remove('lv-dragover');
  const name = z.getAttribute('data-liveview-upload-drop');
  const input = (formOf(z) || doc).querySelector(`input[type=file][name="${CSS.escape(name)}"]`);
  if (!input || !e.dataTransfer || !e.dataTransfer.files.length) return warn('nothing to drop into', name);
  input.files = e.dataTransfer.files;
  input.dispatchEvent(new Event('change', { bubbles: true }));
});

// -- connection
let attempt = 0, retryTimer, sleepTimer, asleep = false, connected = false;
function connect() {
  let s;
  clearTimeout(retryTimer);
  retryTimer = 0;
  if (ws || asleep) return;
  try { s = ws = new WebSocket(url); } catch (err) { console.error('liveview: cannot connect', err); return retry(); }
  s.onopen = () => {
    attempt = 0;
    status(true);
    while (queue.length && s.readyState === 1) s.send(queue.shift()[1]);
  };
  s.onmessage = (e) => ws === s && onFrame(e.data);
  s.onclose = (e) => {
    if (ws !== s) return; // closed by sleep()
    ws = null;
    unanswered();
    abortUploads('the connection was lost');
    status(false);
    if (e.code === 1013) attempt = Math.max(attempt, 4); // server overloaded: back off more
    retry();
  };
}
// Any close but ours reconnects (1012 restart, lost network…), with jitter so
// a restarted server does not get all its clients at once.
function retry() {
  const d = Math.min(10000, 250 * 2 ** attempt);
  if (asleep || retryTimer) return;
  attempt = Math.min(attempt + 1, 16);
  retryTimer = setTimeout(connect, d / 2 + Math.random() * d / 2);
}
// Events sent on a closed socket will get no reply.
function unanswered() {
  const queued = new Set(queue.map((q) => q[0]));
  for (const ref of Array.from(pending.keys())) if (!queued.has(ref)) done(ref);
}
function status(on, quiet) {
  const was = connected, show = !on && !quiet, box = doc.getElementById('no-connection');
  connected = on;
  root.classList.toggle('lv-disconnected', show);
  if (box) {
    box.hidden = !show;
    box.style.display = show ? '' : 'none'; // `hidden` loses against CSS setting display
    box.classList.toggle('no-connection--show', show); // Django LiveView's classes
    box.classList.toggle('no-connection--hide', !show);
  }
  if (on !== was) emit(on ? 'connected' : 'disconnected');
}
// Quietly gives the socket back (tab hidden a while, page leaving).
function sleep() {
  const s = ws;
  asleep = true;
  ws = null;
  clearTimeout(retryTimer);
  retryTimer = 0;
  if (s) { s.close(1000); unanswered(); }
  status(false, true);
}
function wake() {
  asleep = false;
  if (!ws) { attempt = 0; connect(); } // also cuts a backoff delay short
}
doc.addEventListener('visibilitychange', () => {
  clearTimeout(sleepTimer);
  if (doc.hidden) sleepTimer = setTimeout(sleep, 60000); else wake();
});
addEventListener('pagehide', sleep); // no "disconnected" flash while leaving the page
addEventListener('pageshow', (e) => e.persisted && wake()); // back from the bfcache

// -- start
['click', 'submit', 'input', 'change', 'keydown'].forEach(listen);
window.liveview = {
  version: 1, room, url: url.href,
  applyPatch: (p) => applyPatch(p),
  send: (fn, data, form) => send(fn, data, form), // returns the event's ref
  // Morphs the content of `from` (element or selector) into html; runs no scripts.
  morph(from, html) {
    const t = typeof from === 'string' ? $(from) : from;
    if (t) change(t, { html }, true);
    return t;
  },
  get connected() { return connected; },
  get socket() { return ws; },
};
connect();
if (doc.readyState === 'loading') doc.addEventListener('DOMContentLoaded', () => hydrate(doc)); else hydrate(doc);
})();
