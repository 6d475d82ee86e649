/**
 * The `ws` WebSocket class the XMPP endpoint uses, so that a frame-level error found by `ws`
 * (message too big, invalid UTF-8) can still be answered with an XMPP stream error.
 */
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';

/**
 * When the WebSocket message (or frame) being received began to arrive, while one is incomplete.
 * The endpoint sets `incompleteSince` from a `data` listener registered on the socket *before*
 * `ws`'s own, so every chunk marks the input incomplete and the stream clears the mark when `ws`
 * delivers a complete message or control frame out of that chunk.
 */
export interface InputProgress {
  incompleteSince: number | undefined;
}

/**
 * A `ws` server-side WebSocket that lets its XMPP stream answer frame-level errors.
 *
 * When `ws`'s frame reader fails (a message above `maxPayload`: 1009; a text message that is
 * not UTF-8: 1007; a framing violation: 1002…), `ws` stops reading and calls `close(code)` at
 * once, after which nothing could be written. While {@link protocolErrorHandler} is set, such a
 * call is handed to it instead: the stream writes `<stream:error/>` and `<close/>` in its own
 * order, then closes with that code through {@link closeWebSocket}.
 */
export class XmppWebSocket extends WebSocket {
  /** Receives the close code of a frame-level error; cleared before it is called. */
  protocolErrorHandler: ((code: number) => void) | undefined;
  /** Set by `WebSocketEndpoint`: incomplete-input tracking (slowloris defence, `timeouts.stanza`). */
  inputProgress: InputProgress | undefined;
  /** Set by `WebSocketEndpoint`: the upgraded socket (writes of one tick are corked into one). */
  rawSocket: Duplex | undefined;

  override close(code?: number, data?: string | Buffer): void {
    const handler = this.protocolErrorHandler;
    if (handler && code !== undefined && code !== 1000 && this.readyState === WebSocket.OPEN) {
      this.protocolErrorHandler = undefined;
      handler(code);
      return;
    }
    super.close(code, data);
  }

  /** Starts the WebSocket closing handshake (RFC 6455 §7.1.2), bypassing the error handler. */
  closeWebSocket(code = 1000): void {
    this.protocolErrorHandler = undefined;
    super.close(code);
  }
}
