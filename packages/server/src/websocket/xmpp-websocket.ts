/**
 * The `ws` WebSocket class the XMPP endpoint uses, so that a frame-level error found by `ws`
 * (message too big, invalid UTF-8) can still be answered with an XMPP stream error.
 */
import { WebSocket } from 'ws';

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
