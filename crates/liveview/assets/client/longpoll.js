/*! liveview client: the long-poll transport (docs/client.md "Transports and fallback"),
 *  a module the client imports only when it falls back. Source: crates/liveview/assets/client/. */
const CONNECTING = 0, OPEN = 1, CLOSED = 3;
const CLOSE_NORMAL = 1000, CLOSE_ABNORMAL = 1006, CLOSE_GOING_AWAY = 1001;
// A POST of text frames stays within the server's bounds (docs/protocol.md
// "Long-poll transport"); a string's length times 3 bounds its UTF-8 size.
const BATCH_FRAMES = 32, BATCH_BYTES = 64 * 1024;
const UPGRADE_AFTER = 10000, UPGRADE_MAX = 60000;

// liveview:transport, when the page moves to long-polling or back.
let shown = null;
const show = (transport) => {
  if (transport !== shown) document.dispatchEvent(new CustomEvent('liveview:transport', { detail: shown = transport }));
};

// A virtual socket over HTTP, with what the client uses of a WebSocket:
// readyState, send (a text frame, or bytes: an upload chunk), close, and
// onopen / onmessage / onclose. Events go out as POSTs, in order, one at a
// time; frames come in through a held GET. Any failed request closes it
// with 1006, as a lost WebSocket: the client resumes the session on a new
// one. A close event may carry `upgrade`: an open WebSocket (to the same
// URL, `&resume=1`) the session goes on with.
export default class LongPoll {
  constructor(url, hello, config) {
    const poll = new URL(url), ws = new URL(url);
    poll.protocol = poll.protocol.replace(/^ws/, 'http');
    poll.pathname = poll.pathname.replace(/\/?$/, '/poll');
    ws.searchParams.set('resume', '1');
    if (hello) poll.searchParams.set('resume', '1');
    this.readyState = CONNECTING;
    this.hello = hello; // the resume frame: the body of the opening POST
    this.probe = config.liveviewTransport === 'longpoll' ? null : ws.href; // forced: no upgrade
    this.upgradeAfter = +config.liveviewUpgradeAfter || UPGRADE_AFTER;
    this.out = [];
    this.sending = null;
    this.stop = new AbortController();
    // Unloading: the session ends at once, as with a WebSocket's 1001.
    addEventListener('pagehide', (e) => {
      if (!e.persisted && this.readyState === OPEN) navigator.sendBeacon(this.closeUrl(CLOSE_GOING_AWAY));
    }, { signal: this.stop.signal });
    this.open(poll);
  }

  async open(poll) {
    try {
      const answer = await this.request(poll, this.hello || '', this.hello && 'application/json');
      const { poll: id } = await answer.json();
      if (typeof id !== 'string') throw new Error('no poll id');
      poll.pathname += '/' + encodeURIComponent(id);
      poll.search = '';
      this.at = poll.href;
    } catch (err) {
      return this.end(CLOSE_ABNORMAL, String(err.message || err));
    }
    if (this.readyState !== CONNECTING) return;
    this.readyState = OPEN;
    this.onopen?.({});
    show('longpoll');
    this.receive();
  }

  async request(url, body, type) {
    const init = { cache: 'no-store', signal: this.stop.signal };
    if (body != null) Object.assign(init, { method: 'POST', body, headers: type ? { 'Content-Type': type } : {} });
    const answer = await fetch(url, init);
    if (!answer.ok) throw new Error(answer.status + ' from ' + new URL(url).pathname);
    return answer;
  }

  // One GET held at a time; the next goes out as soon as one is answered,
  // saying how many frames arrived (an answer the browser lost, and
  // re-asked for by itself, then comes again).
  async receive() {
    let got = 0;
    while (this.readyState === OPEN) {
      let batch;
      try {
        batch = await (await this.request(this.at + '?ack=' + got)).json();
      } catch (err) {
        return this.end(CLOSE_ABNORMAL, String(err.message || err));
      }
      for (const frame of batch.frames || []) {
        if (this.readyState !== OPEN) return;
        got++;
        this.onmessage?.({ data: JSON.stringify(frame) });
      }
      if (batch.close) return this.end(+batch.close.code || CLOSE_ABNORMAL, String(batch.close.reason || ''));
      // The session frame came: from now on a WebSocket is worth a try.
      if (this.probe && !this.probing && batch.frames?.length) {
        this.probing = true;
        this.upgrade(this.upgradeAfter);
      }
    }
  }

  send(data) {
    if (this.readyState !== OPEN) return; // as a closed WebSocket does
    this.out.push(data);
    this.sending ||= this.flush();
  }

  // Text frames in batches (a JSON array), each upload chunk on its own.
  async flush() {
    try {
      while (this.out.length && this.readyState === OPEN) {
        if (typeof this.out[0] !== 'string') {
          await this.request(this.at, this.out.shift(), 'application/octet-stream');
          continue;
        }
        const texts = [];
        let bytes = 2;
        while (typeof this.out[0] === 'string' && texts.length < BATCH_FRAMES &&
            (!texts.length || bytes + this.out[0].length * 3 < BATCH_BYTES)) {
          bytes += this.out[0].length * 3 + 1;
          texts.push(this.out.shift());
        }
        await this.request(this.at, '[' + texts.join(',') + ']', 'application/json');
      }
    } catch (err) {
      this.end(CLOSE_ABNORMAL, String(err.message || err));
    } finally {
      this.sending = null;
    }
  }

  // A WebSocket again after 10 s, 30 s, then every 60 s. The first that
  // opens is handed over once the POSTs in flight are answered, so what
  // they carried reached the server before the session moves.
  upgrade(delay) {
    this.timer = setTimeout(() => {
      const ws = new WebSocket(this.probe);
      ws.onclose = () => this.readyState === OPEN && this.upgrade(Math.min(delay * 3, UPGRADE_MAX));
      ws.onopen = async () => {
        ws.onclose = null;
        while (this.sending) await this.sending;
        if (this.readyState === OPEN) this.end(CLOSE_NORMAL, '', ws);
        else ws.close(CLOSE_NORMAL);
      };
    }, delay);
  }

  closeUrl(code) {
    return this.at + '?close=' + code;
  }

  close(code = CLOSE_NORMAL) {
    if (this.readyState === OPEN) {
      fetch(this.closeUrl(code), { method: 'POST', keepalive: true }).catch(() => {});
    }
    this.end(code);
  }

  // Held requests are aborted; the server lets go of the virtual socket
  // (or sees it lost when no GET comes).
  end(code, reason = '', upgrade) {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    clearTimeout(this.timer);
    this.stop.abort();
    this.onclose?.({ code, reason, upgrade, wasClean: code === CLOSE_NORMAL });
    if (upgrade) show('websocket');
  }
}
