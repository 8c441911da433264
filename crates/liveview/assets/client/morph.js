
// __cleanup hooks (set by patch scripts) run before elements leave.
function callCleanup(el) {
  const hook = el.__cleanup;
  if (typeof hook !== 'function') return;
  delete el.__cleanup;
  try { hook.call(el); } catch (err) { fail('__cleanup failed', err); }
}
function cleanup(node) {
  if (node.nodeType === 1) for (const el of [node, ...node.querySelectorAll('*')]) {
    callCleanup(el);
    unhook(el);
    if (observedBy.has(el)) { observedBy.get(el).unobserve(el); observedBy.delete(el); }
  }
}
function drop(node) {
  const next = node.nextSibling;
  cleanup(node);
  node.remove();
  return next;
}

// Moving a node blurs it, so focus and selection are restored.
function saveFocus() {
  const el = doc.activeElement;
  let selection;
  try {
    selection = el.selectionStart != null && [el.selectionStart, el.selectionEnd, el.selectionDirection];
  } catch (err) { /* none */ }
  return el && el !== doc.body && { el, selection };
}
function restoreFocus(focus) {
  if (!focus || !focus.el.isConnected || doc.activeElement === focus.el) return;
  focus.el.focus({ preventScroll: true });
  try {
    if (focus.selection) focus.el.setSelectionRange(...focus.selection);
  } catch (err) { /* type without selection */ }
}

const keyed = (node) => node.nodeType === 1 && node.id !== '';
const same = (node, other) => node.nodeType === other.nodeType &&
  (node.nodeType !== 1 || (node.tagName === other.tagName && node.id === other.id));
// An old sibling further on that matches `node` (the ones before were
// deleted); none if they match node's next siblings (node is new) or after a
// few tries (morphing stays linear). Keyed nodes still wanted move later.
function softMatch(cur, node, wanted) {
  let ahead = node.nextElementSibling, aheadMatched = 0;
  for (let old = cur, tries = 0; old && tries < 24; old = old.nextSibling, tries++) {
    if (keyed(old) && wanted.has(old.id)) continue;
    if (same(old, node)) return old;
    if (ahead && same(old, ahead)) { ahead = ahead.nextElementSibling; if (++aheadMatched > 1) return; }
  }
}
// One pass; `to` is consumed. Elements with an id move, never recreated;
// other nodes match an old node of the same type and tag.
function morphChildren(from, to, state) {
  const byId = new Map(), wanted = new Set();
  for (let child = from.firstElementChild; child; child = child.nextElementSibling) if (child.id) byId.set(child.id, child);
  for (let child = to.firstElementChild; child; child = child.nextElementSibling) if (child.id) wanted.add(child.id);
  let cur = from.firstChild;
  for (let node = to.firstChild, next; node; node = next) {
    next = node.nextSibling;
    let match = null;
    while (cur && keyed(cur) && !wanted.has(cur.id)) cur = drop(cur); // gone, and in the way
    if (keyed(node)) {
      match = byId.get(node.id);
      if (match && match.tagName === node.tagName) byId.delete(node.id); else match = null;
    } else if (cur && same(cur, node)) match = cur;
    else if (cur && node.nodeType === 1) {
      match = softMatch(cur, node, wanted);
      // Skipped nodes are gone, but keyed ones still wanted stay.
      if (match) while (cur !== match && !(keyed(cur) && wanted.has(cur.id))) cur = drop(cur);
    }
    if (!match) from.insertBefore(node, cur); // new; an old node it replaces goes later
    else {
      if (match === cur) cur = cur.nextSibling; else from.insertBefore(match, cur);
      morphNode(match, node, state);
    }
  }
  while (cur) cur = drop(cur);
}

function morphNode(from, to, state, isTarget) {
  if (from.nodeType !== 1) { if (from.nodeValue !== to.nodeValue) from.nodeValue = to.nodeValue; return; }
  if (!isTarget && from.hasAttribute('data-liveview-permanent')) return; // unless targeted
  // The focused field keeps its value, unless this answers a submit of its
  // form (that is how a server clears a form).
  const tag = from.tagName, keep = from === state.focused && !(state.submitted && from.form === state.submitted);
  const ignored = (from.getAttribute('data-liveview-ignore-attrs') || '').split(/[\s,]+/);
  for (const attr of Array.from(from.attributes)) {
    if (!to.hasAttributeNS(attr.namespaceURI, attr.localName) && !ignored.includes(attr.name)) from.removeAttributeNS(attr.namespaceURI, attr.localName);
  }
  for (const attr of to.attributes) {
    // A cloned Attr dodges setAttribute's name check (Alpine's @click fails it).
    if (from.getAttributeNS(attr.namespaceURI, attr.localName) !== attr.value && !(keep && attr.name === 'value') && !ignored.includes(attr.name)) {
      from.setAttributeNode(attr.cloneNode());
    }
  }
  restick(from);
  if (tag === 'TEMPLATE') { if (from.innerHTML !== to.innerHTML) from.innerHTML = to.innerHTML; return; }
  // Form state lives in properties; attributes only set it initially.
  if (!keep && tag === 'TEXTAREA') from.defaultValue = to.defaultValue;
  if (!keep && (tag === 'TEXTAREA' || tag === 'INPUT' && from.type !== 'file') && from.value !== to.value) from.value = to.value;
  if (!keep && tag === 'INPUT') from.checked = to.checked;
  if (tag === 'TEXTAREA') return;
  // A <select>'s choice, read before the new options move over.
  const selected = tag === 'SELECT' &&
    (keep ? Array.from(from.options, (option) => option.selected && option.value) : Array.from(to.options, (option) => option.selected));
  morphChildren(from, to, state);
  if (selected) Array.from(from.options, (option, i) => { option.selected = keep ? selected.includes(option.value) : selected[i]; });
}
