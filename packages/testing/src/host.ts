/**
 * `TestHost`: an in-memory host on an inversify container that reproduces the host semantics of
 * DESIGN.md, and `TestClient`: one fake client connection to it.
 */
import { Container, ContainerModule, type ServiceIdentifier } from 'inversify';
import {
  AccountStore,
  Authenticator,
  Clock,
  cloneElement,
  composeInterceptors,
  Element,
  HostConfig,
  iqResult,
  isStanza,
  JID,
  Logger,
  MemoryAccountStoreImpl,
  MemorySessionHandoverImpl,
  MemorySharedStateImpl,
  SessionHandover,
  SharedState,
  MemoryOfflineStoreImpl,
  MemoryPresenceStoreImpl,
  MemoryRosterStoreImpl,
  Metrics,
  namespaceOf,
  NS,
  OfflineStore,
  PresenceStore,
  PromMetricsImpl,
  Router,
  RosterStore,
  Scheduler,
  ServerInfo,
  SessionListener,
  SessionRegistry,
  StanzaError,
  StanzaHandler,
  IqHandler,
  stanzaErrorReply,
  StreamErrorException,
  tryParseJid,
  xml,
  type CloseInfo,
  type FeatureStage,
  type HostConfig as HostConfigT,
  type InboundStanzaInterceptor,
  type IqContext,
  type PluginDefinition,
  type Router as RouterT,
  type ServerInfo as ServerInfoT,
  type StanzaContext,
  type TransportKind,
} from '@strand/core';
import {
  HostDiscoInfoHandler,
  HostPresenceHandler,
  HostPresenceListener,
  TestAuthenticatorImpl,
} from './builtins.js';
import { TestHostHooks } from './hooks.js';
import { TestLogger, type LogLevel } from './logger.js';
import { TestSessionRegistry } from './registry.js';
import { TestRouter, type Bounce, type RoutedStanza } from './router.js';
import type { SessionImpl } from './session.js';
import { FakeStream } from './stream.js';
import { FakeTime, flushMicrotasks } from './time.js';
import { parseElements } from './xml.js';

/** A plugin with its (raw, unvalidated) config section. */
export interface PluginWithConfig {
  readonly plugin: PluginDefinition;
  /** The raw section; validated with the plugin's schema. Default: `config.plugins[configKey]` or `{}`. */
  readonly config?: unknown;
}

/**
 * What {@link TestHost.create} loads, in order: a plugin definition (its section taken from
 * `config.plugins[configKey]`, default `{}`), a `[plugin, rawConfig]` pair, a
 * {@link PluginWithConfig}, or a plain `ContainerModule` (e.g. a test's own contributions).
 */
export type PluginEntry = PluginDefinition | readonly [PluginDefinition, unknown] | PluginWithConfig | ContainerModule;

/** A partial host configuration; unspecified values take the test defaults. */
export interface TestHostConfig {
  /** Default `localhost`. */
  readonly domain?: string;
  /** Seconds. Defaults: `{ preAuth: 60, closeHandshake: 5, read: 300 }`. */
  readonly timeouts?: Partial<HostConfigT['timeouts']>;
  /** Raw plugin sections by config key (validated by each loaded plugin's schema). */
  readonly plugins?: Readonly<Record<string, unknown>>;
  /** Host limits plugins see (`HostConfig.limits`), e.g. `{ exemptAddresses: [] }`. Default: none (plugins use their defaults). */
  readonly limits?: HostConfigT['limits'];
}

/** Options of {@link TestHost.create}. */
export interface TestHostOptions {
  readonly plugins?: readonly PluginEntry[];
  readonly config?: TestHostConfig;
  /** Start of fake time (epoch ms); also `ServerInfo.startedAt`. Default 2024-01-01T00:00:00Z. */
  readonly start?: number;
  /** Modules loaded after the plugins (rebind anything, as the host's `overrides:`). */
  readonly overrides?: readonly ContainerModule[];
  /** Print captured log entries at or above this level (debugging). Default: env `STRAND_TEST_LOG`. */
  readonly logEcho?: LogLevel | false;
}

/** Options of {@link TestHost.connect}. */
export interface ConnectOptions {
  /** Localpart of the account. Default `alice`. */
  readonly user?: string;
  /** Resource to bind. Default `r1` (a second client with the same user and resource replaces the first). */
  readonly resource?: string;
  /** Bind a resource (only when authenticated). Default true. */
  readonly bind?: boolean;
  /** Authenticate the stream (SASL success + stream restart). Default true. */
  readonly authenticate?: boolean;
  /** `tcp` (whitespace keepalives) or `websocket` (ping frames). Default `tcp`. */
  readonly transport?: TransportKind;
  /** Default true. */
  readonly secure?: boolean;
  /** The stream's remote address. Default `127.0.0.1`. */
  readonly remoteAddress?: string;
  /**
   * Send initial presence after binding, making the session available (a number also sets the
   * presence priority). Default false.
   */
  readonly available?: boolean | number;
}

/** Options of {@link TestClient.nextSent}. */
export interface NextSentOptions {
  /**
   * Wait up to this much **fake** time for an element (the test must advance time meanwhile);
   * rejects when it passes. Without it, `nextSent` flushes pending microtasks and rejects at once
   * when nothing was written (no hanging tests). `Infinity` waits forever.
   */
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUTS = { preAuth: 60, closeHandshake: 5, read: 300 } as const;

function isPluginDefinition(x: unknown): x is PluginDefinition {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as PluginDefinition).module === 'function' &&
    typeof (x as PluginDefinition).configKey === 'string' &&
    typeof (x as PluginDefinition).configSchema === 'object'
  );
}

/**
 * Validates a plugin's raw config section with its zod schema.
 * @throws Error listing each problem with its path, e.g. `plugins.@strand/keepalive.maxInterval: …`
 */
export function validatePluginConfig(plugin: PluginDefinition, raw: unknown): unknown {
  const result = plugin.configSchema.safeParse(raw ?? {});
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => {
    const path = ['plugins', plugin.configKey, ...i.path.map(String)].join('.');
    return `${path}: ${i.message}`;
  });
  throw new Error(`invalid configuration of ${plugin.name}:\n${lines.join('\n')}`);
}

/**
 * A fake host for plugin unit tests: no sockets, fake time, core's memory stores, and the
 * host semantics of DESIGN.md (hook ordering, sequential inbound processing, close handshake,
 * session lifecycle, minimal routing). Create it with {@link TestHost.create}.
 */
export class TestHost {
  /** The DI container (get plugin classes, `rebind` services before {@link TestHost.collectHooks}). */
  readonly container: Container;
  /** Fake clock and scheduler (bound to `Clock` and `Scheduler`). */
  readonly time: FakeTime;
  /** Captured log entries (bound to `Logger`). */
  readonly logs: TestLogger;
  /** The host configuration plugins see (bound to `HostConfig`). */
  readonly config: HostConfigT;
  /** Server facts (bound to `ServerInfo`); `components` is maintained by {@link TestHost.connectComponent}. */
  readonly serverInfo: ServerInfoT & { readonly components: Map<string, { connectedAt: number }> };
  /** The collected, priority-sorted hooks. */
  readonly hooks: TestHostHooks;
  private readonly _clients: TestClient[] = [];

  private constructor(
    container: Container,
    time: FakeTime,
    logs: TestLogger,
    config: HostConfigT,
    serverInfo: ServerInfoT & { readonly components: Map<string, { connectedAt: number }> },
    hooks: TestHostHooks,
  ) {
    this.container = container;
    this.time = time;
    this.logs = logs;
    this.config = config;
    this.serverInfo = serverInfo;
    this.hooks = hooks;
  }

  /**
   * Builds the container (services, memory stores, fake time, registry, router), validates and
   * loads the plugins and modules in order, then the overrides, and collects the hooks.
   * @throws Error when a plugin's config section is invalid (message lists each path)
   */
  static async create(options: TestHostOptions = {}): Promise<TestHost> {
    const time = new FakeTime(options.start !== undefined ? { start: options.start } : {});
    const logs = new TestLogger(options.logEcho !== undefined ? { echo: options.logEcho } : {});
    time.logger = logs;
    const domain = options.config?.domain ?? 'localhost';

    const modules: ContainerModule[] = [];
    const validated: Record<string, unknown> = {};
    const pluginFeatures: string[] = [];
    for (const entry of options.plugins ?? []) {
      if (entry instanceof ContainerModule) {
        modules.push(entry);
        continue;
      }
      let plugin: PluginDefinition;
      let raw: unknown;
      if (Array.isArray(entry)) {
        plugin = entry[0] as PluginDefinition;
        raw = entry[1];
      } else if (isPluginDefinition(entry)) {
        plugin = entry;
        raw = options.config?.plugins?.[entry.configKey];
      } else {
        const pw = entry as PluginWithConfig;
        plugin = pw.plugin;
        raw = pw.config !== undefined ? pw.config : options.config?.plugins?.[pw.plugin.configKey];
      }
      if (!isPluginDefinition(plugin)) throw new TypeError('TestHost.create: not a plugin definition or ContainerModule');
      const cfg = validatePluginConfig(plugin, raw);
      validated[plugin.configKey] = cfg;
      pluginFeatures.push(...(plugin.features ?? []));
      modules.push(plugin.module(cfg));
    }

    const config: HostConfigT = {
      domain,
      timeouts: { ...DEFAULT_TIMEOUTS, ...(options.config?.timeouts ?? {}) },
      plugins: { ...(options.config?.plugins ?? {}), ...validated },
      ...(options.config?.limits ? { limits: options.config.limits } : {}),
    };
    const serverInfo = {
      domain,
      startedAt: time.now(),
      name: 'strand-test',
      version: '0.0.0-test',
      components: new Map<string, { connectedAt: number }>(),
    };
    const hooks = new TestHostHooks();
    hooks.pluginFeatures = pluginFeatures;

    const container = new Container();
    container.load(
      new ContainerModule(({ bind }) => {
        bind(FakeTime).toConstantValue(time);
        bind(Clock).toConstantValue(time);
        bind(Scheduler).toConstantValue(time);
        bind(TestLogger).toConstantValue(logs);
        bind(Logger).toConstantValue(logs);
        bind(HostConfig).toConstantValue(config);
        bind(ServerInfo).toConstantValue(serverInfo);
        bind(TestHostHooks).toConstantValue(hooks);
        bind(PromMetricsImpl).toSelf().inSingletonScope();
        bind(Metrics).toService(PromMetricsImpl);
        bind(MemoryRosterStoreImpl).toSelf().inSingletonScope();
        bind(RosterStore).toService(MemoryRosterStoreImpl);
        bind(MemoryPresenceStoreImpl).toSelf().inSingletonScope();
        bind(PresenceStore).toService(MemoryPresenceStoreImpl);
        bind(MemoryOfflineStoreImpl).toSelf().inSingletonScope();
        bind(OfflineStore).toService(MemoryOfflineStoreImpl);
        bind(MemoryAccountStoreImpl).toSelf().inSingletonScope();
        bind(AccountStore).toService(MemoryAccountStoreImpl);
        bind(TestAuthenticatorImpl).toSelf().inSingletonScope();
        bind(Authenticator).toService(TestAuthenticatorImpl);
        bind(MemorySessionHandoverImpl).toSelf().inSingletonScope();
        bind(SessionHandover).toService(MemorySessionHandoverImpl);
        bind(MemorySharedStateImpl).toSelf().inSingletonScope();
        bind(SharedState).toService(MemorySharedStateImpl);
        bind(TestSessionRegistry).toSelf().inSingletonScope();
        bind(SessionRegistry).toService(TestSessionRegistry);
        bind(TestRouter).toSelf().inSingletonScope();
        bind(Router).toService(TestRouter);
        bind(HostPresenceHandler).toSelf().inSingletonScope();
        bind(StanzaHandler).toService(HostPresenceHandler);
        bind(HostPresenceListener).toSelf().inSingletonScope();
        bind(SessionListener).toService(HostPresenceListener);
        bind(HostDiscoInfoHandler).toSelf().inSingletonScope();
        bind(IqHandler).toService(HostDiscoInfoHandler);
      }),
    );
    for (const m of modules) await container.loadAsync(m);
    for (const m of options.overrides ?? []) await container.loadAsync(m);

    const host = new TestHost(container, time, logs, config, serverInfo, hooks);
    host.collectHooks();
    return host;
  }

  /**
   * (Re)collects every hook from the container (`isBound`/`getAll`), sorted with `byPriority`.
   * Call it after rebinding a contribution in {@link TestHost.container}.
   */
  collectHooks(): void {
    this.hooks.collect(this.container);
  }

  /** Lets pending promise continuations run without moving fake time (`time.flush()`). */
  flush(): Promise<void> {
    return this.time.flush();
  }

  /** Shorthand for `container.get(id)`. */
  get<T>(id: ServiceIdentifier<T>): T {
    return this.container.get<T>(id);
  }

  /** The session registry (`SessionRegistry`). */
  get sessions(): TestSessionRegistry {
    return this.container.get(TestSessionRegistry);
  }

  /** The router bound to `Router` (the {@link TestRouter} unless rebound). */
  get router(): RouterT {
    return this.container.get<RouterT>(Router);
  }

  /** The test router (its records stay available even if `Router` was rebound). */
  get testRouter(): TestRouter {
    return this.container.get(TestRouter);
  }

  /** Every stanza routed through the {@link TestRouter}, in order. */
  get routed(): RoutedStanza[] {
    return this.testRouter.routed;
  }

  /** Every error bounce the {@link TestRouter} produced, in order. */
  get bounces(): Bounce[] {
    return this.testRouter.bounces;
  }

  /** The `OfflineStore`. */
  get offline(): OfflineStore {
    return this.container.get<OfflineStore>(OfflineStore);
  }

  /** The `PresenceStore`. */
  get presence(): PresenceStore {
    return this.container.get<PresenceStore>(PresenceStore);
  }

  /** The `RosterStore`. */
  get roster(): RosterStore {
    return this.container.get<RosterStore>(RosterStore);
  }

  /** The `AccountStore`. */
  get accounts(): AccountStore {
    return this.container.get<AccountStore>(AccountStore);
  }

  /** The `Metrics` (a `PromMetricsImpl` unless rebound): `await host.metrics.expose()`. */
  get metrics(): Metrics {
    return this.container.get<Metrics>(Metrics);
  }

  /** Every client connected so far (including closed ones). */
  get clients(): readonly TestClient[] {
    return this._clients;
  }

  /**
   * Opens a c2s connection: `onOpened`; unless `authenticate: false`, SASL success
   * (`onAuthenticated`) and stream restart (`onOpened` again, new stream id); unless
   * `bind: false`, resource binding (`onBound`); with `available`, initial presence.
   * Stream features are not written (ask {@link TestClient.features}).
   */
  async connect(options: ConnectOptions = {}): Promise<TestClient> {
    const stream = this.createStream('c2s', options.transport ?? 'tcp', options.secure ?? true, options.remoteAddress);
    const client = new TestClient(this, stream, NS.CLIENT, options.resource ?? 'r1');
    this._clients.push(client);
    await stream.fireOpened();
    const authenticate = options.authenticate ?? true;
    if (authenticate) await client.authenticate(options.user ?? 'alice');
    if (authenticate && (options.bind ?? true)) await client.bind(options.resource ?? 'r1');
    if (options.available !== undefined && options.available !== false) {
      const presence = xml('presence');
      if (typeof options.available === 'number') presence.append(xml('priority', {}, String(options.available)));
      await client.receive(presence);
    }
    return client;
  }

  /**
   * Opens an external component connection (XEP-0114) for `domain`, already authenticated
   * (`onOpened`, `onAuthenticated`). Its stanzas must carry a `from` in its domain; stanzas routed
   * to the domain are written to its stream. Listed in `ServerInfo.components` while open.
   */
  async connectComponent(options: { domain: string }): Promise<TestClient> {
    const stream = this.createStream('component', 'tcp', true);
    const client = new TestClient(this, stream, NS.COMPONENT_ACCEPT, '');
    this._clients.push(client);
    await stream.fireOpened();
    stream.setAuthenticated(new JID(null, options.domain));
    this.testRouter.components.set(options.domain, stream);
    this.serverInfo.components.set(options.domain, { connectedAt: this.time.now() });
    await stream.fireAuthenticated();
    return client;
  }

  private createStream(kind: 'c2s' | 'component', transport: TransportKind, secure: boolean, remoteAddress?: string): FakeStream {
    const t = this.config.timeouts;
    return new FakeStream({
      ...(remoteAddress !== undefined ? { remoteAddress } : {}),
      time: this.time,
      logger: this.logs,
      kind,
      transport,
      secure,
      listeners: () => this.hooks.streamListeners,
      closeHandshakeMs: t.closeHandshake * 1000,
      readTimeoutMs: t.read * 1000,
      preAuthTimeoutMs: kind === 'c2s' ? t.preAuth * 1000 : 0,
      onClosed: (s, info) => this.streamClosed(s, info),
    });
  }

  private async streamClosed(stream: FakeStream, info: CloseInfo): Promise<void> {
    if (stream.kind === 'component') {
      const domain = stream.authenticatedJid?.domain;
      const router = this.testRouter;
      if (domain && router.components.get(domain) === stream) {
        router.components.delete(domain);
        this.serverInfo.components.delete(domain);
      }
      return;
    }
    await this.sessions.streamClosed(stream, info);
  }

  // ------------------------------------------------------------------ inbound processing

  /**
   * Processes one element from `client` as the real host does. Called by {@link TestClient.receive}
   * through the client's sequential queue; tests normally use that.
   */
  async process(client: TestClient, el: Element): Promise<void> {
    const stream = client.stream;
    if (stream.state === 'closed') {
      this.logs.debug({ name: el.name, connectionId: stream.connectionId }, 'element after close ignored');
      return;
    }
    if (isStanza(el)) {
      stream.markRead('stanza');
      await this.processStanza(stream, el);
    } else {
      stream.markRead('nonza');
      await this.processNonza(stream, el);
    }
  }

  private async processNonza(stream: FakeStream, el: Element): Promise<void> {
    const ns = namespaceOf(el);
    const name = el.getName();
    if (ns === NS.STREAM && name === 'error') {
      this.logs.info({ error: el.toString(), connectionId: stream.connectionId }, 'peer sent a stream error');
      return;
    }
    const handler = this.hooks.nonzaHandlers.find((h) => h.xmlns === ns && h.names.includes(name));
    if (!handler) {
      this.logs.debug({ ns, name }, 'unsupported nonza');
      await stream.beginClose({ error: { condition: 'unsupported-stanza-type' }, reason: 'unsupported-stanza-type' });
      return;
    }
    try {
      await handler.handle(stream.context(), el);
    } catch (err) {
      if (err instanceof StreamErrorException) {
        await stream.beginClose({ error: err.spec, reason: err.spec.condition });
      } else {
        this.logs.error({ err, ns, name }, 'nonza handler failed');
        await stream.beginClose({ error: { condition: 'internal-server-error' }, reason: 'internal-server-error' });
      }
    }
  }

  private async processStanza(stream: FakeStream, el: Element): Promise<void> {
    let from: JID;
    let session: SessionImpl | undefined;
    if (stream.kind === 'component') {
      const domain = stream.authenticatedJid?.domain;
      const f = tryParseJid(el.attrs.from);
      if (!domain || !f || f.domain !== domain) {
        await stream.beginClose({ error: { condition: 'invalid-from' }, reason: 'invalid-from' });
        return;
      }
      from = f;
    } else {
      session = stream.session as SessionImpl | undefined;
      if (!session) {
        if (!stream.authenticatedJid) {
          // RFC 6120 §4.9.3.12: stanzas before authentication.
          await stream.beginClose({ error: { condition: 'not-authorized' }, reason: 'stanza-before-auth' });
          return;
        }
        // RFC 6120 §7.1: no stanza before binding; like the real host, answer with a stanza error.
        if (el.name === 'iq' && (el.attrs.type === 'result' || el.attrs.type === 'error')) return;
        const reply = stanzaErrorReply(el, 'not-allowed', 'cancel', 'bind a resource first');
        if (reply) stream.writeStanza(reply);
        return;
      }
      const claimed = el.attrs.from as string | undefined;
      if (claimed !== undefined) {
        const f = tryParseJid(claimed);
        const ok =
          f !== undefined &&
          f.bare().toString() === session.jid.bare().toString() &&
          (f.resource === '' || f.resource === session.jid.resource);
        if (!ok) {
          await stream.beginClose({ error: { condition: 'invalid-from' }, reason: 'invalid-from' });
          return;
        }
      }
      from = session.jid;
      el.attrs.from = session.jid.toString(); // RFC 6120 §8.1.2.1
    }
    const to = tryParseJid(el.attrs.to);
    const ctx: StanzaContext = { stanza: el, stream, session, from, to };
    const run = composeInterceptors<InboundStanzaInterceptor, void>(
      this.hooks.inboundInterceptors,
      (i, next) => i.intercept(ctx, next),
      () => this.processStep(ctx),
    );
    try {
      await run();
    } catch (err) {
      this.logs.error({ err }, 'inbound stanza interceptor failed');
    }
  }

  /** The innermost inbound step: stanza handlers, iq dispatch, default routing; errors → error reply. */
  private async processStep(ctx: StanzaContext): Promise<void> {
    try {
      if (ctx.stanza.attrs.to !== undefined && !ctx.to) throw new StanzaError('jid-malformed');
      for (const h of this.hooks.stanzaHandlers) {
        if (await h.handle(ctx)) return;
      }
      await this.defaultProcessing(ctx);
    } catch (err) {
      const se = err instanceof StanzaError ? err : undefined;
      if (!se) this.logs.error({ err, stanza: ctx.stanza.toString() }, 'stanza processing failed');
      const reply = stanzaErrorReply(
        ctx.stanza,
        se?.condition ?? 'internal-server-error',
        se?.type,
        se?.text,
        se?.appCondition,
      );
      if (!reply) return;
      if (ctx.stanza.attrs.to !== undefined && !ctx.to) delete reply.attrs.from;
      await this.reply(ctx, reply);
    }
  }

  private async reply(ctx: StanzaContext, stanza: Element): Promise<void> {
    if (ctx.session) {
      const r = await ctx.session.send(stanza);
      if (r === 'refused') this.logs.debug({ to: stanza.attrs.to }, 'reply refused (stream closing or detached)');
    } else if (ctx.stream instanceof FakeStream) {
      ctx.stream.writeStanza(stanza);
    }
  }

  private async defaultProcessing(ctx: StanzaContext): Promise<void> {
    const { stanza, to } = ctx;
    if (stanza.name === 'iq') {
      await this.processIq(ctx);
      return;
    }
    if (!to) {
      if (stanza.name === 'message' && ctx.session) {
        // RFC 6120 §10.3: a message without `to` is handled as addressed to the sender's bare JID.
        const copy = cloneElement(stanza);
        copy.attrs.to = ctx.session.jid.bare().toString();
        await this.router.route(copy);
      } else {
        this.logs.debug({ stanza: stanza.toString() }, 'stanza without to dropped');
      }
      return;
    }
    await this.router.route(stanza);
  }

  private async processIq(ctx: StanzaContext): Promise<void> {
    const { stanza: iq, to, session } = ctx;
    const type = iq.attrs.type as string | undefined;
    const domain = this.config.domain;
    const toServer = !to || (to.local === '' && to.resource === '' && to.domain === domain);
    const toAccount = !!to && to.local !== '' && to.resource === '' && to.domain === domain;
    if (type === 'result' || type === 'error') {
      // Answers to the server's own requests (e.g. pings): stanza handlers had their chance.
      if (toServer || toAccount) return;
      await this.router.route(iq);
      return;
    }
    if (type !== 'get' && type !== 'set') throw new StanzaError('bad-request', undefined, 'iq type must be get, set, result or error');
    if (!toServer && !toAccount) {
      await this.router.route(iq);
      return;
    }
    const payloads = iq.getChildElements();
    if (payloads.length !== 1) throw new StanzaError('bad-request', undefined, 'iq get/set must have exactly one child');
    const payload = payloads[0]!;
    const ns = namespaceOf(payload);
    const name = payload.getName();
    const target = toServer ? 'server' : 'account';
    const handler = this.hooks.iqHandlers.find(
      (h) =>
        h.xmlns === ns &&
        h.element === name &&
        h.types.includes(type) &&
        (h.target === 'both' || h.target === target),
    );
    if (!handler) throw new StanzaError('service-unavailable');
    const ictx: IqContext = {
      iq,
      session,
      from: ctx.from,
      to: to ?? (session ? session.jid.bare() : new JID(null, domain)),
      payload,
    };
    const result = await handler.handle(ictx);
    await this.reply(ctx, iqResult(iq, result ?? undefined));
  }
}

/**
 * One fake client connection to a {@link TestHost}. Elements it sends are processed strictly one
 * at a time, in order ({@link TestClient.receive} queues them); what the server writes to it is
 * read with {@link TestClient.nextSent} / {@link TestClient.sent}.
 */
export class TestClient {
  /** The server side of this connection. */
  readonly stream: FakeStream;
  /** Resource used by {@link TestClient.bind} when none is given. */
  readonly defaultResource: string;
  private readonly host: TestHost;
  private readonly contentNs: string;
  private readonly root: Element;
  private queue: Promise<void> = Promise.resolve();
  private cursor = 0;
  private clearedAt = 0;
  private readonly waiters: Array<{ resolve: (el: Element) => void; reject: (err: Error) => void; cancel?: () => void }> = [];

  /** Created by {@link TestHost.connect} / {@link TestHost.connectComponent}. */
  constructor(host: TestHost, stream: FakeStream, contentNs: string, defaultResource: string) {
    this.host = host;
    this.stream = stream;
    this.contentNs = contentNs;
    this.defaultResource = defaultResource;
    this.root = new Element('stream:stream', { xmlns: contentNs, 'xmlns:stream': NS.STREAM });
    stream.onWrite(() => this.drainWaiters());
  }

  /** The session this connection carries (after bind or resumption). */
  get session(): SessionImpl | undefined {
    return this.stream.session as SessionImpl | undefined;
  }

  /** The bound full JID, else the authenticated JID, else undefined. */
  get jid(): JID | undefined {
    return this.session?.jid ?? this.stream.authenticatedJid;
  }

  /** Resolves once the stream is closed and handled, with how it ended. */
  get closed(): Promise<CloseInfo> {
    return this.stream.closed;
  }

  /** The `<stream:features/>` children the providers offer now at `stage`, in priority order. */
  features(stage: FeatureStage): Element[] {
    const ctx = this.stream.context();
    return this.host.hooks.streamFeatureProviders.flatMap((p) => p.offer(ctx, stage));
  }

  /**
   * The client sends one element (or several, from a string). The host processes it exactly like
   * the real host, after everything this client sent before. Resolves when it is fully processed.
   * Elements are copied (like a parser producing fresh ones) and parented to a stream header, so
   * unqualified names are in `jabber:client` (`jabber:component:accept` for components).
   * @throws Error (rejects) if the stream is already closed
   */
  receive(input: Element | string): Promise<void> {
    if (this.stream.state === 'closed') {
      return Promise.reject(new Error(`receive: stream ${this.stream.connectionId} is closed`));
    }
    const els =
      typeof input === 'string' ? parseElements(input, this.contentNs) : [this.adopt(input)];
    return this.enqueue(async () => {
      for (const el of els) await this.host.process(this, el);
    });
  }

  /** The client sends whitespace (a client keepalive): only `lastReadAt` moves. */
  receiveWhitespace(): void {
    if (this.stream.state !== 'closed') this.stream.markRead('whitespace');
  }

  /** A WebSocket pong arrives (counts as a read). */
  receivePong(): void {
    if (this.stream.state !== 'closed') this.stream.markRead('pong');
  }

  /**
   * The client sends its `</stream:stream>` (queued after earlier elements). Completes our close
   * handshake if we are closing; otherwise the peer initiated the close and its session ends
   * (`closed`). Resolves once the stream is closed and handled.
   */
  closeFromPeer(): Promise<void> {
    return this.enqueue(() => this.stream.peerClose());
  }

  /** The transport is lost (`stream.destroy()`). Resolves once the close is handled. */
  async dropTransport(reason = 'transport lost (test)'): Promise<CloseInfo> {
    this.stream.destroy(reason);
    return this.stream.closed;
  }

  /**
   * SASL success for `user` (bare JID on the host's domain): `onAuthenticated`, then a stream
   * restart (`onOpened`, new stream id).
   */
  async authenticate(user = 'alice'): Promise<void> {
    if (this.stream.authenticatedJid) throw new Error('authenticate: already authenticated');
    this.stream.setAuthenticated(new JID(user, this.host.config.domain));
    await this.stream.fireAuthenticated();
    await this.stream.restart();
  }

  /** Binds a resource (default: the `resource` given to `connect`, else `r1`); fires `onBound`. */
  async bind(resource?: string): Promise<SessionImpl> {
    return this.host.sessions.bind(this.stream, resource ?? (this.defaultResource || 'r1'));
  }

  /**
   * The next element the server wrote to this client (stanzas, nonzas, stream errors and the
   * close-tag marker, in order; keepalives are only counted). See {@link NextSentOptions}.
   */
  nextSent(options: NextSentOptions = {}): Promise<Element> {
    const written = this.stream.written;
    if (this.cursor < written.length) return Promise.resolve(written[this.cursor++]!);
    const p = new Promise<Element>((resolve, reject) => {
      const waiter: { resolve: (el: Element) => void; reject: (err: Error) => void; cancel?: () => void } = {
        resolve,
        reject,
      };
      this.waiters.push(waiter);
      const fail = (msg: string) => {
        const i = this.waiters.indexOf(waiter);
        if (i < 0) return;
        this.waiters.splice(i, 1);
        reject(new Error(msg));
      };
      const timeoutMs = options.timeoutMs;
      if (timeoutMs === undefined) {
        void flushMicrotasks(5).then(() =>
          fail('nextSent: nothing was written to the client (pass { timeoutMs } to wait in fake time)'),
        );
      } else if (Number.isFinite(timeoutMs)) {
        const timer = this.host.time.schedule(
          () => fail(`nextSent: nothing was written within ${timeoutMs} ms of fake time`),
          timeoutMs,
          { internal: true, label: 'nextSent timeout' },
        );
        waiter.cancel = () => timer.cancel();
      }
    });
    // A timeout may fire during `await time.advance()` before the test awaits this promise: do not
    // report that as an unhandled rejection (awaiting it still throws).
    p.catch(() => undefined);
    return p;
  }

  /** Every element written to this client since the last {@link TestClient.clearSent}. */
  sent(): Element[] {
    return this.stream.written.slice(this.clearedAt);
  }

  /** Stanzas only among {@link TestClient.sent}. */
  sentStanzas(): Element[] {
    return this.sent().filter((el) => isStanza(el));
  }

  /** Forgets what was written so far: `sent()` becomes empty and `nextSent` waits for new elements. */
  clearSent(): void {
    this.clearedAt = this.stream.written.length;
    this.cursor = Math.max(this.cursor, this.clearedAt);
  }

  private adopt(el: Element): Element {
    const copy = cloneElement(el);
    copy.parent = this.root;
    return copy;
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const p = this.queue.then(task);
    this.queue = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  private drainWaiters(): void {
    const written = this.stream.written;
    while (this.waiters.length > 0 && this.cursor < written.length) {
      const w = this.waiters.shift()!;
      w.cancel?.();
      w.resolve(written[this.cursor++]!);
    }
  }
}
