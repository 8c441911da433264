
// Which transport carries the frames (docs/client.md "Transports and
// fallback"). Long-polling (version 2 only) is a module of its own, fetched
// the first time the page falls back; it looks like a WebSocket. Auto: two
// sockets in a row that close before their first frame, and the other
// transport is tried; no frame on a WebSocket for a while, and long-polling.
const config = root.dataset;
const TRANSPORT = url.searchParams.get('v') == PROTOCOL_VERSION ? config.liveviewTransport || 'auto' : 'websocket';
let longPoll = TRANSPORT == 'longpoll', LongPoll, loading, fallbackTimer = 0, unheard = 0;
function fallBack() {
  fallbackTimer = 0;
  if (longPoll) return;
  longPoll = true;
  unheard = 0;
  socket?.close();
  socket = null;
  connect();
}
const loadLongPoll = () => loading ||= import(LONGPOLL_URL).then((module) => { LongPoll = module.default; connect(); },
  () => { loading = null; retry(); });
