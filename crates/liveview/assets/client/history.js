
// A patch's url pushes an entry with the HTML of the regions it changed; the
// entry left is saved first, so Back restores it.
let shownPath = currentPath(); // the URL whose content the DOM shows
function saveState(push, state, to) {
  try {
    history[push ? 'pushState' : 'replaceState']({ ...(push ? null : history.state), liveview: state }, '', to);
  } catch (err) { warn('history:', err); } // too big, other origin, rate limited…
}
// A region's HTML (with the scripts its last patch ran) and the values of
// its fields, not passwords, files nor hidden ones (null).
const fieldsIn = (el) => el.querySelectorAll('input,select,textarea');
const valueOf = (field) => /^(password|file|hidden)$/.test(field.type) ? null
  : /^(checkbox|radio)$/.test(field.type) ? field.checked : field.value;
const setValue = (field, value) => value != null && (field[typeof value === 'boolean' ? 'checked' : 'value'] = value);
function regionsOf(selectors) {
  const regions = {}, fields = {};
  for (const selector of new Set(selectors)) {
    const el = selector && find(selector);
    if (el) {
      regions[selector] = el.innerHTML + (el.lvScripts || []).map((script) => script.outerHTML).join('');
      fields[selector] = Array.from(fieldsIn(el), valueOf);
    }
  }
  return { regions, fields, title: doc.title, scroll: scrollY };
}
function snapshot(targets) {
  history.scrollRestoration = 'manual'; // for this entry and those pushed from it: restored below
  saveState(false, regionsOf([...Object.keys(history.state?.liveview?.regions || {}), ...targets]), location.href);
}
function navigate(to, targets) {
  try { to = new URL(to, location.href).href; } catch (err) { return warn('bad url', to); }
  // Pushing the URL already shown would only add a dead Back step.
  saveState(to !== location.href, regionsOf(targets), to);
  shownPath = currentPath();
}
addEventListener('popstate', (e) => {
  const state = e.state?.liveview;
  if (state) {
    for (const [selector, html] of Object.entries(state.regions || {})) {
      const target = find(selector), values = state.fields?.[selector] || [];
      if (!target) continue;
      change(target, { html }, { withScripts: 'replay' });
      fieldsIn(target).forEach((field, i) => setValue(field, values[i]));
    }
    if (state.title != null) doc.title = state.title;
    if (state.scroll != null) scrollTo(0, state.scroll);
    shownPath = currentPath();
  } else if (currentPath() !== shownPath) location.reload(); // an entry we know nothing of: the server renders it
});
