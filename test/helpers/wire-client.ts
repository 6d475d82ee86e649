/**
 * A byte-level TCP client for stream-level acceptance tests (bad input, close handshake).
 *
 * Unlike `RawClient` it records *when* each chunk arrived and *how* the connection ended (the
 * server's FIN, a reset, or our own destroy), so tests can assert "the stream error, then the
 * close tag, then nothing, then FIN", or "the socket was cut ~1 s after the close tag".
 */
import { connect as netConnect, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { header } from './raw-client.js';

export { header };

export const CLOSE_TAG = '</stream:stream>';
export const NS_STREAMS = 'urn:ietf:params:xml:ns:xmpp-streams';

/** One `data` event: when it arrived and where it ends in {@link WireClient.text}. */
export interface Arrival {
  at: number;
  end: number;
}

export class WireClient {
  /** Everything received, decoded as UTF-8 (characters split across chunks are kept whole). */
  text = '';
  /** Total bytes received. */
  bytes = 0;
  readonly arrivals: Arrival[] = [];
  /** `Date.now()` when the server's FIN arrived (socket `end`), if it did. */
  finAt: number | undefined;
  /** `Date.now()` when the socket closed. */
  closedAt: number | undefined;
  /** A socket error (e.g. ECONNRESET when the server reset the connection). */
  error: NodeJS.ErrnoException | undefined;
  readonly closed: Promise<void>;

  private readonly decoder = new StringDecoder('utf8');
  private waiters: { test: () => boolean; resolve: () => void }[] = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.bytes += d.length;
      this.text += this.decoder.write(d);
      this.arrivals.push({ at: Date.now(), end: this.text.length });
      this.check();
    });
    socket.on('end', () => {
      this.finAt = Date.now();
      this.check();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.error ??= err;
    });
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.closedAt = Date.now();
        resolve();
        this.check();
      }),
    );
  }

  /** Connects with plain TCP to the c2s (STARTTLS) port. */
  static connect(port: number, host = '127.0.0.1'): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const s = netConnect({ port, host }, () => {
        s.off('error', reject);
        resolve(new WireClient(s));
      });
      s.once('error', reject);
      s.setNoDelay(true);
    });
  }

  /** Writes bytes as given; resolves once they were handed to the kernel (or the socket failed). */
  send(data: string | Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (!this.socket.writable) return resolve();
      this.socket.write(data, () => resolve());
    });
  }

  /** Sends our close tag and FIN, unless our side is already closed. */
  sendCloseAndEnd(): void {
    if (this.socket.writable && this.finAt === undefined) this.socket.end(CLOSE_TAG);
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Resolves once `re` matches everything received; rejects after `timeoutMs`. */
  waitFor(re: RegExp | string, timeoutMs = 5000): Promise<string> {
    const test = () => (typeof re === 'string' ? this.text.includes(re) : re.test(this.text));
    return this.until(test, timeoutMs, `${String(re)}`).then(() => this.text);
  }

  /** Resolves once the socket is closed; rejects after `timeoutMs`. */
  waitClosed(timeoutMs = 5000): Promise<void> {
    return this.until(() => this.closedAt !== undefined, timeoutMs, 'the socket to close');
  }

  /** When the character at `offset` of {@link text} (exclusive end) had arrived. */
  arrivalOf(offset: number): number {
    const a = this.arrivals.find((x) => x.end >= offset);
    if (!a) throw new Error(`offset ${offset} never arrived`);
    return a.at;
  }

  /**
   * Opens a stream and logs in with SASL PLAIN over plaintext (the server allows it on
   * loopback), restarts, binds `resource`. Returns the bound full JID.
   */
  async login(user: string, password = 'secret', resource = 'wire'): Promise<string> {
    await this.send(header());
    await this.waitFor(/<\/stream:features>/);
    const auth = Buffer.from(`\0${user}\0${password}`).toString('base64');
    await this.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${auth}</auth>`);
    await this.waitFor(/<success/);
    await this.send(header());
    await this.waitFor(/<\/stream:features>[\s\S]*<\/stream:features>/);
    await this.send(
      `<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`,
    );
    const text = await this.waitFor(/<jid>[^<]+<\/jid>/);
    return /<jid>([^<]+)<\/jid>/.exec(text)![1]!;
  }

  private until(test: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        test,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received: ${this.text.slice(-1500)}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  private check(): void {
    this.waiters = this.waiters.filter((w) => {
      if (!w.test()) return true;
      w.resolve();
      return false;
    });
  }
}

/**
 * Exactly `<stream:error><CONDITION xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>` with an
 * optional `<text/>` in the same namespace, `</stream:error></stream:stream>`, at the very end
 * of the input (either quote style).
 */
export function streamErrorAtEnd(condition: string): RegExp {
  const ns = NS_STREAMS.replace(/[.:]/g, '\\$&');
  return new RegExp(
    `<stream:error><${condition} xmlns=(["'])${ns}\\1/>` +
      `(?:<text xmlns=(["'])${ns}\\2(?: xml:lang=(["'])[a-zA-Z-]+\\3)?>[^<]*</text>)?` +
      `</stream:error></stream:stream>$`,
  );
}
