
// After a reconnect, a page whose data-liveview-track assets (src or href)
// the server now renders differently is reloaded: a deploy happened.
const tracked = (page) => Array.from(page.querySelectorAll('[data-liveview-track]'), (el) => el.src || el.href).join(' ');
on('connected', () => dropped && find('[data-liveview-track]') && fetch(location.href)
  .then((response) => response.text())
  .then((html) => tracked(new DOMParser().parseFromString(html, 'text/html')) !== tracked(doc) && location.reload())
  .catch(() => {}));
