/**
 * Real-socket harness for the stream transport tests: a `net` server wrapping each accepted
 * socket in an `XmlStreamImpl` with a recording delegate, and a raw byte-level client.
 */
import net from 'node:net';
import tls from 'node:tls';
import { SchedulerImpl, SystemClockImpl, silentLogger, type CloseInfo, type Element, type StreamErrorSpec } from '@strand/core';
import { DEFAULT_STREAM_LIMITS, type StreamParserLimits } from '../../src/stream/parser.js';
import { XmlStreamImpl, type StreamDelegate } from '../../src/stream/xml-stream.js';

export const CLIENT_HEADER =
  "<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' " +
  "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";

/** Resolves when `predicate` holds, polling every few ms; rejects after `timeoutMs`. */
export async function until(predicate: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Records every delegate call; behaviour hooks are overridable per test. */
export class RecordingDelegate implements StreamDelegate {
  readonly headers: Record<string, string>[] = [];
  readonly elements: Element[] = [];
  readonly calls: string[] = [];
  readonly closing: { error?: StreamErrorSpec; reason?: string }[] = [];
  closedInfo: CloseInfo | undefined;
  closedCount = 0;
  /** Default: answer every header with ours and empty features. */
  header = (stream: XmlStreamImpl, _attrs: Record<string, string>): void | Promise<void> => {
    stream.openStream({ from: 'localhost' });
    stream.writeRaw('<stream:features/>');
  };
  element: (stream: XmlStreamImpl, el: Element) => Promise<void> = async () => undefined;
  peerClose: (stream: XmlStreamImpl) => void | Promise<void> = () => undefined;
  beforeClose: (stream: XmlStreamImpl) => Promise<void> = async () => undefined;

  onHeader(stream: XmlStreamImpl, attrs: Record<string, string>): void | Promise<void> {
    this.calls.push('header');
    this.headers.push(attrs);
    return this.header(stream, attrs);
  }
  onElement(stream: XmlStreamImpl, el: Element): Promise<void> {
    this.calls.push(`element:${el.name}`);
    this.elements.push(el);
    return this.element(stream, el);
  }
  onPeerClose(stream: XmlStreamImpl): void | Promise<void> {
    this.calls.push('peer-close');
    return this.peerClose(stream);
  }
  onClosing(stream: XmlStreamImpl, options: { error?: StreamErrorSpec; reason?: string }): Promise<void> {
    this.calls.push('closing');
    this.closing.push(options);
    return this.beforeClose(stream);
  }
  onClosed(_stream: XmlStreamImpl, info: CloseInfo): void {
    this.calls.push('closed');
    this.closedInfo = info;
    this.closedCount++;
  }
}

export interface Accepted {
  stream: XmlStreamImpl;
  delegate: RecordingDelegate;
}

export interface Harness {
  port: number;
  /** The next accepted connection (in accept order). */
  accepted(): Promise<Accepted>;
  /** Destroys every stream and client, closes the server. */
  stop(): Promise<void>;
  connect(): Promise<RawClient>;
}

export async function startHarness(
  options: { limits?: Partial<StreamParserLimits>; closeHandshakeMs?: number; delegate?: () => RecordingDelegate } = {},
): Promise<Harness> {
  const acceptedList: Accepted[] = [];
  const clients: RawClient[] = [];
  const sockets = new Set<net.Socket>();
  let taken = 0;
  let seq = 0;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const delegate = options.delegate?.() ?? new RecordingDelegate();
    const stream = new XmlStreamImpl({
      socket,
      kind: 'c2s',
      secure: false,
      clock: new SystemClockImpl(),
      scheduler: new SchedulerImpl(silentLogger),
      logger: silentLogger,
      limits: { ...DEFAULT_STREAM_LIMITS, ...options.limits },
      closeHandshakeMs: options.closeHandshakeMs ?? 5000,
      delegate,
      connectionId: `test-${++seq}`,
    });
    acceptedList.push({ stream, delegate });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    async accepted() {
      const index = taken++;
      await until(() => acceptedList.length > index, 3000, 'accepted connection');
      return acceptedList[index];
    },
    async connect() {
      const c = await RawClient.connect(port);
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.destroy();
      for (const a of acceptedList) a.stream.destroy('test-end');
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A byte-level client: records everything received and when the server ended the connection. */
export class RawClient {
  private chunks: Buffer[] = [];
  /** True once the server's FIN (or a reset) arrived. */
  ended = false;
  /** True once the socket is fully closed. */
  closed = false;
  errors: Error[] = [];
  socket: net.Socket | tls.TLSSocket;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.attach(socket);
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  private readonly onData = (b: Buffer) => this.chunks.push(b);

  private attach(socket: net.Socket): void {
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('end', () => (this.ended = true));
    socket.on('close', () => {
      this.ended = true;
      this.closed = true;
    });
    socket.on('error', (e) => this.errors.push(e));
  }

  /** Everything received so far, as UTF-8 text. */
  get text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Sends one byte per write, yielding to the event loop between writes. */
  async sendBytewise(data: string): Promise<void> {
    const buf = Buffer.from(data);
    for (let i = 0; i < buf.length; i++) {
      this.socket.write(buf.subarray(i, i + 1));
      await new Promise((r) => setImmediate(r));
    }
  }

  waitFor(needle: string | RegExp, timeoutMs = 3000): Promise<void> {
    const found = () => (typeof needle === 'string' ? this.text.includes(needle) : needle.test(this.text));
    return until(found, timeoutMs, `client to receive ${String(needle)} (got: ${this.text.slice(-300)})`);
  }

  waitEnded(timeoutMs = 3000): Promise<void> {
    return until(() => this.ended, timeoutMs, 'server to end the connection');
  }

  waitClosed(timeoutMs = 3000): Promise<void> {
    return until(() => this.closed, timeoutMs, 'connection to close');
  }

  /** Continues over TLS on the same TCP connection (client side of STARTTLS). */
  async startTls(): Promise<void> {
    const plain = this.socket as net.Socket;
    plain.off('data', this.onData);
    this.chunks = [];
    const secure = tls.connect({ socket: plain, rejectUnauthorized: false, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
  }

  destroy(): void {
    this.socket.destroy();
  }
}
