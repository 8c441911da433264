
// At once when sent: the sender's data-liveview-optimistic commands, and
// copies of the <template data-liveview-optimistic="#list"> in it (or its
// form) appended there, {field} in their text replaced by the sent field.
// The copies stand in until the answer; the commands stay unless no
// answer, or an error, comes (then the answer's patches decide).
function sending(entry, message) {
  const el = entry.el, log = [], copies = [];
  run(el.dataset.liveviewOptimistic, el, log);
  for (const template of (entry.form || el).querySelectorAll('template[data-liveview-optimistic]')) {
    const copy = template.content.cloneNode(true), text = doc.createTreeWalker(copy, 4);
    while (text.nextNode()) text.currentNode.data = text.currentNode.data.replace(/\{(\w+)\}/g, (_, key) => message.form[key] ?? '');
    copies.push(...copy.childNodes);
    find(template.dataset.liveviewOptimistic)?.append(copy);
  }
  entry.then.push((frame) => {
    copies.forEach((node) => node.remove());
    undo(log, !isAnswer(frame));
  });
  dirtySent(entry);
  runAfter(entry);
}
