/**
 * XMPP over WebSocket (RFC 7395) and XEP-0156 discovery for the reference host.
 */
export { WebSocketEndpoint, WEBSOCKET_PATH, XMPP_SUBPROTOCOL, type WebSocketEndpointOptions } from './endpoint.js';
export { WebSocketXmlStream, framed, type WebSocketStreamDelegate, type WebSocketStreamOptions } from './stream.js';
export { FrameParser, type FrameResult } from './frame-parser.js';
export { XmppWebSocket, type InputProgress } from './xmpp-websocket.js';
export { REL_WEBSOCKET, hostMetaJson, hostMetaXrd, websocketUrl } from './host-meta.js';
