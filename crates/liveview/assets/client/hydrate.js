
// Nodes a morph keeps are not new: not initialised or focused again.
const HYDRATE = '[data-action],[data-liveview-init],[data-liveview-focus],' +
  '[data-liveview-intersect-appear],[data-liveview-intersect-disappear]';
const seen = new WeakSet(), observers = new Map(), observedBy = new WeakMap(), visible = new WeakSet();
function hydrate(scope) {
  let toFocus;
  if (!scope?.querySelectorAll) return;
  for (const el of [scope, ...scope.querySelectorAll(HYDRATE)]) {
    if (!el.matches?.(HYDRATE)) continue;
    const dataset = el.dataset;
    for (const action of actionsOf(el)) listen(action.event || defaultEvent(el));
    if ((dataset.liveviewIntersectAppear || dataset.liveviewIntersectDisappear) && !observedBy.has(el) && window.IntersectionObserver) {
      observe(el, Math.min(1, Math.max(0, parseFloat(dataset.liveviewIntersectThreshold) || 0)));
    }
    if (seen.has(el)) continue;
    seen.add(el);
    if (dataset.liveviewInit) sendFrom(el, dataset.liveviewInit, 'init');
    if (dataset.liveviewFocus != null && dataset.liveviewFocus !== 'false') toFocus = toFocus || el;
  }
  if (toFocus) toFocus.focus();
  hookUp(scope);
  dirtyIn(scope);
}
function observe(el, threshold) {
  let observer = observers.get(threshold);
  if (!observer) {
    observer = new IntersectionObserver((entries) => entries.forEach((entry) => intersect(entry, threshold)), { threshold });
    observers.set(threshold, observer);
  }
  observer.observe(el);
  observedBy.set(el, observer);
}
// Only changes count: starting out of view is not "disappearing".
function intersect(entry, threshold) {
  const el = entry.target, shown = threshold > 0 ? entry.intersectionRatio >= threshold - 0.001 : entry.isIntersecting;
  if (!el.isConnected || shown === visible.has(el)) return;
  if (shown) visible.add(el); else visible.delete(el);
  const fn = el.dataset[shown ? 'liveviewIntersectAppear' : 'liveviewIntersectDisappear'];
  if (fn) sendFrom(el, fn, 'intersect');
}
