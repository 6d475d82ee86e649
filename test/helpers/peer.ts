/**
 * One raw client interface over both c2s transports, so a behaviour test can be parameterised
 * over TCP and WebSocket (RFC 7395): the same login, sends, waits and close handshake, with the
 * transport's own keepalive (a whitespace byte on TCP, a ping frame on WebSocket) and close tag
 * (`</stream:stream>` or `<close/>`).
 */
import { CLOSE_TAG, WireClient } from './wire-client.js';
import { CLOSE, WsWire } from './ws-wire.js';

export type Transport = 'tcp' | 'websocket';
export const TRANSPORTS: readonly Transport[] = ['tcp', 'websocket'];

export interface Peer {
  readonly transport: Transport;
  /** The close tag of this transport. */
  readonly closeTag: string;
  /** Everything received, concatenated (WebSocket messages back to back). */
  text(): string;
  /** Keepalives received: whitespace-only reads on TCP, ping frames on WebSocket. */
  keepalives(): number;
  /** True once the connection is gone. */
  closed(): boolean;
  login(user: string, resource: string): Promise<string>;
  /** Sends one top-level element (give stanzas `xmlns='jabber:client'`: it is valid on both). */
  send(xml: string): Promise<void>;
  /** Resolves once {@link text} matches `re`. */
  waitFor(re: RegExp | string, timeoutMs?: number): Promise<void>;
  waitClosed(timeoutMs?: number): Promise<void>;
  /** Answers every XEP-0199 ping iq from now on (a live client). */
  answerPings(): void;
  destroy(): void;
}

/**
 * Connects a raw peer. `dead: true` makes a WebSocket peer ignore ping frames (no automatic pong),
 * so that, as a silent TCP peer, it reads as dead.
 */
export async function connectPeer(
  transport: Transport,
  ports: { c2s: number; http: number },
  options: { dead?: boolean } = {},
): Promise<Peer> {
  return transport === 'tcp'
    ? tcpPeer(await WireClient.connect(ports.c2s))
    : wsPeer(await WsWire.connect(ports.http, ['xmpp'], { autoPong: !options.dead }));
}

const PING = /<iq [^>]*type=["']get["'][^>]*><ping xmlns=["']urn:xmpp:ping["']\/><\/iq>/g;

function pongFor(iq: string): string {
  const id = /\sid=["']([^"']*)["']/.exec(iq)?.[1] ?? '';
  const from = /\sfrom=["']([^"']*)["']/.exec(iq)?.[1];
  return `<iq xmlns='jabber:client' type='result' id='${id}'${from ? ` to='${from}'` : ''}/>`;
}

function tcpPeer(c: WireClient): Peer {
  let answering = false;
  let answered = 0;
  c.socket.on('data', () => {
    if (!answering) return;
    const pings = c.text.match(PING) ?? [];
    for (; answered < pings.length; answered++) void c.send(pongFor(pings[answered]!));
  });
  return {
    transport: 'tcp',
    closeTag: CLOSE_TAG,
    text: () => c.text,
    keepalives: () => {
      let prev = 0;
      let n = 0;
      for (const a of c.arrivals) {
        if (/^\s+$/.test(c.text.slice(prev, a.end))) n++;
        prev = a.end;
      }
      return n;
    },
    closed: () => c.closedAt !== undefined,
    login: (user, resource) => c.login(user, 'secret', resource),
    send: (xml) => c.send(xml),
    waitFor: async (re, timeoutMs = 5000) => {
      await c.waitFor(re, timeoutMs);
    },
    waitClosed: (timeoutMs = 5000) => c.waitClosed(timeoutMs),
    answerPings: () => {
      answering = true;
      answered = (c.text.match(PING) ?? []).length;
    },
    destroy: () => c.destroy(),
  };
}

function wsPeer(w: WsWire): Peer {
  let answering = false;
  w.ws.on('message', (data) => {
    const text = String(data);
    if (answering && PING.test(text)) void w.send(pongFor(text));
    PING.lastIndex = 0;
  });
  const text = () => w.messages.map((m) => m.data).join('');
  return {
    transport: 'websocket',
    closeTag: CLOSE,
    text,
    keepalives: () => w.pings,
    closed: () => w.closeCode !== undefined,
    login: (user, resource) => w.login(user, 'secret', resource),
    send: (xml) => w.send(xml),
    waitFor: (re, timeoutMs = 5000) =>
      w.until(() => (typeof re === 'string' ? text().includes(re) : re.test(text())), timeoutMs, String(re)),
    waitClosed: (timeoutMs = 5000) => w.waitClosed(timeoutMs),
    answerPings: () => {
      answering = true;
    },
    destroy: () => w.terminate(),
  };
}
