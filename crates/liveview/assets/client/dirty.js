
// <form data-liveview-dirty>: lv-dirty while its fields differ from those it
// last sent, or the answer left; ="guard" also asks before leaving then.
const clean = new WeakMap(), formState = (form) => JSON.stringify(fieldsOf(form));
function dirty(form, state) {
  if (!form?.matches('[data-liveview-dirty]')) return;
  if (state || !clean.has(form)) clean.set(form, state || formState(form));
  stick(form, '.lv-dirty', clean.get(form) === formState(form) ? null : '');
  // Listened to only once needed: the listener costs some browsers the back/forward cache.
  if (form.dataset.liveviewDirty === 'guard') addEventListener('beforeunload', guard);
}
const guard = (e) => find('[data-liveview-dirty=guard].lv-dirty') && e.preventDefault();
const dirtyIn = (scope) => scope.querySelectorAll('form[data-liveview-dirty]').forEach((form) => dirty(form));
function dirtySent({ form, then }) {
  const state = form && formState(form);
  dirty(form, state);
  // Unchanged since sent: the answer's fields, once patched, are clean.
  then.push(() => clean.get(form) === state && formState(form) === state && queueMicrotask(() => dirty(form, formState(form))));
}
['input', 'change'].forEach((type) => doc.addEventListener(type, (e) => e.target.closest && dirty(formOf(e.target))));
