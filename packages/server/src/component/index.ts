/**
 * XEP-0114 external components on the server side: the `jabber:component:accept` listener's
 * per-connection wiring. `StrandServer` calls {@link acceptComponentStream} for every connection
 * accepted on `listen.component`.
 */
import type { Socket } from 'node:net';
import {
  Clock,
  HostConfig,
  Metrics,
  Scheduler,
  ServerInfo,
  type CloseInfo,
  type Logger as LoggerT,
} from '@strand/core';
import type { Container } from 'inversify';
import { HookSetToken, type HookSet } from '../host/hook-set.js';
import { InboundProcessor } from '../host/inbound.js';
import { ExternalRoutes } from '../host/router.js';
import type { StreamParserLimits } from '../stream/parser.js';
import { XmlStreamImpl } from '../stream/xml-stream.js';
import { ComponentConnection, type ComponentDeps } from './connection.js';

export { ComponentConnection, withinDomain, type ComponentDeps, type ComponentHostStream } from './connection.js';
export { handshakeDigest, verifyHandshake } from './handshake.js';

/** Builds the shared {@link ComponentDeps} from the host container and the configured components. */
export function componentDeps(
  container: Container,
  components: readonly { domain: string; secret: string }[],
  logger: LoggerT,
): ComponentDeps {
  return {
    hooks: container.get<HookSet>(HookSetToken),
    inbound: container.get(InboundProcessor),
    external: container.get(ExternalRoutes),
    server: container.get<ServerInfo>(ServerInfo),
    secrets: new Map(components.map((c) => [c.domain.toLowerCase(), c.secret])),
    clock: container.get<Clock>(Clock),
    logger,
    metrics: container.get<Metrics>(Metrics),
  };
}

/** Options of {@link acceptComponentStream}. */
export interface AcceptComponentOptions {
  connectionId: string;
  limits: StreamParserLimits;
  /** Default close-handshake wait, **milliseconds**. */
  closeHandshakeMs: number;
  /** Called once the stream is closed (after the component's `onClosed` listeners). */
  onClosed?: (stream: XmlStreamImpl, info: CloseInfo) => void;
}

/**
 * Wraps an accepted socket in an {@link XmlStreamImpl} of kind `component` (same limits and
 * close handshake as client streams) driven by a {@link ComponentConnection}.
 */
export function acceptComponentStream(
  socket: Socket,
  container: Container,
  deps: ComponentDeps,
  options: AcceptComponentOptions,
): XmlStreamImpl {
  let conn!: ComponentConnection;
  const config = container.get<HostConfig>(HostConfig);
  const stream = new XmlStreamImpl({
    socket,
    kind: 'component',
    secure: false,
    clock: deps.clock,
    scheduler: container.get(Scheduler),
    logger: deps.logger,
    limits: options.limits,
    closeHandshakeMs: options.closeHandshakeMs,
    // On the header written only to carry an early stream error (RFC 6120 §4.7.1).
    headerDefaults: { from: config.domain },
    connectionId: options.connectionId,
    delegate: {
      onHeader: (_s, attrs) => conn.onHeader(attrs),
      onElement: (_s, el) => conn.onElement(el),
      onPeerClose: () => conn.onPeerClose(),
      onClosing: (_s, opts) => conn.onClosing(opts),
      onClosed: async (s, info) => {
        try {
          await conn.onClosed(info);
        } finally {
          options.onClosed?.(s, info);
        }
      },
    },
  });
  conn = new ComponentConnection(stream, deps);
  deps.metrics.counter('strand_component_connections_total', 'Accepted XEP-0114 component connections').inc();
  return stream;
}
