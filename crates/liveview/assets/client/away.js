
// data-liveview-click-away="fn" (and -js="commands"): a click outside the
// element while it is shown.
doc.addEventListener('click', (e) => {
  for (const el of findAll('[data-liveview-click-away],[data-liveview-click-away-js]')) {
    if (!el.contains(e.target) && el.getClientRects().length) act(el, el.dataset.liveviewClickAway, el.dataset.liveviewClickAwayJs, 'click');
  }
});
