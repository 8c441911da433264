
// Until the answer, whose patches then decide; undone if none comes: the
// sender's data-liveview-optimistic commands, and copies of the <template
// data-liveview-optimistic="#list"> in it (or its form), appended there
// with {field} replaced in their text.
function sending(entry, message) {
  const el = entry.el, log = [];
  run(el.dataset.liveviewOptimistic, el, log);
  for (const template of (entry.form || el).querySelectorAll('template[data-liveview-optimistic]')) {
    const copy = template.content.cloneNode(true), nodes = [...copy.childNodes], text = doc.createTreeWalker(copy, 4);
    while (text.nextNode()) text.currentNode.data = text.currentNode.data.replace(/\{(\w+)\}/g, (_, key) => message.form[key] ?? '');
    find(template.dataset.liveviewOptimistic)?.append(copy);
    log.push((dom) => dom && nodes.forEach((node) => node.remove()));
  }
  entry.then.push((frame) => undo(log, !frame || frame.error != null));
  sent(entry);
}
