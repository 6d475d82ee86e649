/**
 * WebSocket helpers for RFC 7395 tests: a message-level raw client ({@link WsWire}) that records
 * every message, ping and the closing handshake, and `@xmpp/client` sessions over WebSocket.
 */
import { WebSocket } from 'ws';
import { client, type Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import { watchClient, type TestXmpp } from './xmpp.js';

export const NS_FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
export const CLOSE = `<close xmlns='${NS_FRAMING}'/>`;

/** `<open/>` for `localhost` (RFC 7395 §3.4). */
export function open(to = 'localhost', extra = ''): string {
  return `<open xmlns='${NS_FRAMING}' to='${to}' version='1.0'${extra}/>`;
}

/** `@xmpp/client` 0.14 looks for a global `WebSocket` (Node 20 has none without a flag): use `ws`'s. */
export function installWebSocketGlobal(): void {
  const g = globalThis as { WebSocket?: unknown };
  g.WebSocket ??= WebSocket;
}

/** The endpoint URL on the server's HTTP port. */
export function wsUrl(httpPort: number, host = 'localhost'): string {
  return `ws://${host}:${httpPort}/xmpp-websocket`;
}

export interface Received {
  at: number;
  data: string;
}

export class WsWire {
  /** Every text message received, in order. */
  readonly messages: Received[] = [];
  /** Pings received from the server (`ws` answers each with a pong automatically). */
  pings = 0;
  /** The WebSocket close code and reason, once closed. */
  closeCode: number | undefined;
  closeReason = '';
  /** When the server's close frame arrived (if it started the WebSocket closing handshake). */
  closedAt: number | undefined;
  error: Error | undefined;
  readonly closed: Promise<void>;
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      this.messages.push({ at: Date.now(), data: isBinary ? `[binary ${String(data)}]` : String(data) });
      this.notify();
    });
    ws.on('ping', () => {
      this.pings++;
      this.notify();
    });
    ws.on('error', (err) => (this.error ??= err));
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        this.closedAt = Date.now();
        resolve();
        this.notify();
      }),
    );
  }

  /**
   * Opens a WebSocket to `/xmpp-websocket` offering `protocols` (default `xmpp`). With
   * `autoPong: false` the client ignores the server's pings, as a dead peer would.
   */
  static connect(httpPort: number, protocols: string[] = ['xmpp'], options: { autoPong?: boolean } = {}): Promise<WsWire> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(wsUrl(httpPort, '127.0.0.1'), protocols, { autoPong: options.autoPong ?? true });
      ws.once('open', () => {
        ws.off('error', reject);
        resolve(new WsWire(ws));
      });
      ws.once('error', reject);
    });
  }

  /** Sends one message; a Buffer is sent as a text frame unless `binary`. */
  send(data: string | Buffer, binary = false): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState !== WebSocket.OPEN) return resolve();
      this.ws.send(data, { binary }, () => resolve());
    });
  }

  /** All messages, one per line (for error messages). */
  get transcript(): string {
    return this.messages.map((m) => m.data).join('\n');
  }

  /** Resolves with the first message (at index ≥ `from`) matching `re`. */
  async waitFor(re: RegExp | string, timeoutMs = 5000, from = 0): Promise<string> {
    const find = () => this.messages.slice(from).find((m) => (typeof re === 'string' ? m.data.includes(re) : re.test(m.data)));
    await this.until(() => find() !== undefined, timeoutMs, String(re));
    return find()!.data;
  }

  waitClosed(timeoutMs = 5000): Promise<void> {
    return this.until(() => this.closeCode !== undefined, timeoutMs, 'the WebSocket to close');
  }

  until(test: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!test()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out waiting for ${what}; received:\n${this.transcript.slice(-3000)}`));
      }, timeoutMs);
      this.waiters.push(check);
    });
  }

  /** `<open/>`, SASL PLAIN (loopback), `<open/>` again, bind `resource`. Returns the bound JID. */
  async login(user: string, password = 'secret', resource = 'wire'): Promise<string> {
    await this.send(open());
    await this.waitFor(/<\/stream:features>/);
    const auth = Buffer.from(`\0${user}\0${password}`).toString('base64');
    await this.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${auth}</auth>`);
    const mark = this.messages.length;
    await this.waitFor(/<success/, 5000, mark);
    await this.send(open());
    await this.waitFor(/<\/stream:features>/, 5000, mark);
    await this.send(
      `<iq xmlns='jabber:client' type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`,
    );
    const text = await this.waitFor(/<jid>[^<]+<\/jid>/, 5000, mark);
    return /<jid>([^<]+)<\/jid>/.exec(text)![1]!;
  }

  /** Sends `<close/>` (if still open) and closes the WebSocket from our side. */
  closeNow(): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
  }

  terminate(): void {
    this.ws.terminate();
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** A started `@xmpp/client` session over WebSocket, with an inbox. */
export interface WsXmpp extends TestXmpp {
  /** Every element received at the top level (nonzas included). */
  received: Element[];
}

/** Logs `username` in with `@xmpp/client` over `ws://localhost:<httpPort>/xmpp-websocket`. */
export async function startWsClient(httpPort: number, username: string, resource = 'ws'): Promise<WsXmpp> {
  installWebSocketGlobal();
  const xmpp = client({ service: wsUrl(httpPort), domain: 'localhost', resource, username, password: 'secret' });
  const received: Element[] = [];
  xmpp.on('element', (el: Element) => received.push(el));
  const session = await watchClient(xmpp, () => {
    const socket = (xmpp as unknown as { socket?: { socket?: { terminate?: () => void; close?: () => void } } }).socket;
    socket?.socket?.terminate?.();
  });
  return { ...session, received };
}
