
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
// Every socket the page opens logs what it sends, from its first frame: a
// WebSocket the long-poll transport hands over too (no 'connected' then).
function logSends(ws) {
  if (!ws || ws.logged) return;
  const write = ws.send;
  ws.logged = true;
  ws.send = (data) => { if (debugging) console.debug('liveview →', data); write.call(ws, data); };
}
const connectUnlogged = connect;
connect = (given) => { logSends(given); connectUnlogged(given); logSends(socket); };
