/**
 * `StrandServer`: assembles the container (host services, storage, plugins, overrides), listens
 * for c2s connections (STARTTLS and direct TLS, XEP-0368) and HTTP (`/metrics`), and shuts down
 * through the close handshake.
 */
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createServer as createTlsServer, type SecureContext, type Server as TlsServer } from 'node:tls';
import { Container, ContainerModule } from 'inversify';
import {
  AccountStore,
  Authenticator,
  Clock,
  DiscoFeatureProvider,
  HostConfig,
  Logger,
  Metrics,
  OfflineStore,
  PresenceStore,
  PromMetricsImpl,
  RosterStore,
  Scheduler,
  SchedulerImpl,
  ServerInfo,
  SystemClockImpl,
  MemoryAccountStoreImpl,
  MemoryOfflineStoreImpl,
  MemoryPresenceStoreImpl,
  MemoryRosterStoreImpl,
  type PluginDefinition,
  type CloseInfo,
  type Element,
  type StreamContext,
  type StreamErrorSpec,
  MemorySessionHandoverImpl,
  MemorySharedStateImpl,
  SessionHandover,
  SharedState,
  parseJid,
} from '@strand/core';
import { C2sConnection, type C2sDeps } from './c2s/connection.js';
import { acceptComponentStream, componentDeps, type ComponentDeps } from './component/index.js';
import { hostModule } from './host-module.js';
import { imModule } from './im/index.js';
import { AddressLimits, refuseConnection } from './host/address-limits.js';
import { HookSet, HookSetToken } from './host/hook-set.js';
import { InboundProcessor } from './host/inbound.js';
import { MaxResourcesPerAccount, SessionRegistryImpl } from './host/registry.js';
import { AccountExists, ExternalRoutes, RouterImpl } from './host/router.js';
import { ClusterLinkToken } from './host/cluster-link.js';
import { RedisClusterImpl } from './cluster/redis-cluster.js';
import { PresenceServiceImpl } from './im/presence.js';
import { createLogger } from './logger.js';
import { validatePluginSection } from './config/load.js';
import { AuthenticatorImpl, ScramIterations } from './sasl/index.js';
import { XmlStreamImpl } from './stream/xml-stream.js';
import { WebSocketEndpoint, WebSocketXmlStream, type XmppWebSocket } from './websocket/index.js';
import { loadTlsMaterial, secureContextOf } from './tls.js';
import {
  PostgresAccountStoreImpl,
  PostgresDatabase,
  PostgresDatabaseToken,
  PostgresOfflineStoreImpl,
  PostgresPresenceStoreImpl,
  PostgresRosterStoreImpl,
  SqliteAccountStoreImpl,
  SqliteDatabase,
  SqliteDatabaseToken,
  SqliteOfflineStoreImpl,
  SqlitePresenceStoreImpl,
  SqliteRosterStoreImpl,
  OfflineQuota,
} from './storage/index.js';
import type { ClusterConfig } from './config/schema.js';

/** Version reported in disco and logs. */
export const STRAND_VERSION = '0.1.0';

/**
 * The validated host configuration (see `config/schema.ts` for defaults). Durations in seconds;
 * a port of 0 binds an ephemeral port, `null` disables the listener.
 */
export interface ServerConfig {
  domain: string;
  listen: { host: string; c2s: number | null; c2sTls: number | null; http: number | null; component: number | null };
  tls: { cert?: string | undefined; key?: string | undefined; selfSigned: boolean };
  /** `stanza`: an element started but not completed within it → `policy-violation` (default 60; 0 = off). */
  timeouts: { preAuth: number; closeHandshake: number; read: number; stanza?: number };
  limits: {
    maxStanzaBytes: number;
    maxDepth: number;
    maxAttributes: number;
    maxHeaderBytes: number;
    maxResourcesPerAccount: number;
    offlinePerUser: number;
    maxSaslFailures?: number;
    /** Allow-list of the per-address limits (default loopback, see SECURITY.md). */
    exemptAddresses?: string[];
    /** New connections per second and address (default 20; 0 = unlimited). */
    connectionsPerSecond?: number;
    /** Failed SASL authentications per minute and address before `temporary-auth-failure` (default 10; 0 = unlimited). */
    saslFailuresPerMinute?: number;
  };
  auth: { scramIterations: number; allowPlaintextOnLoopback: boolean; requireEncryption: boolean };
  /** `postgres.poolSize`: connections of this node's pool (default 10, 1..100). */
  storage: { kind: 'memory' } | { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string; poolSize?: number };
  /** Cluster node settings (absent: a single node). See the config schema's `cluster`. */
  cluster?: ClusterConfig;
  accounts: { username: string; password: string }[];
  components: { domain: string; secret: string }[];
  log: { level: string };
  plugins: Record<string, unknown>;
  overrides: string[];
}

/** How a plugin is given to the server: a package name to import, or a definition object. */
export type PluginSource = string | PluginDefinition;

/** Options of {@link StrandServer.create} beyond the config file. */
export interface ServerOptions {
  /** Plugin definitions to use instead of importing `config.plugins` keys by package name. */
  plugins?: Record<string, PluginDefinition>;
  /** Extra container modules loaded after plugins and overrides (tests). */
  modules?: ContainerModule[];
  logger?: Logger;
  /** Directory for generated files (self-signed certificate); default: next to the database. */
  dataDir?: string;
}

/** Bound addresses after {@link StrandServer.start}. */
export interface ListeningPorts {
  c2s?: number;
  c2sTls?: number;
  http?: number;
  component?: number;
}

interface MutableServerInfo extends ServerInfo {
  components: Map<string, { connectedAt: number }>;
}

export class StrandServer {
  readonly container: Container;
  readonly ports: ListeningPorts = {};
  private readonly streams = new Set<XmlStreamImpl | WebSocketXmlStream>();
  private readonly servers: (NetServer | TlsServer | HttpServer)[] = [];
  private tlsContext: SecureContext | undefined;
  private tlsMaterial: { cert: string; key: string } | undefined;
  private watchdog: { cancel(): void } | undefined;
  private db: SqliteDatabase | PostgresDatabase | undefined;
  private stopping: Promise<void> | undefined;
  private connectionSeq = 0;
  private readonly readTimeoutFired = new WeakMap<XmlStreamImpl | WebSocketXmlStream, number>();
  private readonly acceptedAt = new WeakMap<XmlStreamImpl | WebSocketXmlStream, number>();
  private webSocket: WebSocketEndpoint | undefined;
  /** This node's cluster services, when `cluster` is configured. */
  cluster: RedisClusterImpl | undefined;
  /** Secret of the fake SCRAM credentials of unknown accounts (see `ScramOptions.fakeSaltSecret`). */
  private fakeSaltSecret: Buffer | undefined;
  private addressLimitsCache: AddressLimits | undefined;
  private lastPrune = 0;

  private constructor(
    readonly config: ServerConfig,
    readonly logger: Logger,
    private readonly options: ServerOptions,
  ) {
    this.container = new Container();
  }

  /** Builds the container: host services, storage, plugins (validated), overrides. */
  static async create(config: ServerConfig, options: ServerOptions = {}): Promise<StrandServer> {
    const base = options.logger ?? createLogger(config.log.level);
    // Every line of a cluster node names the node.
    const logger = config.cluster ? base.child({ node: config.cluster.nodeId }) : base;
    const server = new StrandServer(config, logger, options);
    try {
      await server.assemble();
    } catch (e) {
      await server.db?.close(); // a PostgreSQL pool would keep the process alive
      throw e;
    }
    return server;
  }

  private async assemble(): Promise<void> {
    const { config, container } = this;
    const info: MutableServerInfo = {
      domain: config.domain,
      startedAt: Date.now(),
      name: 'Strand',
      version: STRAND_VERSION,
      components: new Map(),
    };
    const hostConfig: HostConfig & ServerConfig = { ...config };
    container.bind(Logger).toConstantValue(this.logger);
    container.bind(SystemClockImpl).toSelf().inSingletonScope();
    container.bind(Clock).toService(SystemClockImpl);
    container.bind(SchedulerImpl).toSelf().inSingletonScope();
    container.bind(Scheduler).toService(SchedulerImpl);
    container.bind(PromMetricsImpl).toSelf().inSingletonScope();
    container.bind(Metrics).toService(PromMetricsImpl);
    container.bind(HostConfig).toConstantValue(hostConfig);
    container.bind(ServerInfo).toConstantValue(info);
    container.bind(ScramIterations).toConstantValue(config.auth.scramIterations);
    container.bind(MaxResourcesPerAccount).toConstantValue(config.limits.maxResourcesPerAccount);
    container.bind(AuthenticatorImpl).toSelf().inSingletonScope();
    container.bind(Authenticator).toService(AuthenticatorImpl);
    await this.bindStorage();
    container.bind<AccountExists>(AccountExists).toDynamicValue((c) => {
      const accounts = c.get<AccountStore>(AccountStore);
      return async (username: string) => (await accounts.get(username)) !== undefined;
    });
    this.bindCluster();
    container.bind(HookSetToken).toDynamicValue(() => new HookSet(container)).inSingletonScope();
    container.load(hostModule, imModule);
    await this.loadPlugins();
    for (const path of config.overrides) {
      const mod = (await import(pathToFileURL(resolve(path)).href)) as { default?: unknown };
      const m = typeof mod.default === 'function' ? (mod.default as () => ContainerModule)() : mod.default;
      if (!(m instanceof ContainerModule)) throw new Error(`override ${path} must default-export a ContainerModule`);
      container.load(m);
    }
    for (const m of this.options.modules ?? []) container.load(m);
  }

  /**
   * Cluster services: Redis-backed `SessionHandover`, `SharedState` and the host's cluster link
   * when `cluster` is configured; in-memory single-node implementations otherwise.
   */
  private bindCluster(): void {
    const { config, container } = this;
    if (config.cluster) {
      const cluster = (this.cluster = new RedisClusterImpl(
        config.cluster,
        this.logger,
        container.get<Clock>(Clock),
        container.get<Scheduler>(Scheduler),
        container.get<Metrics>(Metrics),
      ));
      container.bind(RedisClusterImpl).toConstantValue(cluster);
      container.bind(ClusterLinkToken).toConstantValue(cluster);
      container.bind(SessionHandover).toConstantValue(cluster);
      container.bind(SharedState).toConstantValue(cluster);
      return;
    }
    container.bind(MemorySessionHandoverImpl).toSelf().inSingletonScope();
    container.bind(SessionHandover).toService(MemorySessionHandoverImpl);
    container.bind(MemorySharedStateImpl).toSelf().inSingletonScope();
    container.bind(SharedState).toService(MemorySharedStateImpl);
  }

  /** Opens the database (SQLite file, or PostgreSQL pool with migrations) and binds the stores. */
  private async bindStorage(): Promise<void> {
    const { config, container } = this;
    // token, then the implementation per storage kind: memory, sqlite, postgres
    const stores = [
      [AccountStore, MemoryAccountStoreImpl, SqliteAccountStoreImpl, PostgresAccountStoreImpl],
      [RosterStore, MemoryRosterStoreImpl, SqliteRosterStoreImpl, PostgresRosterStoreImpl],
      [PresenceStore, MemoryPresenceStoreImpl, SqlitePresenceStoreImpl, PostgresPresenceStoreImpl],
      [OfflineStore, MemoryOfflineStoreImpl, SqliteOfflineStoreImpl, PostgresOfflineStoreImpl],
    ] as const;
    const column = { memory: 1, sqlite: 2, postgres: 3 } as const;
    const bindStores = (kind: keyof typeof column) => {
      for (const row of stores) {
        const impl = row[column[kind]];
        container.bind(impl as never).toSelf().inSingletonScope();
        container.bind(row[0]).toService(impl as never);
      }
    };
    container.bind(OfflineQuota).toConstantValue(config.limits.offlinePerUser);
    if (config.storage.kind === 'sqlite') {
      this.db = new SqliteDatabase(resolve(config.storage.path));
      container.bind(SqliteDatabaseToken).toConstantValue(this.db);
      bindStores('sqlite');
    } else if (config.storage.kind === 'postgres') {
      const logger = this.logger;
      const db = (this.db = await PostgresDatabase.open(config.storage.url, {
        ...(config.storage.poolSize !== undefined ? { poolSize: config.storage.poolSize } : {}),
        onIdleError: (err) => logger.warn({ err }, 'PostgreSQL connection lost (idle in the pool)'),
      }));
      container.bind(PostgresDatabaseToken).toConstantValue(db);
      this.logger.info({ database: db.url, schemaVersion: await db.version() }, 'PostgreSQL storage open');
      bindStores('postgres');
    } else if (config.storage.kind === 'memory') {
      bindStores('memory');
      container.onActivation(MemoryOfflineStoreImpl, (_ctx, store) => {
        store.maxPerUser = config.limits.offlinePerUser;
        return store;
      });
    } else {
      throw new Error(`storage kind ${(config.storage as { kind: string }).kind} is not available in this build`);
    }
  }

  private async loadPlugins(): Promise<void> {
    const features: string[] = [];
    for (const [name, section] of Object.entries(this.config.plugins)) {
      const def = this.options.plugins?.[name] ?? (await importPlugin(name));
      // Throws ConfigError naming each issue's path, e.g. plugins.@strand/keepalive.maxInterval.
      const parsed = { data: validatePluginSection(name, def.configSchema, section) };
      (this.config.plugins as Record<string, unknown>)[name] = parsed.data;
      this.container.load(def.module(parsed.data));
      features.push(...(def.features ?? []));
      this.logger.info({ plugin: name }, 'plugin loaded');
    }
    if (features.length) {
      this.container.bind<DiscoFeatureProvider>(DiscoFeatureProvider).toConstantValue({ serverFeatures: features });
    }
  }

  /** Creates demo accounts, opens listeners, starts the watchdog. */
  async start(): Promise<ListeningPorts> {
    const c = this.container;
    const { config } = this;
    const clock = c.get<Clock>(Clock);
    const authenticator = c.get<Authenticator>(Authenticator);
    const accounts = c.get<AccountStore>(AccountStore);
    for (const a of config.accounts) {
      if (!(await accounts.get(a.username))) await authenticator.createAccount(a.username, a.password);
    }
    if (this.cluster) {
      // The cluster reaps what this node's previous incarnation left (its sessions announced
      // unavailable) and what dead nodes left; other nodes' presence stays current.
      const presence = c.get(PresenceServiceImpl);
      await this.cluster.start({
        registry: c.get(SessionRegistryImpl),
        router: c.get(RouterImpl),
        external: c.get(ExternalRoutes),
        sessionLost: (full, at) => presence.sessionLost(parseJid(full), at),
      });
    } else {
      // No session survives a restart: whatever was "current" becomes the last unavailable presence.
      await c.get<PresenceStore>(PresenceStore).markAllUnavailable(clock.now());
    }

    const dataDir = this.options.dataDir ?? (config.storage.kind === 'sqlite' ? dirname(resolve(config.storage.path)) : resolve('data'));
    // SCRAM answers for unknown accounts derive from this secret: it must not change across
    // restarts (nor differ between the nodes of a cluster), or probing would tell real accounts
    // from unknown ones.
    this.fakeSaltSecret = this.cluster
      ? await this.cluster.sharedSecret('sasl-fake-salt', randomBytes(32))
      : loadOrCreateSecret(join(dataDir, 'sasl-fake-salt.key'), this.logger);
    this.tlsMaterial = await loadTlsMaterial({
      cert: config.tls.cert,
      key: config.tls.key,
      domain: config.domain,
      generatedCert: join(dataDir, 'tls', 'self-signed.crt'),
      generatedKey: join(dataDir, 'tls', 'self-signed.key'),
      logger: this.logger,
    });
    this.tlsContext = secureContextOf(this.tlsMaterial);
    const host = config.listen.host;
    if (config.listen.c2s !== null) {
      const srv = createNetServer((socket) => this.accept(socket, false));
      this.ports.c2s = await listen(srv, config.listen.c2s, host);
      this.servers.push(srv);
    }
    if (config.listen.c2sTls !== null) {
      const srv = createTlsServer({ cert: this.tlsMaterial.cert, key: this.tlsMaterial.key, minVersion: 'TLSv1.2' }, (socket) =>
        this.accept(socket, true),
      );
      srv.on('tlsClientError', (err) => this.logger.debug({ err }, 'TLS handshake failed'));
      this.ports.c2sTls = await listen(srv, config.listen.c2sTls, host);
      this.servers.push(srv);
    }
    if (config.listen.component !== null) {
      const srv = createNetServer((socket) => this.acceptComponent(socket));
      this.ports.component = await listen(srv, config.listen.component, host);
      this.servers.push(srv);
    }
    if (config.listen.http !== null) {
      const metrics = c.get<Metrics>(Metrics);
      const ws = (this.webSocket = this.createWebSocketEndpoint());
      const srv = createHttpServer((req, res) => {
        if (ws.handleRequest(req, res)) return; // XEP-0156 host-meta, see websocket/
        if (req.url === '/metrics') {
          void metrics.expose().then((text) => {
            res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
            res.end(text);
          });
          return;
        }
        res.writeHead(404).end();
      });
      srv.on('upgrade', (req, socket, head: Buffer) => ws.handleUpgrade(req, socket, head)); // RFC 7395
      this.ports.http = await listen(srv, config.listen.http, host);
      this.servers.push(srv);
    }
    // Collect every contribution now, so plugin construction errors and option warnings show at start.
    const hooks = this.deps().hooks;
    void [hooks.features, hooks.nonzas, hooks.iqHandlers, hooks.stanzaHandlers, hooks.inbound, hooks.outbound, hooks.streamListeners, hooks.sessionListeners];
    this.watchdog = c.get<Scheduler>(Scheduler).setInterval(() => this.sweep(), 1000);
    this.logger.info({ domain: config.domain, ports: this.ports }, 'Strand is listening');
    return this.ports;
  }

  private c2sDeps: C2sDeps | undefined;
  /** The container's Scheduler, looked up once (not per accepted connection). */
  private schedulerCache: Scheduler | undefined;
  private deps(): C2sDeps {
    if (this.c2sDeps) return this.c2sDeps;
    const c = this.container;
    this.c2sDeps = {
      hooks: c.get<HookSet>(HookSetToken),
      registry: c.get(SessionRegistryImpl),
      inbound: c.get(InboundProcessor),
      authenticator: c.get<Authenticator>(Authenticator),
      config: c.get<HostConfig & ServerConfig>(HostConfig),
      server: c.get<ServerInfo>(ServerInfo),
      clock: c.get<Clock>(Clock),
      logger: this.logger,
      metrics: c.get<Metrics>(Metrics),
      tls: this.tlsContext,
      maxSaslFailures: this.config.limits.maxSaslFailures ?? 3,
      fakeSaltSecret: this.fakeSaltSecret ?? randomBytes(32),
      addressLimits: this.addressLimits,
    };
    return this.c2sDeps;
  }

  /** Per-address limits (connections per second, SASL failures per minute) with the allow-list. */
  private get addressLimits(): AddressLimits {
    return (this.addressLimitsCache ??= new AddressLimits(this.config.limits, this.container.get<Clock>(Clock)));
  }

  /** A new TCP (or direct TLS) connection. */
  private accept(socket: Socket, secure: boolean): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    // Writes are batched per tick by the stream itself; Nagle would only add delayed-ACK stalls
    // (e.g. ~40 ms between the stream header and the features after a restart).
    socket.setNoDelay(true);
    if (!this.addressLimits.admitConnection(socket.remoteAddress)) {
      // limits.connectionsPerSecond: header + <policy-violation/> + close tag, nothing read.
      this.container.get<Metrics>(Metrics).counter('strand_connections_refused_total', 'Connections refused by a per-address limit', ['reason']).inc({ reason: 'connection-rate' });
      refuseConnection(socket, {
        domain: this.config.domain,
        kind: 'c2s',
        text: 'too many new connections from your address; try again later',
        closeMs: this.config.timeouts.closeHandshake * 1000,
      });
      return;
    }
    const deps = this.deps();
    const c = this.container;
    let conn!: C2sConnection;
    const stream: XmlStreamImpl = new XmlStreamImpl({
      socket,
      kind: 'c2s',
      secure,
      clock: deps.clock,
      scheduler: (this.schedulerCache ??= c.get<Scheduler>(Scheduler)),
      logger: this.logger,
      limits: this.config.limits,
      closeHandshakeMs: this.config.timeouts.closeHandshake * 1000,
      // Also on the header written only to carry an early stream error (RFC 6120 §4.7.1).
      headerDefaults: { from: this.config.domain },
      connectionId: `c2s-${++this.connectionSeq}`,
      delegate: this.c2sDelegate(() => conn, () => stream),
    });
    conn = this.registerC2s(stream, secure ? 'tls' : 'tcp');
  }

  private componentDepsCache: ComponentDeps | undefined;

  /** A new XEP-0114 component connection (`listen.component`); see `component/`. */
  private acceptComponent(socket: Socket): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    this.componentDepsCache ??= componentDeps(this.container, this.config.components, this.logger);
    const stream = acceptComponentStream(socket, this.container, this.componentDepsCache, {
      connectionId: `component-${++this.connectionSeq}`,
      limits: this.config.limits,
      closeHandshakeMs: this.config.timeouts.closeHandshake * 1000,
      onClosed: (s) => this.streams.delete(s),
    });
    this.streams.add(stream);
    this.acceptedAt.set(stream, this.componentDepsCache.clock.now());
  }

  /** Once a second: pre-auth deadline and stanza timeout (slowloris defence), read timeouts. */
  private sweep(): void {
    const now = this.deps().clock.now();
    const preAuthMs = this.config.timeouts.preAuth * 1000;
    const readMs = this.config.timeouts.read * 1000;
    const stanzaMs = (this.config.timeouts.stanza ?? 60) * 1000;
    if (now - this.lastPrune >= 10_000) {
      this.lastPrune = now;
      this.addressLimits.prune();
    }
    for (const s of this.streams) {
      if (s.state !== 'open' && s.state !== 'opening') continue;
      // An element (or header) started but not completed in time: a trickling peer (slowloris).
      const since = (s as { incompleteSince?: number }).incompleteSince;
      if (stanzaMs > 0 && since !== undefined && now - since >= stanzaMs) {
        void s.close({
          error: { condition: 'policy-violation', text: `an element was not completed within ${this.config.timeouts.stanza ?? 60} s` },
          reason: 'stanza-timeout',
          // A stalled transport looks the same: stream management may keep the session.
          endSession: false,
        });
        continue;
      }
      if (!s.authenticatedJid) {
        if (now - (this.acceptedAt.get(s) ?? now) >= preAuthMs) {
          void s.close({ error: { condition: 'connection-timeout', text: 'authentication took too long' }, reason: 'pre-auth-timeout' });
        }
        continue;
      }
      if (readMs > 0 && now - s.lastReadAt >= readMs && (this.readTimeoutFired.get(s) ?? -1) < s.lastReadAt) {
        this.readTimeoutFired.set(s, s.lastReadAt);
        void this.readTimeout(s);
      }
    }
  }

  private async readTimeout(s: XmlStreamImpl | WebSocketXmlStream): Promise<void> {
    const ctx: StreamContext = { stream: s, authenticatedJid: s.authenticatedJid, session: s.session };
    for (const l of this.deps().hooks.streamListeners) {
      if (!l.onReadTimeout) continue;
      try {
        if ((await l.onReadTimeout(ctx)) === 'handled') return;
      } catch (err) {
        this.logger.error({ err, listener: l.constructor?.name }, 'onReadTimeout failed');
      }
    }
  }

  /** The RFC 7395 endpoint on the HTTP listener (`/xmpp-websocket`), see `websocket/`. */
  private createWebSocketEndpoint(): WebSocketEndpoint {
    return new WebSocketEndpoint({
      maxMessageBytes: this.config.limits.maxStanzaBytes,
      fallbackHost: () => `${this.config.domain}:${this.ports.http ?? 0}`,
      closeTimeoutMs: this.config.timeouts.closeHandshake * 1000,
      logger: this.logger,
      clock: this.container.get<Clock>(Clock),
      // limits.connectionsPerSecond, as for TCP; refused before the handshake (HTTP 429).
      admit: (req) => {
        if (this.addressLimits.admitConnection(req.socket.remoteAddress)) return true;
        this.container.get<Metrics>(Metrics).counter('strand_connections_refused_total', 'Connections refused by a per-address limit', ['reason']).inc({ reason: 'connection-rate' });
        return false;
      },
      onConnection: (ws, req) => this.acceptWebSocket(ws, req),
    });
  }

  /** A new c2s connection over WebSocket: the same negotiator as TCP, without STARTTLS. */
  private acceptWebSocket(ws: XmppWebSocket, req: IncomingMessage): void {
    if (this.stopping) {
      ws.terminate();
      return;
    }
    const deps = this.deps();
    let conn!: C2sConnection;
    const stream: WebSocketXmlStream = new WebSocketXmlStream({
      ws,
      secure: (req.socket as { encrypted?: boolean }).encrypted === true,
      remoteAddress: req.socket.remoteAddress ?? '',
      clock: deps.clock,
      scheduler: this.container.get<Scheduler>(Scheduler),
      logger: this.logger,
      limits: this.config.limits,
      closeHandshakeMs: this.config.timeouts.closeHandshake * 1000,
      headerDefaults: { from: this.config.domain },
      connectionId: `ws-${++this.connectionSeq}`,
      delegate: this.c2sDelegate(() => conn, () => stream),
    });
    conn = this.registerC2s(stream, 'websocket');
  }

  /**
   * The transport delegate of a c2s stream: forwards to its negotiator and forgets the stream once
   * it is closed. Both transports' delegate interfaces have this shape.
   */
  private c2sDelegate(conn: () => C2sConnection, stream: () => XmlStreamImpl | WebSocketXmlStream) {
    return {
      onHeader: (_s: unknown, attrs: Record<string, string>) => conn().onHeader(attrs),
      onElement: (_s: unknown, el: Element) => conn().onElement(el),
      onPeerClose: () => conn().onPeerClose(),
      onClosing: (_s: unknown, opts: { error?: StreamErrorSpec; reason?: string }) => conn().onClosing(opts),
      onClosed: async (_s: unknown, info: CloseInfo) => {
        this.streams.delete(stream());
        await conn().onClosed(info);
      },
    };
  }

  /** Creates the negotiator of a new c2s stream and starts tracking the stream (sweep, shutdown). */
  private registerC2s(stream: XmlStreamImpl | WebSocketXmlStream, transport: 'tcp' | 'tls' | 'websocket'): C2sConnection {
    const deps = this.deps();
    const conn = new C2sConnection(stream, deps);
    this.streams.add(stream);
    this.acceptedAt.set(stream, deps.clock.now());
    deps.metrics.counter('strand_connections_total', 'Accepted c2s connections', ['transport']).inc({ transport });
    return conn;
  }

  /** Number of open streams (tests, metrics). */
  get streamCount(): number {
    return this.streams.size;
  }

  /**
   * Graceful shutdown: every stream is closed with `<system-shutdown/>` through the close
   * handshake, in parallel, bounded by `timeouts.closeHandshake`; then listeners and storage close.
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.watchdog?.cancel();
    for (const srv of this.servers) srv.close();
    this.webSocket?.close();
    // A cluster node gives its resumable sessions to the other nodes first (rolling restarts).
    await this.cluster?.evacuate();
    const closing = [...this.streams].map((s) =>
      s.close({ error: { condition: 'system-shutdown' }, reason: 'shutdown', endSession: true }).catch(() => undefined),
    );
    await Promise.all(closing);
    // Sessions kept by claims (e.g. stream management hibernation) end now, with their spill.
    const registry = this.container.get(SessionRegistryImpl);
    await Promise.all([...registry.all()].map((s) => registry.end(s, 'shutdown')));
    await this.cluster?.stop();
    await this.db?.close();
    this.logger.info('Strand stopped');
  }
}

async function importPlugin(name: string): Promise<PluginDefinition> {
  const mod = (await import(name)) as { default?: PluginDefinition };
  if (!mod.default || typeof mod.default.module !== 'function') {
    throw new Error(`${name} does not default-export a Strand plugin (definePlugin)`);
  }
  return mod.default;
}

function listen(srv: NetServer | TlsServer | HttpServer, port: number, host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    srv.once('error', reject);
    srv.listen(port, host, () => {
      srv.off('error', reject);
      resolvePort((srv.address() as AddressInfo).port);
    });
  });
}

/**
 * Reads a 32-byte secret from `file`, creating it (mode 0600, with its directory) on first use.
 * A file that cannot be read or written is logged and replaced by a per-process secret.
 */
function loadOrCreateSecret(file: string, logger: Logger): Buffer {
  try {
    const existing = readFileSync(file);
    if (existing.length >= 32) return existing.subarray(0, 32);
  } catch {
    /* absent: created below */
  }
  const secret = randomBytes(32);
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, secret, { mode: 0o600 });
  } catch (err) {
    logger.warn({ err, file }, 'could not store the SASL fake-salt secret; using a per-process one');
  }
  return secret;
}
