/**
 * A minimal, fast XMPP c2s client over a raw TCP socket, for load generation only.
 *
 * No XML library: an incremental scanner splits the input into top-level elements (depth 1 under
 * `<stream:stream>`) and hands each one over as a raw string plus its qualified name. That is
 * enough for a benchmark client that only needs to recognise a handful of elements and read a
 * few attributes; it never builds a tree. It understands quoted attribute values (which may
 * contain `>`), self-closing tags, the XML declaration, comments/CDATA (skipped), whitespace
 * keepalives between elements, and stream restarts after SASL.
 */
import net from 'node:net';
import { EventEmitter } from 'node:events';

export const NS = {
  CLIENT: 'jabber:client',
  STREAM: 'http://etherx.jabber.org/streams',
  SASL: 'urn:ietf:params:xml:ns:xmpp-sasl',
  BIND: 'urn:ietf:params:xml:ns:xmpp-bind',
  SM: 'urn:xmpp:sm:3',
  KEEPALIVE: 'urn:xmpp:keepalive:0',
  PING: 'urn:xmpp:ping',
  REGISTER: 'jabber:iq:register',
};

/** `escape` for attribute values and text. */
export function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]);
}

/** Reads attribute `name` from the start tag of a raw element (first occurrence). */
export function attr(raw, name) {
  const end = startTagEnd(raw);
  const tag = end < 0 ? raw : raw.slice(0, end);
  const re = new RegExp(`\\s${name.replace(/[:.]/g, '\\$&')}\\s*=\\s*(?:"([^"]*)"|'([^']*)')`);
  const m = re.exec(tag);
  if (!m) return undefined;
  return unescape(m[1] ?? m[2]);
}

function unescape(s) {
  return s.includes('&')
    ? s.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, e) =>
        e === 'amp' ? '&' : e === 'lt' ? '<' : e === 'gt' ? '>' : e === 'quot' ? '"' : e === 'apos' ? "'" : String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)),
      )
    : s;
}

function startTagEnd(raw) {
  let q = 0;
  for (let i = 1; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (q) {
      if (c === q) q = 0;
    } else if (c === 34 || c === 39) q = c;
    else if (c === 62) return i + 1;
  }
  return -1;
}

/** Local name of a qualified name (`stream:features` → `features`). */
export function localName(qname) {
  const i = qname.indexOf(':');
  return i < 0 ? qname : qname.slice(i + 1);
}

/** Text content of the first child element `name` (no nesting inside it), unescaped. */
export function childText(raw, name) {
  const m = new RegExp(`<(?:[\\w-]+:)?${name}(?:\\s[^>]*)?>([^<]*)</(?:[\\w-]+:)?${name}>`).exec(raw);
  return m ? unescape(m[1]) : undefined;
}

/** The first descendant start tag `<name …>` or `<name …/>` as a raw string (for `attr`). */
export function findTag(raw, name) {
  const m = new RegExp(`<(?:[\\w-]+:)?${name}(?=[\\s/>])[^>]*>`).exec(raw);
  return m ? m[0] : undefined;
}

/**
 * Incremental top-level element scanner. `feed(text)` calls `onHeader(rawTag)` for the stream
 * header, `onElement(qname, raw)` for each complete depth-1 element and `onClose()` for
 * `</stream:stream>`.
 */
export class StreamScanner {
  constructor(onHeader, onElement, onClose) {
    this.onHeader = onHeader;
    this.onElement = onElement;
    this.onClose = onClose;
    this.buf = '';
    this.pos = 0; // scan position in buf
    this.depth = 0; // 0 = outside the stream, 1 = inside, ≥2 inside a top-level element
    this.elStart = -1;
    this.elName = '';
    this.gen = 0; // bumped by reset(), so a scan loop notices a restart made from a callback
  }

  /** Forget everything: a stream restart (RFC 6120 §4.3.3) or a new connection. */
  reset() {
    this.gen++;
    this.buf = this.buf.slice(this.pos);
    this.pos = 0;
    this.depth = 0;
    this.elStart = -1;
  }

  feed(text) {
    const keep = this.elStart >= 0 ? this.elStart : this.pos;
    this.buf = keep >= this.buf.length ? text : this.buf.slice(keep) + text;
    this.pos -= keep;
    if (this.elStart >= 0) this.elStart = 0;
    this.scan();
  }

  scan() {
    const buf = this.buf;
    const gen = this.gen;
    const n = buf.length;
    let i = this.pos;
    while (i < n) {
      const lt = buf.indexOf('<', i);
      if (lt < 0) {
        i = n;
        break;
      }
      if (lt + 1 >= n) {
        i = lt;
        break;
      }
      const c1 = buf.charCodeAt(lt + 1);
      if (c1 === 63 /* ? */) {
        const e = buf.indexOf('?>', lt + 2);
        if (e < 0) {
          i = lt;
          break;
        }
        i = e + 2;
        continue;
      }
      if (c1 === 33 /* ! */) {
        const isCdata = buf.startsWith('<![CDATA[', lt);
        const close = isCdata ? ']]>' : '-->';
        if (!isCdata && lt + 4 > n) {
          i = lt;
          break;
        }
        const e = buf.indexOf(close, lt + 2);
        if (e < 0) {
          i = lt;
          break;
        }
        i = e + close.length;
        continue;
      }
      // find the end of the tag, honouring quotes
      let q = 0;
      let gt = -1;
      for (let j = lt + 1; j < n; j++) {
        const c = buf.charCodeAt(j);
        if (q) {
          if (c === q) q = 0;
        } else if (c === 34 || c === 39) q = c;
        else if (c === 62) {
          gt = j;
          break;
        }
      }
      if (gt < 0) {
        i = lt;
        break;
      }
      if (c1 === 47 /* / */) {
        // end tag
        this.depth--;
        if (this.depth === 1) {
          const raw = buf.slice(this.elStart, gt + 1);
          const name = this.elName;
          this.elStart = -1;
          i = gt + 1;
          this.pos = i;
          this.onElement(name, raw);
          if (this.gen !== gen) return; // reset/restart from the handler
          continue;
        }
        if (this.depth <= 0) {
          this.depth = 0;
          i = gt + 1;
          this.pos = i;
          this.onClose();
          if (this.gen !== gen) return;
          continue;
        }
        i = gt + 1;
        continue;
      }
      const selfClosing = buf.charCodeAt(gt - 1) === 47;
      if (this.depth === 0) {
        // stream header
        this.depth = 1;
        i = gt + 1;
        this.pos = i;
        this.onHeader(buf.slice(lt, gt + 1));
        if (this.gen !== gen) return;
        continue;
      }
      if (this.depth === 1) {
        let k = lt + 1;
        while (k < gt) {
          const c = buf.charCodeAt(k);
          if (c === 32 || c === 47 || c === 9 || c === 10 || c === 13) break;
          k++;
        }
        const name = buf.slice(lt + 1, k);
        if (selfClosing) {
          i = gt + 1;
          this.pos = i;
          this.onElement(name, buf.slice(lt, gt + 1));
          if (this.gen !== gen) return;
          continue;
        }
        this.elStart = lt;
        this.elName = name;
        this.depth = 2;
        i = gt + 1;
        continue;
      }
      if (!selfClosing) this.depth++;
      i = gt + 1;
    }
    this.pos = i;
    if (this.elStart < 0 && this.pos === this.buf.length) {
      this.buf = '';
      this.pos = 0;
    }
  }
}

const HEADER = (domain) =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}' version='1.0' xml:lang='en'>`;

export class XmppError extends Error {}

/**
 * One client connection. Elements are delivered to `onElement(qname, raw)` when set (fast path),
 * otherwise queued for `next()`. `autoAnswer` answers SM `<r/>` and XEP-0199 pings.
 */
export class XmppConn extends EventEmitter {
  constructor({ host = '127.0.0.1', port, domain = 'localhost', timeoutMs = 30000 }) {
    super();
    this.host = host;
    this.port = port;
    this.domain = domain;
    this.timeoutMs = timeoutMs;
    this.socket = undefined;
    this.inbox = [];
    this.waiter = undefined;
    this.closed = false;
    this.peerClosed = false;
    this.features = '';
    this.jid = '';
    this.sm = false; // SM enabled on this stream
    this.smId = undefined;
    this.hIn = 0; // stanzas handled (received) — our h
    this.hOutAcked = 0; // last h the server acked
    this.stanzasOut = 0;
    this.onStanza = undefined; // (qname, raw) => void, after login
    this.autoAnswer = true;
    this.pingsAnswered = 0;
    this.charsIn = 0;
    this.scanner = new StreamScanner(
      (raw) => this.deliver('stream:stream', raw, true),
      (name, raw) => this.deliver(name, raw, false),
      () => {
        this.peerClosed = true;
        this.deliver('/stream', '</stream:stream>', true);
        this.emit('streamClose');
      },
    );
  }

  /** Opens the TCP connection. Resolves when connected. */
  connect() {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: this.host, port: this.port, noDelay: true });
      this.socket = s;
      s.setEncoding('utf8');
      s.setNoDelay(true);
      const onErr = (err) => {
        s.off('connect', onOk);
        reject(err);
      };
      const onOk = () => {
        s.off('error', onErr);
        s.on('error', (err) => this.fail(err));
        resolve();
      };
      s.once('error', onErr);
      s.once('connect', onOk);
      s.on('data', (d) => {
        this.charsIn += d.length;
        this.scanner.feed(d);
      });
      s.on('close', () => {
        this.closed = true;
        this.fail(new XmppError('connection closed'));
        this.emit('close');
      });
    });
  }

  fail(err) {
    this.error ??= err;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      clearTimeout(w.timer);
      w.reject(err);
    }
  }

  /**
   * Routes one element. With SM on, `<r/>` is answered and `<a/>` recorded here, and every
   * stanza is counted into `hIn` exactly once (`counted` marks elements re-delivered from the
   * inbox); then the fast-path handler, a waiter of `next()`, or the inbox gets it.
   */
  deliver(name, raw, isControl, counted = false) {
    if (!isControl) {
      if (this.sm) {
        const ln = localName(name);
        if (ln === 'r' && raw.includes(NS.SM)) {
          this.write(`<a xmlns='${NS.SM}' h='${this.hIn}'/>`);
          return;
        }
        if (ln === 'a' && raw.includes(NS.SM)) {
          this.hOutAcked = Number(attr(raw, 'h'));
          this.emit('ack', this.hOutAcked);
          return;
        }
        if (!counted && (ln === 'message' || ln === 'iq' || ln === 'presence')) {
          this.hIn++;
          counted = true;
        }
      }
      if (this.onStanza) {
        if (this.autoAnswer && name === 'iq' && raw.includes(NS.PING) && attr(raw, 'type') === 'get') {
          this.write(`<iq type='result' id='${esc(attr(raw, 'id'))}'${attr(raw, 'from') ? ` to='${esc(attr(raw, 'from'))}'` : ''}/>`);
          this.pingsAnswered++;
          return;
        }
        this.onStanza(name, raw);
        return;
      }
    }
    if (this.waiter && (!this.waiter.pred || this.waiter.pred(name, raw))) {
      const w = this.waiter;
      this.waiter = undefined;
      clearTimeout(w.timer);
      w.resolve({ name, raw });
      return;
    }
    this.inbox.push({ name, raw, counted });
  }

  /** The next element (optionally matching `pred`), waiting up to the timeout. */
  next(pred, timeoutMs = this.timeoutMs) {
    for (let i = 0; i < this.inbox.length; i++) {
      const e = this.inbox[i];
      if (!pred || pred(e.name, e.raw)) {
        this.inbox.splice(i, 1);
        return Promise.resolve(e);
      }
    }
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new XmppError(`timeout waiting for an element (${timeoutMs} ms)`));
      }, timeoutMs);
      this.waiter = { pred, resolve, reject, timer };
    });
  }

  write(str) {
    if (!this.closed) this.socket.write(str);
  }

  /** Sends one stanza string and counts it for SM. */
  sendStanza(str) {
    this.stanzasOut++;
    this.write(str);
  }

  async openStream() {
    this.scanner.reset();
    this.write(HEADER(this.domain));
    const h = await this.next((n) => n === 'stream:stream' || n === '/stream');
    if (h.name !== 'stream:stream') throw new XmppError('stream closed by server');
    const f = await this.next();
    if (localName(f.name) !== 'features') throw new XmppError(`expected features, got ${f.raw.slice(0, 200)}`);
    this.features = f.raw;
    return f.raw;
  }

  async plain(username, password) {
    const payload = Buffer.from(`\0${username}\0${password}`).toString('base64');
    this.write(`<auth xmlns='${NS.SASL}' mechanism='PLAIN'>${payload}</auth>`);
    const r = await this.next();
    if (localName(r.name) !== 'success') throw new XmppError(`PLAIN failed for ${username}: ${r.raw.slice(0, 300)}`);
  }

  async bind(resource) {
    this.write(`<iq type='set' id='bind1'><bind xmlns='${NS.BIND}'>${resource ? `<resource>${esc(resource)}</resource>` : ''}</bind></iq>`);
    const r = await this.next((n) => n === 'iq');
    if (attr(r.raw, 'type') !== 'result') throw new XmppError(`bind failed: ${r.raw.slice(0, 300)}`);
    this.jid = childText(r.raw, 'jid') ?? '';
    return this.jid;
  }

  async enableSm(resume = true) {
    this.write(`<enable xmlns='${NS.SM}'${resume ? " resume='true'" : ''}/>`);
    const r = await this.next((n) => localName(n) === 'enabled' || localName(n) === 'failed');
    if (localName(r.name) !== 'enabled') throw new XmppError(`SM enable failed: ${r.raw.slice(0, 300)}`);
    this.sm = true;
    this.smId = attr(r.raw, 'id');
    this.smResume = attr(r.raw, 'resume') === 'true' || attr(r.raw, 'resume') === '1';
    this.hIn = 0;
    this.stanzasOut = 0;
    return r.raw;
  }

  /** XEP-0304 interval negotiation (after bind). Returns the result iq. */
  async negotiateKeepalive(seconds) {
    this.write(`<iq type='set' id='ka1'><keepalive xmlns='${NS.KEEPALIVE}'><interval>${seconds}</interval></keepalive></iq>`);
    const r = await this.next((n, raw) => n === 'iq' && attr(raw, 'id') === 'ka1');
    return r.raw;
  }

  /**
   * Full login: connect, stream, PLAIN, restart, bind, optionally SM enable, then switch to the
   * fast path (`onStanza`).
   */
  async login({ username, password, resource, sm = true, resume = true }) {
    await this.connect();
    await this.openStream();
    await this.plain(username, password);
    await this.openStream();
    await this.bind(resource);
    if (sm) await this.enableSm(resume);
    return this;
  }

  /**
   * SM resumption on a fresh socket: connect, stream, PLAIN, restart, `<resume/>`.
   * Returns `{ resumed: raw }` or `{ failed: raw }`.
   */
  async resume({ username, password, previd, h }) {
    await this.connect();
    await this.openStream();
    await this.plain(username, password);
    await this.openStream();
    this.write(`<resume xmlns='${NS.SM}' previd='${esc(previd)}' h='${h}'/>`);
    const r = await this.next((n) => localName(n) === 'resumed' || localName(n) === 'failed');
    if (localName(r.name) === 'resumed') {
      this.sm = true;
      this.smId = previd;
      this.hIn = h;
      return { resumed: r.raw };
    }
    return { failed: r.raw };
  }

  /** Switches to the fast path: `fn(qname, raw)` gets every stanza, queued ones first. */
  setHandler(fn) {
    this.onStanza = fn;
    this.drainInbox();
  }

  /** Puts elements that arrived before `onStanza` was set through it. */
  drainInbox() {
    const items = this.inbox;
    this.inbox = [];
    for (const e of items) this.deliver(e.name, e.raw, false, e.counted);
  }

  /** Graceful close: `</stream:stream>`, wait for the server's (bounded), then end the socket. */
  async close(timeoutMs = 5000) {
    if (this.closed) return;
    this.onStanza = undefined;
    this.inbox = [];
    const done = new Promise((resolve) => {
      if (this.closed) return resolve();
      const t = setTimeout(resolve, timeoutMs);
      const fin = () => {
        clearTimeout(t);
        resolve();
      };
      this.once('streamClose', fin);
      this.once('close', fin);
    });
    this.write('</stream:stream>');
    await done;
    this.socket.end();
    if (!this.closed) this.socket.destroySoon?.();
  }

  /** Abrupt cut: TCP RST, no stream close. */
  cut() {
    this.onStanza = undefined;
    if (this.socket && !this.closed) this.socket.resetAndDestroy();
  }

  destroy() {
    this.onStanza = undefined;
    if (this.socket && !this.closed) this.socket.destroy();
  }
}

/**
 * In-band registration (XEP-0077) before authentication. Resolves `'created'`, `'exists'`, or
 * throws with the server's answer.
 */
export async function register({ host, port, domain, username, password }) {
  const c = new XmppConn({ host, port, domain, timeoutMs: 20000 });
  try {
    await c.connect();
    await c.openStream();
    c.write(`<iq type='set' id='reg1'><query xmlns='${NS.REGISTER}'><username>${esc(username)}</username><password>${esc(password)}</password></query></iq>`);
    const r = await c.next((n) => n === 'iq');
    if (attr(r.raw, 'type') === 'result') return 'created';
    if (r.raw.includes('<conflict')) return 'exists';
    throw new XmppError(`registration of ${username} failed: ${r.raw.slice(0, 300)}`);
  } finally {
    c.destroy();
  }
}

/**
 * Reads the SCRAM-SHA-1 iteration count the server uses for `username` (server-first-message
 * `i=`), then aborts the exchange. Returns a number, or undefined when SCRAM-SHA-1 is not offered.
 */
export async function scramIterations({ host, port, domain, username }) {
  const c = new XmppConn({ host, port, domain, timeoutMs: 10000 });
  try {
    await c.connect();
    const f = await c.openStream();
    if (!f.includes('SCRAM-SHA-1<')) return undefined;
    const first = Buffer.from(`n,,n=${username},r=benchnonce0123456789`).toString('base64');
    c.write(`<auth xmlns='${NS.SASL}' mechanism='SCRAM-SHA-1'>${first}</auth>`);
    const r = await c.next();
    if (localName(r.name) !== 'challenge') return undefined;
    const text = Buffer.from(r.raw.replace(/^<[^>]*>/, '').replace(/<\/[^>]*>$/, ''), 'base64').toString();
    const m = /(?:^|,)i=(\d+)/.exec(text);
    c.write(`<abort xmlns='${NS.SASL}'/>`);
    return m ? Number(m[1]) : undefined;
  } finally {
    c.destroy();
  }
}
