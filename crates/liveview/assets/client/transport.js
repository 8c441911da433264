
// Which transport carries the frames (docs/client.md "Transports and
// fallback"). Long-polling (version 2 only) is a module of its own, fetched
// the first time the page falls back; it looks like a WebSocket. Auto: two
// WebSockets in a row that close before their first frame, or none that
// brings one for a while, and the page long-polls; a long-poll that closes
// before its first, and WebSockets again (the server may just be down).
// Once a WebSocket worked, a lost one is an outage, not a proxy: no fallback.
const config = root.dataset;
const TRANSPORT = url.searchParams.get('v') == PROTOCOL_VERSION ? config.liveviewTransport || 'auto' : 'websocket';
let longPoll = TRANSPORT == 'longpoll', LongPoll, loading, loads = 0, fallbackTimer = 0, unheard = 0, wsWorked = false;
function fallBack() {
  fallbackTimer = 0;
  if (longPoll) return;
  longPoll = true;
  unheard = 0;
  socket?.close();
  socket = null;
  connect();
}
// A browser may keep a failed module's error under its URL: a retry asks for another.
const loadLongPoll = () => loading ||= import(LONGPOLL_URL + '?' + loads++).then((module) => { LongPoll = module.default; connect(); },
  () => { loading = null; retry(); });
