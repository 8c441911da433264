
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

// A version-2 session's token (in memory: a reload starts afresh), the
// frames seen on it, the events sent and not answered (ref -> text).
let lastRef = 0, socket = null, ready = false, token = null, framesSeen = 0;
const queue = [], sent = new Map();
const isOpen = () => ready && socket?.readyState === SOCKET_OPEN;
function send(fn, data, fields, el, type, uploaded) {
  const message = { function: String(fn), data: data || {}, form: fields || {}, lang: root.lang || undefined, room, ref: ++lastRef };
  if (uploaded) message.uploads = uploaded;
  let text;
  try { text = JSON.stringify(message); } catch (err) { return warn('cannot encode event', err); }
  if (el) busy(message.ref, el, type, message);
  if (queue.push([message.ref, text]) > QUEUE_LIMIT) {
    done(queue[0][0]);
    warn('offline queue full: dropped', queue.shift());
  }
  flush();
  return message.ref; // never reused, so unique on every connection
}
function flush() {
  while (queue.length && isOpen()) {
    const [ref, text] = queue.shift();
    sent.set(ref, text);
    socket.send(text);
  }
}

let attempt = 0, retryTimer = 0, sleepTimer, asleep = false, connected = false;
const resumeFrame = () => JSON.stringify({ resume: { token, seen: framesSeen } });
// `given`: a WebSocket the long-poll transport opened, to go on with.
function connect(given) {
  clearTimeout(retryTimer);
  retryTimer = 0;
  if (socket || asleep) return;
  if (given) longPoll = false;
  else if (longPoll && !LongPoll) return loadLongPoll();
  let ws, heard = false;
  ready = false;
  try {
    ws = socket = given || (longPoll ? new LongPoll(url, token && resumeFrame(), config)
      : new WebSocket(token ? url + '&resume=1' : url));
  } catch (err) { fail('cannot connect', err); return retry(); }
  if (!longPoll && !wsWorked && TRANSPORT == 'auto') fallbackTimer ||= setTimeout(fallBack, +config.liveviewFallbackAfter || FALLBACK_AFTER);
  ws.onopen = () => {
    attempt = 0;
    showStatus(true);
    if (token) ws.hello || ws.send(resumeFrame()); // events wait for onSession; long-poll opened with it
    else { ready = true; flush(); }
  };
  ws.onmessage = (e) => {
    if (socket !== ws) return;
    heard = true;
    wsWorked ||= !longPoll;
    clearTimeout(fallbackTimer);
    fallbackTimer = unheard = 0;
    onFrame(e.data);
  };
  ws.onclose = (e) => {
    if (socket !== ws) return; // closed by sleep()
    socket = null;
    if (e.upgrade) return connect(e.upgrade); // the same session, on a WebSocket now
    if (e.code === 4001) return e.reason ? location.assign(e.reason) : location.reload(); // session ended
    if (!token) lost(); // a session keeps them for the next socket
    showStatus(false);
    if (e.code === CLOSE_TRY_AGAIN_LATER) attempt = Math.max(attempt, 4);
    if (!heard && (longPoll || !wsWorked && ++unheard > 1) && TRANSPORT == 'auto') { longPoll = !longPoll; unheard = 0; }
    retry();
  };
  if (given) ws.onopen();
}
// Jitter: a restarted server does not get all its clients at once.
function retry() {
  const delay = Math.min(BACKOFF_MAX, BACKOFF_MIN * 2 ** attempt);
  if (asleep || retryTimer) return;
  attempt = Math.min(attempt + 1, 16);
  retryTimer = setTimeout(connect, delay / 2 + Math.random() * delay / 2);
}
// Events sent on a lost socket (or session) will get no reply.
function lost() {
  const queued = new Set(queue.map(([ref]) => ref));
  for (const ref of Array.from(pending.keys())) if (!queued.has(ref)) done(ref);
  sent.clear();
  abortUploads('the connection was lost');
}
function onSession(info) {
  const asked = token;
  token = info.token;
  if (info.resumed) {
    for (const [ref, text] of sent) if (ref > (info.received || 0)) socket.send(text);
    resyncUploads();
  } else {
    framesSeen = 0;
    if (asked) { lost(); refresh(info.refused); }
  }
  ready = true;
  flush();
  if (asked) emit('resumed', { resumed: info.resumed, refused: info.refused });
}
// Not resumed: the page is fetched and morphed in; frames wait for it.
let held = null;
async function refresh(refused) {
  const mine = held = []; // a newer refresh replaces it
  try {
    const response = await fetch(location.href, { cache: 'no-store' }) // same-origin credentials: the default;
    const page = new DOMParser().parseFromString(await response.text(), 'text/html');
    if (!response.ok) throw response.status;
    if (mine !== held) return;
    for (const el of doc.querySelectorAll('[data-liveview-init]')) seen.delete(el); // a fresh session: run again
    // What the fields hold is put back (same element, or the one with its
    // id): the morph would keep only the focused one's.
    const typed = Array.from(fieldsIn(doc.body), (field) => [field, field.id, valueOf(field)]);
    change(doc.body, { html: page.body.innerHTML }, { withScripts: false });
    for (const [field, id, value] of typed) {
      const el = field.isConnected ? field : id && doc.getElementById(id);
      if (el && el !== doc.activeElement) setValue(el, value);
    }
    doc.title = page.title;
    showStatus(connected); // the indicator's state, morphed away
    emit('refreshed', { refused });
  } catch (err) { warn('cannot fetch the page', err); }
  if (mine === held) { held = null; mine.forEach(apply); }
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
  if (ws) { ws.close(CLOSE_NORMAL); if (!token) lost(); }
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
// Unloading, the browser closes with 1001: the session ends.
addEventListener('pagehide', (e) => e.persisted ? sleep() : (asleep = true));
addEventListener('pageshow', (e) => {
  if (e.persisted) wake(); // back from the bfcache
});
