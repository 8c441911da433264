
// A patch's url pushes an entry with the HTML of the regions it changed; the
// entry left is saved first, so Back restores it.
let shownPath = currentPath(); // the URL whose content the DOM shows
function saveState(push, state, to) {
  try {
    history[push ? 'pushState' : 'replaceState']({ ...(push ? null : history.state), liveview: state }, '', to);
  } catch (err) { warn('history:', err); } // too big, other origin, rate limited…
}
function regionsOf(selectors) {
  const regions = {};
  for (const selector of new Set(selectors)) {
    const el = selector && find(selector);
    if (el) regions[selector] = el.innerHTML;
  }
  return regions;
}
function snapshot(targets) {
  const regions = regionsOf([...Object.keys(history.state?.liveview?.regions || {}), ...targets]);
  saveState(false, { regions, title: doc.title }, location.href);
}
function navigate(to, targets) {
  try { to = new URL(to, location.href).href; } catch (err) { return warn('bad url', to); }
  // Pushing the URL already shown would only add a dead Back step.
  saveState(to !== location.href, { regions: regionsOf(targets), title: doc.title }, to);
  shownPath = currentPath();
}
addEventListener('popstate', (e) => {
  const state = e.state?.liveview;
  if (state) {
    for (const [selector, html] of Object.entries(state.regions || {})) {
      const target = find(selector);
      if (target) change(target, { html }, { withScripts: false });
    }
    if (state.title != null) doc.title = state.title;
    shownPath = currentPath();
  } else if (currentPath() !== shownPath) location.reload(); // an entry we know nothing of: the server renders it
});
