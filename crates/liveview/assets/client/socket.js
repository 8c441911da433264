
let room = root.dataset.room || root.dataset.liveviewRoomUuid;
if (!room) {
  try { room = sessionStorage.getItem('liveview-room'); } catch (err) { /* storage disabled */ }
  // randomUUID needs a secure context, which plain-http LAN hosts are not
  room = room || (crypto.randomUUID ? crypto.randomUUID()
    : Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => (byte + 256).toString(16).slice(1)).join(''));
  try { sessionStorage.setItem('liveview-room', room); } catch (err) { /* this page only */ }
}
const url = new URL((root.dataset.liveviewUrl || DEFAULT_URL).replace('{room}', encodeURIComponent(room)), location.href);
url.protocol = url.protocol.replace(/^http/, 'ws');

let lastRef = 0, socket = null;
const queue = [];
const isOpen = () => socket?.readyState === SOCKET_OPEN;
function send(fn, data, fields, el, type, uploaded) {
  const message = { function: String(fn), data: data || {}, form: fields || {}, lang: root.lang || undefined, room, ref: ++lastRef };
  if (uploaded) message.uploads = uploaded;
  let text;
  try { text = JSON.stringify(message); } catch (err) { return warn('cannot encode event', err); }
  if (el) busy(message.ref, el, type, message);
  if (isOpen()) socket.send(text);
  else if (queue.push([message.ref, text]) > QUEUE_LIMIT) {
    done(queue[0][0]);
    warn('offline queue full: dropped', queue.shift());
  }
  return message.ref; // never reused, so unique on every connection
}

let attempt = 0, retryTimer = 0, sleepTimer, asleep = false, connected = false;
function connect() {
  clearTimeout(retryTimer);
  retryTimer = 0;
  if (socket || asleep) return;
  let ws;
  try { ws = socket = new WebSocket(url); } catch (err) { console.error('liveview: cannot connect', err); return retry(); }
  ws.onopen = () => {
    attempt = 0;
    showStatus(true);
    while (queue.length && ws.readyState === SOCKET_OPEN) ws.send(queue.shift()[1]);
  };
  ws.onmessage = (e) => {
    if (socket === ws) onFrame(e.data);
  };
  ws.onclose = (e) => {
    if (socket !== ws) return; // closed by sleep()
    socket = null;
    if (e.code === 4001) return e.reason ? location.assign(e.reason) : location.reload(); // session ended
    unanswered();
    abortUploads('the connection was lost');
    showStatus(false);
    if (e.code === CLOSE_TRY_AGAIN_LATER) attempt = Math.max(attempt, 4);
    retry();
  };
}
// Jitter: a restarted server does not get all its clients at once.
function retry() {
  const delay = Math.min(BACKOFF_MAX, BACKOFF_MIN * 2 ** attempt);
  if (asleep || retryTimer) return;
  attempt = Math.min(attempt + 1, 16);
  retryTimer = setTimeout(connect, delay / 2 + Math.random() * delay / 2);
}
// Events sent on a closed socket will get no reply.
function unanswered() {
  const queued = new Set(queue.map(([ref]) => ref));
  for (const ref of Array.from(pending.keys())) if (!queued.has(ref)) done(ref);
}
function showStatus(on, quiet) {
  const was = connected, show = !on && !quiet, box = doc.getElementById('no-connection');
  connected = on;
  root.classList.toggle('lv-disconnected', show);
  if (box) {
    box.hidden = !show;
    box.style.display = show ? '' : 'none'; // `hidden` loses against CSS setting display
    box.classList.toggle('no-connection--show', show); // Django LiveView's classes
    box.classList.toggle('no-connection--hide', !show);
  }
  if (on !== was) emit(on ? 'connected' : 'disconnected');
}
// Quietly gives the socket back (tab hidden, page leaving).
function sleep() {
  const ws = socket;
  asleep = true;
  socket = null;
  clearTimeout(retryTimer);
  retryTimer = 0;
  if (ws) { ws.close(CLOSE_NORMAL); unanswered(); }
  showStatus(false, true);
}
function wake() {
  asleep = false;
  if (!socket) { // also cuts a backoff delay short
    attempt = 0;
    connect();
  }
}
doc.addEventListener('visibilitychange', () => {
  clearTimeout(sleepTimer);
  if (doc.hidden) sleepTimer = setTimeout(sleep, SLEEP_AFTER); else wake();
});
addEventListener('pagehide', sleep); // no "disconnected" flash while leaving the page
addEventListener('pageshow', (e) => {
  if (e.persisted) wake(); // back from the bfcache
});
