
const doc = document, root = doc.documentElement;
const warn = (...args) => console.warn('liveview:', ...args);
const emit = (name, detail, cancelable) => doc.dispatchEvent(new CustomEvent('liveview:' + name, { detail, cancelable }));
const find = (selector) => {
  try { return doc.querySelector(selector); } catch (err) { warn('bad selector', selector); }
};
const formOf = (el) => el.tagName === 'FORM' ? el : el.form || el.closest('form');
const FIELD = /^(INPUT|SELECT|TEXTAREA)$/, SUBMIT = /^(submit|image)$/;
const currentPath = () => location.pathname + location.search;
