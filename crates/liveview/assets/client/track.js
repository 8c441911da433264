
// After a reconnect, a page whose data-liveview-track assets (src or href)
// the server now renders differently from those the page was loaded with is
// reloaded: a deploy happened. Compared with what the page loaded, not with
// the DOM now: a refused resume's refetch may have morphed the new URLs in
// first.
const tracked = (page) => Array.from(page.querySelectorAll('[data-liveview-track]'), (el) => el.src || el.href).join(' ');
let loaded; // read at the first connect, when the page is parsed
on('connected', () => {
  loaded ??= tracked(doc);
  if (dropped && loaded) fetch(location.href)
    .then((response) => response.text())
    .then((html) => tracked(new DOMParser().parseFromString(html, 'text/html')) !== loaded && location.reload())
    .catch(() => {});
});
