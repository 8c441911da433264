
// Development aids, kept for the tab (sessionStorage): liveview.debug(true)
// logs every frame, liveview.latency(ms) delays every frame received.
const recall = (key) => {
  try { return JSON.parse(sessionStorage.getItem('liveview-' + key)); } catch (err) { /* storage disabled */ }
};
const remember = (key, value) => {
  try { sessionStorage.setItem('liveview-' + key, JSON.stringify(value)); } catch (err) { /* this page only */ }
  return value;
};
let debugging = recall('debug'), delay = recall('latency');
const receive = onFrame;
onFrame = (raw) => {
  if (debugging) console.debug('liveview ←', raw);
  if (delay > 0) setTimeout(receive, delay, raw); else receive(raw);
};
on('connected', () => {
  const ws = window.liveview.socket, write = ws.send;
  ws.send = (data) => { if (debugging) console.debug('liveview →', data); write.call(ws, data); };
});
