
function onFrame(raw) {
  let frame;
  try { frame = JSON.parse(raw); } catch (err) { frame = raw; }
  if (frame?.session) return onSession(frame.session);
  framesSeen++;
  if (!token) sent.clear(); // no session
  if (held) held.push(frame); else apply(frame);
}
function apply(frame) {
  if (!frame || typeof frame !== 'object' || Array.isArray(frame)) return warn('unexpected frame', frame);
  if (frame.upload != null) return onUploadFrame(frame);
  sent.delete(frame.ref);
  if (frame.event != null) return pushed(frame);
  // Loading state ends first, or a restored label would undo the patches.
  const answered = done(frame.ref, frame);
  if (frame.error != null) return showError(frame, answered?.form?.querySelector(ERROR_BOX));
  const submitted = answered?.submitted;
  // A frame with a url is one history step, whichever patch carries it.
  const patches = Array.isArray(frame.patches) ? frame.patches : [frame];
  const nav = patches.filter((patch) => patch && patch.url).pop();
  const regions = nav && patches.filter((patch) => patch && patch.target != null).map((patch) => String(patch.target));
  if (nav) snapshot(regions);
  const apply = () => {
    for (const patch of patches) applyPatch(patch, { inFrame: !!nav, submitted });
    if (nav) navigate(String(nav.url), regions);
    emit('patched', frame);
  };
  // Opt-in, where the browser has it: <html data-liveview-view-transition>.
  if (nav && doc.startViewTransition && root.hasAttribute('data-liveview-view-transition')) doc.startViewTransition(apply);
  else apply();
}
function showError(frame, box) {
  warn(frame.error, frame);
  if (emit('error', frame, true) && box) {
    if (!errorBoxes.has(box)) errorBoxes.set(box, box.hidden);
    box.textContent = frame.error;
    box.hidden = false;
  }
}

function applyPatch(patch, { inFrame = false, submitted = null } = {}) {
  if (!patch || typeof patch !== 'object') return warn('bad patch', patch);
  try {
    const selector = patch.target != null ? String(patch.target) : null, target = selector && find(selector);
    if (selector && !target) return warn('patch target not found:', selector);
    const ownStep = patch.url && !inFrame;
    if (ownStep) snapshot([selector]);
    if (target) change(target, patch, { submitted });
    if (patch.title != null) doc.title = patch.title;
    if (ownStep) navigate(String(patch.url), [selector]);
    // A new page starts at its top, as after a page load.
    if (patch.scrollTop || (patch.url && target && patch.html != null && !patch.append && !patch.prepend && !patch.scroll)) scrollTo(0, 0);
    // Looked up after the change: the patch may have brought the element.
    const scrollTarget = patch.scroll && find(patch.scroll);
    if (scrollTarget) scrollTarget.scrollIntoView();
    else if (patch.scroll) warn('scroll target not found:', patch.scroll);
  } catch (err) { fail('bad patch', patch, err); }
}

// The DOM part of a patch: remove, else outer, append, prepend or html.
function change(target, patch, { submitted = null, withScripts = true } = {}) {
  if (patch.remove) return drop(target);
  if (patch.html == null) return;
  const [fragment, scripts] = parse(String(patch.html), patch.outer ? target.parentNode : target), focus = saveFocus();
  const state = { focused: focus?.el, submitted }, updated = updating(target);
  let scriptEl = target, scope = target;
  if (patch.outer) {
    const only = fragment.children.length === 1 && fragment.firstElementChild;
    scope = target.parentNode;
    if (only && only.tagName === target.tagName) {
      callCleanup(target);
      morphNode(target, only, state, true);
    } else {
      scriptEl = fragment.firstElementChild || scope;
      cleanup(target);
      target.replaceWith(fragment);
    }
  } else if (patch.append || patch.prepend) {
    insertChildren(target, fragment, patch.prepend, state);
  } else {
    callCleanup(target);
    morphChildren(target, fragment, state);
  }
  restoreFocus(focus);
  // Back and Forward replay scripts, but not data-liveview-replay="false" ones.
  if (withScripts) runScripts(scripts.filter((script) => withScripts === true || script.dataset.liveviewReplay !== 'false'), scriptEl);
  target.lvScripts = scripts;
  updated();
  hydrate(scope);
}
// A child with the same id is updated and moved, not duplicated.
function insertChildren(parent, fragment, atStart, state) {
  let before = atStart ? parent.firstChild : null;
  for (const node of Array.from(fragment.childNodes)) {
    const old = node.nodeType === 1 && node.id && doc.getElementById(node.id);
    if (old && old.parentNode === parent) {
      morphNode(old, node, state);
      if (old === before) before = before.nextSibling;
      parent.insertBefore(old, before);
    } else parent.insertBefore(node, before);
  }
}
// A fresh <script>, so src, module and CSP nonce work; `el` and `this` are
// the patched element, as in Django LiveView.
function runScripts(scripts, el) {
  for (const old of scripts) {
    const script = doc.createElement('script');
    for (const attr of old.attributes) script.setAttribute(attr.name, attr.value);
    script.nonce = old.nonce;
    script.lvEl = el;
    script.text = old.src || script.type === 'module' ? old.text
      : `(function(el){${old.text}\n}).call(document.currentScript.lvEl,document.currentScript.lvEl)`;
    (doc.head || root).append(script); // an inline script runs right here
    if (!script.src) script.remove();
  }
}
// Parsing leaves scripts inert: they are taken out to be run.
function parse(html, context) {
  const template = doc.createElement('template'), scripts = [];
  const svg = context?.namespaceURI === 'http://www.w3.org/2000/svg' && context.tagName !== 'foreignObject';
  template.innerHTML = svg ? `<svg>${html}</svg>` : html;
  const fragment = svg ? doc.createDocumentFragment() : template.content;
  if (svg) fragment.append(...template.content.firstChild.childNodes);
  for (const script of fragment.querySelectorAll('script')) {
    if (/^(|module|.*(java|ecma)script)$/i.test((script.getAttribute('type') || '').trim())) {
      scripts.push(script);
      script.remove();
    }
  }
  return [fragment, scripts];
}
