
// Filters (keydown.esc) and keyboard maps ("ctrl+k") share one spelling.
const MODIFIERS = ['ctrl', 'alt', 'meta', 'shift'];
const KEY_ALIASES = { escape: 'esc', ' ': 'space', control: 'ctrl', cmd: 'meta', command: 'meta', option: 'alt', return: 'enter' };
function keyName(key) {
  const name = key.toLowerCase().replace(/^arrow/, '').replace(/^page(up|down)$/, 'page_$1');
  return KEY_ALIASES[name] || name;
}
function canonicalCombo(spec) {
  const keys = spec.split('+').map(keyName);
  return [...MODIFIERS.filter((mod) => keys.includes(mod)), ...keys.filter((key) => !MODIFIERS.includes(key))].join('+');
}
const eventCombo = (e, key, ignoreShift) =>
  [...MODIFIERS.filter((mod) => e[mod + 'Key'] && !(ignoreShift && mod === 'shift')), key].filter(Boolean).join('+');

const keyboardMaps = new Map();
function keyboardMap(json) {
  if (!keyboardMaps.has(json)) {
    const map = {};
    try {
      for (const [combo, fn] of Object.entries(JSON.parse(json))) map[canonicalCombo(combo)] = fn;
    } catch (err) { warn('bad keyboard map', json); }
    keyboardMaps.set(json, map);
  }
  return keyboardMaps.get(json);
}
doc.addEventListener('keydown', (e) => {
  const target = e.target, key = keyName(e.key || ''), printable = key.length === 1 || key === 'space';
  if (!key || e.isComposing || MODIFIERS.includes(key)) return;
  // Typing in a field is text, not shortcuts.
  if (printable && !e.ctrlKey && !e.altKey && !e.metaKey && (target.isContentEditable || FIELD.test(target.tagName))) return;
  for (const el of doc.querySelectorAll('[data-liveview-keyboard-map]')) {
    const map = keyboardMap(el.dataset.liveviewKeyboardMap);
    // "?" is shift+/ on many layouts: "?" (and "k" for K) match without shift.
    const fn = map[eventCombo(e, key)] || (printable && map[eventCombo(e, key, true)]);
    if (fn) { e.preventDefault(); sendFrom(el, fn, 'keydown'); }
  }
});
