/**
 * `@strand/server` — the Strand reference host.
 * @packageDocumentation
 */
import 'reflect-metadata';

export { StrandServer, STRAND_VERSION, type ServerConfig, type ServerOptions, type ListeningPorts } from './server.js';
export { SessionRegistryImpl, MaxResourcesPerAccount, ResourceLimitError } from './host/registry.js';
export { RouterImpl, ExternalRoutes, AccountExists } from './host/router.js';
export { SessionImpl } from './host/session.js';
export { InboundProcessor } from './host/inbound.js';
export { HookSet, HookSetToken } from './host/hook-set.js';
export type { HostStream } from './host/host-stream.js';
export { hostModule } from './host-module.js';
export { imModule } from './im/index.js';
export {
  WebSocketEndpoint,
  WebSocketXmlStream,
  FrameParser,
  framed,
  XmppWebSocket,
  WEBSOCKET_PATH,
  XMPP_SUBPROTOCOL,
  REL_WEBSOCKET,
  hostMetaJson,
  hostMetaXrd,
  websocketUrl,
  type WebSocketEndpointOptions,
  type WebSocketStreamDelegate,
  type WebSocketStreamOptions,
  type FrameResult,
} from './websocket/index.js';
export { ComponentConnection, handshakeDigest, verifyHandshake, withinDomain } from './component/index.js';
