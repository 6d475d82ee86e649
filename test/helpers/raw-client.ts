/**
 * A raw TCP/TLS client for byte-level tests: sends exactly the bytes it is told to and records
 * exactly the bytes it receives, with timestamps, so tests can assert what came after what.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

export class RawClient {
  /** Everything received, decoded as UTF-8. */
  received = '';
  /** Byte offset (in `received`) at which each chunk arrived. */
  readonly ended: Promise<void>;
  private waiters: { re: RegExp | string; resolve: (m: string) => void }[] = [];
  private endedFlag = false;

  private constructor(private socket: Socket | TLSSocket) {
    this.ended = new Promise((resolve) => {
      socket.on('close', () => {
        this.endedFlag = true;
        resolve();
        this.check();
      });
    });
    socket.on('error', () => undefined);
    this.wire(socket);
  }

  private wire(socket: Socket | TLSSocket): void {
    socket.on('data', (d: Buffer) => {
      this.received += d.toString('utf8');
      this.check();
    });
  }

  /** Connects with plain TCP. */
  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = netConnect({ port, host }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  /** True once the server closed the socket. */
  get closed(): boolean {
    return this.endedFlag;
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Half-closes (FIN) or destroys the socket. */
  end(): void {
    this.socket.end();
  }
  destroy(): void {
    this.socket.destroy();
  }

  /** Resolves with the received text once it matches `re` (searched in everything received). */
  waitFor(re: RegExp | string, timeoutMs = 5000): Promise<string> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`timed out waiting for ${String(re)}; received: ${this.received.slice(-2000)}`));
      }, timeoutMs);
      const done = (m: string) => {
        clearTimeout(t);
        resolve(m);
      };
      this.waiters.push({ re, resolve: done });
      this.check();
    });
  }

  private check(): void {
    this.waiters = this.waiters.filter((w) => {
      const hit = typeof w.re === 'string' ? this.received.includes(w.re) : w.re.test(this.received);
      if (hit) w.resolve(this.received);
      return !hit;
    });
  }

  /**
   * Opens a c2s stream, authenticates with SASL PLAIN over plaintext (loopback) and restarts the
   * stream; resolves once the post-authentication features arrived (bind or `<resume/>` next).
   */
  async authenticate(user: string, password = 'secret'): Promise<void> {
    this.send(header());
    await this.waitFor(/<\/stream:features>/);
    const auth = Buffer.from(`\0${user}\0${password}`).toString('base64');
    this.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${auth}</auth>`);
    await this.waitFor(/<success/);
    const mark = this.received.length;
    this.send(header());
    await this.waitFor(new RegExp(`[\\s\\S]{${mark}}[\\s\\S]*<\\/stream:features>`));
  }

  /** {@link authenticate}, then binds `resource`. @returns the bound full JID */
  async login(user: string, password = 'secret', resource = 'raw'): Promise<string> {
    await this.authenticate(user, password);
    this.send(`<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
    const text = await this.waitFor(/<jid>([^<]+)<\/jid>/);
    return /<jid>([^<]+)<\/jid>/.exec(text)![1]!;
  }

  /** Text received after `offset`. */
  since(offset: number): string {
    return this.received.slice(offset);
  }
}

/** A client stream header for `localhost`. */
export function header(to = 'localhost'): string {
  return `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${to}' version='1.0'>`;
}

/** Resolves after `ms` of real time (only for waiting on real sockets, never as an assertion). */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export { tlsConnect };
