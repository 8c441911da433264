
const doc = document, root = doc.documentElement;
const warn = (...args) => console.warn('liveview:', ...args);
const fail = (...args) => console.error('liveview:', ...args);
const emit = (name, detail, cancelable) => doc.dispatchEvent(new CustomEvent('liveview:' + name, { detail, cancelable }));
const findAll = (selector) => {
  try { return doc.querySelectorAll(selector); } catch (err) { warn('bad selector', selector); return []; }
};
const find = (selector) => findAll(selector)[0];
const on = (name, listener) => doc.addEventListener('liveview:' + name, listener);
const formOf = (el) => el.tagName === 'FORM' ? el : el.form || el.closest('form');
const FIELD = /^(INPUT|SELECT|TEXTAREA)$/, SUBMIT = /^(submit|image)$/;
const currentPath = () => location.pathname + location.search;
