/**
 * {@link WebSocketEndpoint}: the HTTP side of the RFC 7395 binding on the host's HTTP listener —
 * the WebSocket upgrade at `/xmpp-websocket` (subprotocol `xmpp` required) and XEP-0156
 * discovery documents.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Clock, Logger } from '@strand/core';
import { hostMetaJson, hostMetaXrd, websocketUrl } from './host-meta.js';
import { XmppWebSocket, type InputProgress } from './xmpp-websocket.js';

/** The WebSocket subprotocol of RFC 7395 §3.1. */
export const XMPP_SUBPROTOCOL = 'xmpp';
/** Default path of the endpoint. */
export const WEBSOCKET_PATH = '/xmpp-websocket';

/** Options of {@link WebSocketEndpoint}. */
export interface WebSocketEndpointOptions {
  /** Path of the endpoint (default `/xmpp-websocket`). */
  path?: string;
  /**
   * Largest message accepted, in **bytes** (`limits.maxStanzaBytes`). `ws` rejects a longer
   * message from its frame header on, without buffering it; the stream answers
   * `policy-violation`.
   */
  maxMessageBytes: number;
  /** `host[:port]` for discovery documents when the request has no usable `Host` header. */
  fallbackHost: string | (() => string);
  /** How long `ws` waits for the peer's close frame after sending its own, in **milliseconds**. */
  closeTimeoutMs: number;
  logger: Logger;
  clock: Clock;
  /**
   * Admission control before the WebSocket handshake (e.g. the host's per-address connection
   * rate): false refuses the upgrade with `429 Too Many Requests`, before anything is allocated.
   */
  admit?(req: IncomingMessage): boolean;
  /** A new WebSocket with the `xmpp` subprotocol. */
  onConnection(ws: XmppWebSocket, req: IncomingMessage): void;
}

/**
 * Serves the RFC 7395 endpoint and XEP-0156 discovery on an existing `http.Server`: call
 * {@link handleRequest} first in its request listener and {@link handleUpgrade} from its
 * `upgrade` event.
 *
 * The upgrade is refused with `400 Bad Request` unless the client offers the `xmpp`
 * subprotocol (RFC 7395 §3.1: a connection without it would not be an XMPP stream), and with
 * `404` on any other path. No compression extension is negotiated.
 */
export class WebSocketEndpoint {
  readonly path: string;
  private readonly wss: WebSocketServer;
  private readonly options: WebSocketEndpointOptions;

  constructor(options: WebSocketEndpointOptions) {
    this.options = options;
    this.path = options.path ?? WEBSOCKET_PATH;
    // `closeTimeout` (ws ≥ 8.19) is not in @types/ws yet.
    const extra = { closeTimeout: options.closeTimeoutMs } as object;
    this.wss = new WebSocketServer({
      ...extra,
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: options.maxMessageBytes,
      WebSocket: XmppWebSocket,
      handleProtocols: (protocols) => (protocols.has(XMPP_SUBPROTOCOL) ? XMPP_SUBPROTOCOL : false),
    });
  }

  /**
   * Answers `GET /.well-known/host-meta` and `/.well-known/host-meta.json` (XEP-0156), and a plain
   * HTTP request to the endpoint path with `426 Upgrade Required`.
   * @returns true when the request was handled.
   */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    const path = pathOf(req);
    if (path === '/.well-known/host-meta' || path === '/.well-known/host-meta.json') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return true;
      }
      const { fallbackHost } = this.options;
      const url = websocketUrl(req, this.path, typeof fallbackHost === 'function' ? fallbackHost() : fallbackHost);
      const json = path.endsWith('.json');
      const body = json ? hostMetaJson(url) : hostMetaXrd(url);
      res.writeHead(200, {
        'content-type': json ? 'application/json' : 'application/xrd+xml; charset=utf-8',
        // XEP-0156 §3: web clients on other origins must be able to read it.
        'access-control-allow-origin': '*',
        'content-length': Buffer.byteLength(body),
      });
      res.end(req.method === 'HEAD' ? undefined : body);
      return true;
    }
    if (path === this.path) {
      res.writeHead(426, {
        upgrade: 'websocket',
        connection: 'Upgrade',
        'sec-websocket-protocol': XMPP_SUBPROTOCOL,
        'content-type': 'text/plain',
      });
      res.end('this endpoint speaks XMPP over WebSocket (RFC 7395, subprotocol "xmpp")\n');
      return true;
    }
    return false;
  }

  /** Handles an HTTP `upgrade` event; refuses anything but a WebSocket on the endpoint path with `xmpp`. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (err) => this.options.logger.debug({ err }, 'WebSocket upgrade socket error'));
    if (pathOf(req) !== this.path || String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      return refuse(socket, 404, 'Not Found');
    }
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim());
    if (!offered.includes(XMPP_SUBPROTOCOL)) {
      return refuse(socket, 400, 'Bad Request', 'the "xmpp" WebSocket subprotocol is required (RFC 7395 §3.1)\n');
    }
    if (this.options.admit && !this.options.admit(req)) {
      return refuse(socket, 429, 'Too Many Requests', 'too many new connections from your address; try again later\n', {
        'Retry-After': '1',
      });
    }
    // Registered before ws's own listener: see InputProgress.
    const progress: InputProgress = { incompleteSince: undefined };
    const clock = this.options.clock;
    socket.on('data', () => {
      progress.incompleteSince ??= clock.now();
    });
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const xws = ws as XmppWebSocket;
      xws.inputProgress = progress;
      xws.rawSocket = socket;
      this.options.onConnection(xws, req);
    });
  }

  /** Stops accepting upgrades (open WebSockets are closed by their streams). */
  close(): void {
    this.wss.close();
  }
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q >= 0 ? url.slice(0, q) : url;
}

function refuse(socket: Duplex, status: number, reason: string, body = '', headers: Record<string, string> = {}): void {
  if (!socket.writable) return void socket.destroy();
  let head = `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  socket.end(`${head}\r\n${body}`);
}
