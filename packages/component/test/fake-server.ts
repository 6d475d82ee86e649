/**
 * A scriptable XEP-0114 server on a loopback socket for the unit tests: it answers the stream
 * header and checks the handshake like a real server (or misbehaves on request), and records the
 * exact bytes each connection sent, with timestamps.
 */
import { createHash } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export const STREAM_NS = "xmlns:stream='http://etherx.jabber.org/streams'";

/** What the fake server does with a new connection. */
export type Behaviour =
  | 'accept' // header + handshake check
  | 'silent' // never answers the header
  | 'conflict'; // answers the header, then closes with <conflict/> after a correct handshake

export interface FakeServerOptions {
  domain?: string;
  secret?: string;
}

/** One accepted connection. */
export class FakeConnection {
  /** Everything received, as text. */
  received = '';
  /** Chunks received with their arrival time (ms). */
  readonly chunks: { at: number; data: string }[] = [];
  readonly streamId: string;
  readonly closed: Promise<void>;
  private waiters: { re: RegExp | string; resolve: () => void; fail: (err: Error) => void }[] = [];
  private isClosed = false;

  constructor(readonly socket: Socket) {
    this.streamId = `sid${Math.random().toString(36).slice(2, 10)}`;
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.received += d;
      this.chunks.push({ at: Date.now(), data: d });
      this.check();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.isClosed = true;
        for (const w of this.waiters.splice(0)) w.fail(new Error(`connection closed before ${String(w.re)}`));
        resolve();
      }),
    );
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  send(data: string): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  /** Resolves once everything received matches `re` (or contains the string). */
  waitFor(re: RegExp | string, timeoutMs = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`timed out waiting for ${String(re)}; received: ${this.received.slice(-1000)}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(t);
        resolve();
      };
      const fail = (err: Error) => {
        clearTimeout(t);
        reject(err);
      };
      this.waiters.push({ re, resolve: done, fail });
      this.check();
      if (this.isClosed && this.waiters.some((w) => w.resolve === done)) {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        fail(new Error(`connection closed before ${String(re)}; received: ${this.received.slice(-1000)}`));
      }
    });
  }

  private check(): void {
    this.waiters = this.waiters.filter((w) => {
      const hit = typeof w.re === 'string' ? this.received.includes(w.re) : w.re.test(this.received);
      if (hit) w.resolve();
      return !hit;
    });
  }
}

export class FakeComponentServer {
  readonly connections: FakeConnection[] = [];
  behaviour: Behaviour = 'accept';
  readonly domain: string;
  readonly secret: string;
  private waiters: ((c: FakeConnection) => void)[] = [];

  private constructor(
    private readonly server: Server,
    options: FakeServerOptions,
  ) {
    this.domain = options.domain ?? 'component.example';
    this.secret = options.secret ?? 'secret';
    server.on('connection', (socket) => this.accept(socket));
  }

  static start(options: FakeServerOptions = {}): Promise<FakeComponentServer> {
    const server = createServer();
    const fake = new FakeComponentServer(server, options);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(fake));
    });
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get service(): string {
    return `xmpp://127.0.0.1:${this.port}`;
  }

  /** The `n`-th connection (0-based), waiting for it if needed. */
  connection(n: number, timeoutMs = 5000): Promise<FakeConnection> {
    if (this.connections[n]) return Promise.resolve(this.connections[n]!);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no connection #${n} within ${timeoutMs} ms`)), timeoutMs);
      const w = (c: FakeConnection) => {
        if (this.connections[n] !== c) return;
        clearTimeout(t);
        this.waiters = this.waiters.filter((x) => x !== w);
        resolve(c);
      };
      this.waiters.push(w);
    });
  }

  /** The `n`-th connection once its handshake was answered with `<handshake/>`. */
  async online(n: number): Promise<FakeConnection> {
    const c = await this.connection(n);
    await c.waitFor(/<handshake>[0-9a-f]{40}<\/handshake>/);
    return c;
  }

  private accept(socket: Socket): void {
    const conn = new FakeConnection(socket);
    this.connections.push(conn);
    for (const w of [...this.waiters]) w(conn);
    const behaviour = this.behaviour;
    if (behaviour === 'silent') return;
    void conn.waitFor(/<stream:stream[^>]*>/).then(() => {
      const to = /to=["']([^"']+)["']/.exec(conn.received)?.[1] ?? '';
      conn.send(`<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' ${STREAM_NS} id='${conn.streamId}' from='${to}'>`);
      if (to !== this.domain) {
        conn.send(`<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>`);
        return;
      }
      void conn.waitFor(/<handshake>([^<]*)<\/handshake>/).then(() => {
        const got = /<handshake>([^<]*)<\/handshake>/.exec(conn.received)![1];
        const want = createHash('sha1').update(conn.streamId + this.secret).digest('hex');
        if (got !== want) {
          conn.send(
            `<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>bad</text></stream:error></stream:stream>`,
          );
        } else if (behaviour === 'conflict') {
          conn.send(`<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>`);
        } else {
          conn.send('<handshake/>');
        }
      }, () => undefined);
    }, () => undefined);
  }

  /** Destroys every connection and closes the listener. */
  async stop(): Promise<void> {
    for (const c of this.connections) c.socket.destroy();
    await Promise.all(this.connections.map((c) => c.closed));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
