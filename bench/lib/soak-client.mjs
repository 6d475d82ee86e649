// A minimal XEP-0198 client for bench/soak.mjs: raw TCP, SASL PLAIN, bind, <enable resume/>,
// exact inbound/outbound counting, resumption with retransmission of unacknowledged stanzas, and
// a fresh session (with the unacknowledged rest resent, `<failed h/>` honoured) when a resume
// fails. It records every message body it receives so the soak can count losses and duplicates.
import { connect } from 'node:net';

const SM = 'urn:xmpp:sm:3';
const HEADER = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>`;

/**
 * Splits the server's output into top-level items: `{ kind: 'header' }`, `{ kind: 'end' }` or
 * `{ kind: 'element', xml, name }`. Strand writes well-formed XML with `>` escaped in attribute
 * values, so scanning tags for `<`/`>` is exact.
 */
export class TopLevelScanner {
  buf = '';
  push(text) {
    this.buf += text;
    const out = [];
    let pos = 0;
    for (;;) {
      const lt = this.buf.indexOf('<', pos);
      if (lt < 0) {
        pos = this.buf.length;
        break;
      }
      if (this.buf.startsWith('<?', lt)) {
        const e = this.buf.indexOf('?>', lt);
        if (e < 0) break;
        pos = e + 2;
        continue;
      }
      if (this.buf.startsWith('<stream:stream', lt)) {
        const e = this.buf.indexOf('>', lt);
        if (e < 0) break;
        out.push({ kind: 'header' });
        pos = e + 1;
        continue;
      }
      if (this.buf.startsWith('</stream:stream>', lt)) {
        out.push({ kind: 'end' });
        pos = lt + 16;
        continue;
      }
      // one complete element?
      let depth = 0;
      let i = lt;
      let end = -1;
      for (;;) {
        const open = this.buf.indexOf('<', i);
        if (open < 0) break;
        const close = this.buf.indexOf('>', open);
        if (close < 0) break;
        if (this.buf[open + 1] === '/') depth--;
        else if (this.buf[close - 1] !== '/') depth++;
        i = close + 1;
        if (depth === 0) {
          end = close + 1;
          break;
        }
      }
      if (end < 0) break;
      const xml = this.buf.slice(lt, end);
      const name = /^<([^\s/>]+)/.exec(xml)[1];
      out.push({ kind: 'element', xml, name });
      pos = end;
    }
    this.buf = this.buf.slice(pos);
    return out;
  }
}

const attr = (xml, name) => {
  const m = new RegExp(`^<[^>]*?\\s${name}=(["'])([^"']*)\\1`).exec(xml);
  return m ? m[2] : undefined;
};

export class SoakClient {
  /** Bodies (message ids) received, in order, with repeats. */
  received = [];
  /** Message ids this client created. */
  created = [];
  stats = { connects: 0, resumes: 0, resumeFailures: 0, freshSessions: 0, streamErrors: 0, kills: 0, retransmittedByUs: 0 };
  state = 'offline'; // offline | connecting | ready
  smId = undefined;
  /** Inbound stanzas handled in the current SM session (our h). */
  hIn = 0;
  /** Outbound stanzas since <enabled/> and the unacknowledged ones with their numbers. */
  outCount = 0;
  unacked = [];
  /** Stanzas created but not yet written (while offline or before <enabled/>). */
  pending = [];
  socket = undefined;
  seq = 0;
  sinceAck = 0;

  constructor(index, port, options = {}) {
    this.index = index;
    this.user = `soak${index}`;
    this.port = port;
    this.onEvent = options.onEvent ?? (() => undefined);
  }

  get jid() {
    return `${this.user}@localhost/soak`;
  }

  /** Connects and logs in (resuming if an SM-ID is known). Resolves when ready or failed. */
  connect() {
    if (this.state !== 'offline') return Promise.resolve();
    this.state = 'connecting';
    this.stats.connects++;
    const scanner = new TopLevelScanner();
    const socket = connect({ port: this.port, host: '127.0.0.1' });
    socket.setNoDelay(true);
    this.socket = socket;
    let features = 0;
    return new Promise((resolve) => {
      const done = () => resolve();
      this.readyWaiter = done;
      socket.on('connect', () => socket.write(HEADER));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        if (this.socket !== socket) return;
        this.socket = undefined;
        this.state = 'offline';
        this.readyWaiter = undefined;
        done();
      });
      socket.on('data', (d) => {
        if (this.socket !== socket) return;
        for (const item of scanner.push(d.toString('utf8'))) {
          if (item.kind !== 'element') continue;
          this.handle(item, socket, () => ++features);
        }
      });
    });
  }

  write(socket, text) {
    if (socket && !socket.destroyed && socket.writable) socket.write(text);
  }

  handle({ name, xml }, socket, nextFeatures) {
    switch (name) {
      case 'stream:features': {
        const n = nextFeatures();
        if (n === 1) {
          const auth = Buffer.from(`\0${this.user}\0secret`).toString('base64');
          this.write(socket, `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${auth}</auth>`);
        } else if (this.smId) {
          this.write(socket, `<resume xmlns='${SM}' previd='${this.smId}' h='${this.hIn}'/>`);
        } else {
          this.write(socket, `<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>soak</resource></bind></iq>`);
        }
        return;
      }
      case 'success':
        this.write(socket, HEADER);
        return;
      case 'failure':
        this.onEvent('auth-failure', xml);
        socket.destroy();
        return;
      case 'enabled':
        this.smId = attr(xml, 'id');
        this.hIn = 0;
        this.outCount = 0;
        this.state = 'ready';
        // Presence first (so offline messages are delivered), then whatever is unacknowledged
        // from a failed session and whatever was created meanwhile.
        const leftover = this.unacked.splice(0);
        this.send(`<presence/>`);
        for (const u of leftover) if (!u.xml.startsWith('<presence')) this.send(u.xml, { retransmit: true });
        this.flushPending();
        this.readyWaiter?.();
        return;
      case 'resumed': {
        const h = Number(attr(xml, 'h'));
        this.dropAcked(h);
        this.state = 'ready';
        this.stats.resumes++;
        for (const u of this.unacked) {
          this.write(socket, u.xml);
          this.stats.retransmittedByUs++;
        }
        this.flushPending();
        this.readyWaiter?.();
        return;
      }
      case 'failed': {
        // A failed resume (or enable): start a fresh session; stanzas the old one had handled
        // (h, if the server remembers) are dropped, the rest is resent after <enabled/>.
        const h = attr(xml, 'h');
        if (this.smId) {
          this.stats.resumeFailures++;
          this.onEvent('resume-failed', xml);
          if (h !== undefined) this.dropAcked(Number(h));
          else this.stats.failedWithoutH = (this.stats.failedWithoutH ?? 0) + 1;
          this.smId = undefined;
          this.stats.freshSessions++;
          this.write(socket, `<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>soak</resource></bind></iq>`);
        } else {
          this.onEvent('enable-failed', xml);
        }
        return;
      }
      case 'iq':
        if (attr(xml, 'id') === 'bind' && attr(xml, 'type') === 'result') {
          this.write(socket, `<enable xmlns='${SM}' resume='true'/>`);
          return;
        }
        if (this.state === 'ready') this.hIn++;
        return;
      case 'r':
        this.write(socket, `<a xmlns='${SM}' h='${this.hIn}'/>`);
        this.sinceAck = 0;
        return;
      case 'a':
        this.dropAcked(Number(attr(xml, 'h')));
        return;
      case 'message': {
        this.hIn++;
        const body = /<body>([^<]*)<\/body>/.exec(xml)?.[1];
        if (body !== undefined && attr(xml, 'type') !== 'error') this.received.push(body);
        else this.onEvent('error-message', xml);
        // Unsolicited acks now and then keep the server's queue short.
        if (++this.sinceAck >= 20) {
          this.sinceAck = 0;
          this.write(socket, `<a xmlns='${SM}' h='${this.hIn}'/>`);
        }
        return;
      }
      case 'presence':
        this.hIn++;
        return;
      case 'stream:error':
        this.stats.streamErrors++;
        this.onEvent('stream-error', xml);
        return;
      default:
        this.onEvent('unexpected', xml);
    }
  }

  dropAcked(h) {
    while (this.unacked.length > 0 && this.unacked[0].n <= h) this.unacked.shift();
  }

  /** Sends a stanza in the current SM session (counted and queued until acknowledged). */
  send(xml, { retransmit = false } = {}) {
    this.outCount++;
    this.unacked.push({ n: this.outCount, xml });
    if (retransmit) this.stats.retransmittedByUs++;
    this.write(this.socket, xml);
  }

  flushPending() {
    for (const xml of this.pending.splice(0)) this.send(xml);
    if (this.unacked.length > 0) this.write(this.socket, `<r xmlns='${SM}'/>`);
  }

  /** Creates a chat message to `to` (queued while not ready). */
  message(to) {
    const id = `${this.index}-${this.seq++}`;
    this.created.push(id);
    const xml = `<message to='${to}' type='chat' id='${id}'><body>${id}</body></message>`;
    if (this.state === 'ready') {
      this.send(xml);
      if (this.unacked.length % 10 === 0) this.write(this.socket, `<r xmlns='${SM}'/>`);
    } else this.pending.push(xml);
  }

  /** Asks the server for an ack. */
  requestAck() {
    if (this.state === 'ready') this.write(this.socket, `<r xmlns='${SM}'/>`);
  }

  /** Kills the transport abruptly (no close tag, RST). */
  kill() {
    if (!this.socket) return;
    this.stats.kills++;
    this.socket.resetAndDestroy?.() ?? this.socket.destroy();
  }

  /** Ends cleanly: acknowledges everything, then closes the stream. */
  async close() {
    const s = this.socket;
    if (!s) return;
    this.write(s, `<a xmlns='${SM}' h='${this.hIn}'/></stream:stream>`);
    s.end();
    await new Promise((r) => {
      s.once('close', r);
      setTimeout(r, 3000).unref();
    });
  }
}
