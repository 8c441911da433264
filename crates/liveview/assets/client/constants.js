/*! liveview client: wire protocol v2 (docs/protocol.md), markup in docs/client.md.
 *  Source: crates/liveview/assets/client/, joined by client.rs. */
(() => {
'use strict';
if (window.liveview) return; // loaded twice: the first copy owns the page

const PROTOCOL_VERSION = 2;
const SOCKET_OPEN = 1; // not WebSocket.OPEN: a page may wrap WebSocket
const DEFAULT_URL = '/ws/liveview/{room}/?v=' + PROTOCOL_VERSION;
const LONGPOLL_URL = '/liveview/longpoll.js'; // served under the client's hash: client.rs
const CLOSE_NORMAL = 1000;
const CLOSE_TRY_AGAIN_LATER = 1013;
const CHUNK_HEADER_SIZE = 12; // u32 id, u64 offset (docs/uploads.md)
const CHUNK_SIZE = 65536;
const UPLOAD_WINDOW = 4; // unacknowledged chunks

const QUEUE_LIMIT = 100;
const BUSY_TIMEOUT = 30000; // Django LiveView's server never acknowledges
const BACKOFF_MIN = 250, BACKOFF_MAX = 10000;
const SLEEP_AFTER = 60000;
const FALLBACK_AFTER = 3000; // without a frame on a WebSocket: long-poll
const ERROR_BOX = '[data-liveview-error]';
