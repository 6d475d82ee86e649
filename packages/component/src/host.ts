/**
 * {@link ComponentHost}: runs Strand plugins inside an XEP-0114 external component, on top of an
 * `@xmpp/component` connection.
 * @packageDocumentation
 */
import { EventEmitter } from 'node:events';
import { Container, ContainerModule } from 'inversify';
import { component as createXmppComponent, type Component as XmppEntity } from '@xmpp/component';
import {
  AccountStore,
  Clock,
  DiscoFeatureProvider,
  HostConfig,
  IqHandler,
  JID,
  Logger,
  MemoryAccountStoreImpl,
  MemoryOfflineStoreImpl,
  MemoryPresenceStoreImpl,
  MemoryRosterStoreImpl,
  Metrics,
  OfflineStore,
  PresenceStore,
  PromMetricsImpl,
  Router,
  RosterStore,
  Scheduler,
  SchedulerImpl,
  ServerInfo,
  SessionRegistry,
  silentLogger,
  StreamListener,
  SystemClockImpl,
  type CloseInfo,
  type Element,
  type HostConfig as HostConfigT,
  type PluginDefinition,
  type StanzaContext,
  type StreamErrorCondition,
  type Timer,
  type XmlStream,
} from '@strand/core';
import { backoffDelay } from './backoff.js';
import { ComponentDiscoInfoImpl, ComponentKeepaliveImpl, ComponentPingImpl } from './builtins.js';
import {
  ComponentSettings,
  parseComponentConfig,
  resolveComponentSettings,
  type ComponentHostConfig,
  type ComponentHostConfigInput,
  type ComponentSettings as ComponentSettingsT,
} from './config.js';
import { ComponentAuthError, ComponentConnectionError, ComponentError, ComponentStreamError, FATAL_CONDITIONS } from './errors.js';
import { ComponentHooks, ComponentHooksToken } from './hooks.js';
import { ComponentInboundImpl } from './inbound.js';
import { ComponentLink } from './link.js';
import { ComponentRouterImpl, NoSessionRegistryImpl } from './router.js';
import { ComponentStreamImpl } from './stream.js';
import type { XmppComponent } from './xmpp.js';

/** Version reported in `ServerInfo.version`. */
export const COMPONENT_HOST_VERSION = '0.1.0';

/**
 * A plugin to load: a definition (its section is `config.plugins[configKey]`, default `{}`), an
 * npm package name default-exporting one, or either with an explicit raw section.
 */
export type ComponentPluginEntry = PluginDefinition | string | readonly [PluginDefinition | string, unknown];

/** Options of {@link createComponentHost}. */
export interface ComponentHostOptions {
  /** The server's component port, `xmpp://host:port` (default port 5347). */
  service: string;
  /** The component's domain, e.g. `component.localhost`: its JID and the stream header's `to`. */
  domain: string;
  /** The shared secret of the XEP-0114 handshake. */
  password: string;
  /** Plugins, loaded in order (each section validated with the plugin's zod schema). */
  plugins?: readonly ComponentPluginEntry[];
  /** Timeouts, keepalive, reconnect, disco identity and plugin sections; see {@link ComponentHostConfigInput}. */
  config?: ComponentHostConfigInput;
  /** Container modules loaded after the plugins: the application's own hooks and overrides. */
  modules?: readonly ContainerModule[];
  /** A pino-compatible logger; default: silent. */
  logger?: Logger;
  /** Source of time (default: the wall clock). */
  clock?: Clock;
  /** Timers (default: Node timers, `unref`'d). */
  scheduler?: Scheduler;
  /** Random source of the reconnect jitter, [0, 1) (default `Math.random`). */
  random?: () => number;
}

/** Where the host is in its lifecycle. */
export type ComponentHostStatus = 'offline' | 'connecting' | 'online' | 'reconnecting' | 'stopping';

/** Events of a {@link ComponentHost}. */
export interface ComponentHostEvents {
  /** The handshake succeeded (first start or after a reconnect). */
  online: [stream: XmlStream];
  /** A connection ended (how: `info`); a reconnect may follow. */
  disconnected: [info: CloseInfo];
  /** A reconnect is scheduled in `delayMs` (attempt 1 = the first retry). */
  reconnecting: [info: { attempt: number; delayMs: number }];
  /** The host stopped (after `stop()`, or after a fatal error). */
  offline: [];
  /**
   * A background failure: a fatal {@link ComponentAuthError} during a reconnect (the host then
   * goes offline), or a failed reconnect attempt ({@link ComponentConnectionError}, retried).
   * Without a listener these are logged only.
   */
  error: [err: Error];
  /** A message or presence that no stanza handler consumed. */
  stanza: [stanza: Element, ctx: StanzaContext];
}

/** The mutable `ServerInfo` of a component: its domain and when it started. */
class ComponentServerInfo implements ServerInfo {
  readonly name = 'Strand component';
  readonly version = COMPONENT_HOST_VERSION;
  /** Always empty: a component hosts no other components. */
  readonly components = new Map<string, { connectedAt: number }>();
  constructor(
    readonly domain: string,
    public startedAt: number,
  ) {}
}

/**
 * An XEP-0114 external component that hosts Strand plugins.
 *
 * Inside it, the core hooks mean what they mean on the server, seen from the component:
 * `ServerInfo.domain` is the component's domain and `ServerInfo.startedAt` the time `start()` was
 * called, kept across reconnects (so XEP-0318 uptime answers come from the same code path as on a
 * server); the
 * connection to the server is an `XmlStream` of kind `component` whose stream listeners run as on
 * the server side; stanzas from the server run through inbound interceptors, stanza handlers and
 * iq handlers; `Router.route()` sends to the server. There are no client sessions
 * (`StanzaContext.session` is undefined, `SessionRegistry` is empty) and no outbound interceptors.
 * Stores (`PresenceStore`, `RosterStore`, …) are core's in-memory implementations; rebind them in
 * `modules` to persist.
 *
 * Lifecycle: {@link start} connects and resolves once the handshake succeeded (or rejects with a
 * {@link ComponentAuthError}, {@link ComponentStreamError} or {@link ComponentConnectionError}).
 * When an established connection is lost or closed by the server, the host reconnects with
 * exponential backoff (`config.reconnect`), except after a fatal error (`not-authorized`,
 * `host-unknown`). {@link stop} closes the stream with the handshake and stops reconnecting.
 */
export class ComponentHost extends EventEmitter<ComponentHostEvents> {
  /** The DI container (get plugin classes; `modules` may rebind anything before `start()`). */
  readonly container: Container;
  /** The component's domain (lower case). */
  readonly domain: string;
  /** Facts plugins see through `ServerInfo`. */
  readonly serverInfo: ServerInfo;
  /** The effective settings. */
  readonly settings: ComponentSettingsT;
  /** The validated configuration. */
  readonly config: ComponentHostConfig;

  private readonly entity: XmppEntity;
  private readonly info: ComponentServerInfo;
  private readonly hooks: ComponentHooks;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly scheduler: Scheduler;
  private readonly random: () => number;
  private readonly forwardToMiddleware: (el: Element) => void;
  private _status: ComponentHostStatus = 'offline';
  private current: ComponentStreamImpl | undefined;
  private connectionSeq = 0;
  private stopping = false;
  private attempts = 0;
  private reconnectTimer: Timer | undefined;
  private readTimer: Timer | undefined;
  private readTimeoutFiredAt = -1;
  private pendingOnline: { resolve: () => void; reject: (err: Error) => void } | undefined;
  private lastEntityError: Error | undefined;
  private lastStreamError: Error | undefined;

  /** Use {@link createComponentHost}. */
  constructor(options: ComponentHostOptions, config: ComponentHostConfig, plugins: readonly [PluginDefinition, unknown][]) {
    super();
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const host = this;
    this.config = config;
    this.settings = resolveComponentSettings(config, { domain: options.domain, service: options.service });
    this.domain = this.settings.domain;
    this.logger = (options.logger ?? silentLogger).child({ component: this.domain });
    this.random = options.random ?? Math.random;
    this.container = new Container();
    const c = this.container;

    c.bind(Logger).toConstantValue(this.logger);
    if (options.clock) c.bind(Clock).toConstantValue(options.clock);
    else {
      c.bind(SystemClockImpl).toSelf().inSingletonScope();
      c.bind(Clock).toService(SystemClockImpl);
    }
    if (options.scheduler) c.bind(Scheduler).toConstantValue(options.scheduler);
    else {
      c.bind(SchedulerImpl).toSelf().inSingletonScope();
      c.bind(Scheduler).toService(SchedulerImpl);
    }
    this.clock = c.get<Clock>(Clock);
    this.scheduler = c.get<Scheduler>(Scheduler);
    this.info = new ComponentServerInfo(this.domain, this.clock.now());
    this.serverInfo = this.info;

    c.bind(PromMetricsImpl).toSelf().inSingletonScope();
    c.bind(Metrics).toService(PromMetricsImpl);
    const hostConfig: HostConfigT = {
      domain: this.domain,
      timeouts: {
        preAuth: config.timeouts.connect,
        closeHandshake: config.timeouts.closeHandshake,
        read: config.timeouts.read,
      },
      plugins: {},
    };
    c.bind(HostConfig).toConstantValue(hostConfig);
    c.bind(ServerInfo).toConstantValue(this.info);
    c.bind(ComponentSettings).toConstantValue(this.settings);
    c.bind(ComponentLink).toConstantValue({
      get stream() {
        return host.current;
      },
      unhandled: (ctx: StanzaContext) => {
        if (this.listenerCount('stanza') === 0) return false;
        try {
          this.emit('stanza', ctx.stanza, ctx);
        } catch (err) {
          this.logger.error({ err }, 'stanza listener failed');
        }
        return true;
      },
      iqResponse: (iq: Element) => this.forwardToMiddleware(iq),
    });
    for (const [token, impl] of [
      [AccountStore, MemoryAccountStoreImpl],
      [RosterStore, MemoryRosterStoreImpl],
      [PresenceStore, MemoryPresenceStoreImpl],
      [OfflineStore, MemoryOfflineStoreImpl],
    ] as const) {
      c.bind(impl as never).toSelf().inSingletonScope();
      c.bind(token).toService(impl as never);
    }
    c.bind(NoSessionRegistryImpl).toSelf().inSingletonScope();
    c.bind(SessionRegistry).toService(NoSessionRegistryImpl);
    c.bind(ComponentRouterImpl).toSelf().inSingletonScope();
    c.bind(Router).toService(ComponentRouterImpl);
    c.bind(ComponentHooksToken).toConstantValue(new ComponentHooks(c));
    c.bind(ComponentInboundImpl).toSelf().inSingletonScope();
    c.bind(ComponentDiscoInfoImpl).toSelf().inSingletonScope();
    c.bind(IqHandler).toService(ComponentDiscoInfoImpl);
    c.bind(ComponentPingImpl).toSelf().inSingletonScope();
    c.bind(IqHandler).toService(ComponentPingImpl);
    c.bind(ComponentKeepaliveImpl).toSelf().inSingletonScope();
    c.bind(StreamListener).toService(ComponentKeepaliveImpl);

    const features: string[] = [];
    const sections = hostConfig.plugins as Record<string, unknown>;
    for (const [def, section] of plugins) {
      sections[def.configKey] = section;
      c.load(def.module(section as never));
      features.push(...(def.features ?? []));
      this.logger.info({ plugin: def.name }, 'plugin loaded');
    }
    if (features.length) c.bind<DiscoFeatureProvider>(DiscoFeatureProvider).toConstantValue({ serverFeatures: features });
    for (const m of options.modules ?? []) c.load(m);
    this.hooks = c.get<ComponentHooks>(ComponentHooksToken);

    // The @xmpp/component entity. Its own reconnect (fixed 1 s) is replaced by ours (backoff), and
    // its middleware no longer sees incoming elements: the Strand pipeline handles them, and only
    // iq responses nobody consumed are forwarded to it, so that `iqCaller` keeps working (its
    // `iqCallee` would otherwise answer every iq get/set a second time).
    this.entity = createXmppComponent({ service: options.service, domain: this.domain, password: options.password });
    this.entity.reconnect.stop();
    const middlewareListeners = this.entity.listeners('element') as ((el: Element) => void)[];
    for (const l of middlewareListeners) this.entity.removeListener('element', l);
    this.forwardToMiddleware = (el) => {
      for (const l of middlewareListeners) l.call(this.entity, el);
    };
    this.wireEntity();
  }

  /** The wrapped `@xmpp/component` entity (for `iqCaller` requests and raw events). */
  get xmpp(): XmppComponent {
    return this.entity as unknown as XmppComponent;
  }

  /** Where the host is in its lifecycle. */
  get status(): ComponentHostStatus {
    return this._status;
  }

  /** The current connection to the server (undefined between connections). */
  get stream(): XmlStream | undefined {
    return this.current;
  }

  /** A service from the container, e.g. a plugin class. */
  get<T>(token: symbol | (abstract new (...args: never[]) => T)): T {
    return this.container.get<T>(token as never);
  }

  /**
   * Connects and authenticates. `ServerInfo.startedAt` is set to now (reconnects keep it).
   * @returns resolves once the handshake succeeded
   * @throws ComponentAuthError wrong secret (`not-authorized`) or unknown component (`host-unknown`)
   * @throws ComponentStreamError another stream error, e.g. `conflict` (already connected)
   * @throws ComponentConnectionError TCP or stream failure, or no answer within `timeouts.connect`
   */
  async start(): Promise<void> {
    if (this._status !== 'offline') throw new ComponentError(`cannot start: the host is ${this._status}`);
    this.info.startedAt = this.clock.now();
    this.stopping = false;
    this.attempts = 0;
    this._status = 'connecting';
    try {
      await this.connectOnce();
    } catch (err) {
      this._status = 'offline';
      throw err;
    }
    this._status = 'online';
  }

  /**
   * Stops: no more reconnects; the open stream (if any) is closed with the handshake — stream
   * listeners' `onClosing`, `</stream:stream>`, then the server's close tag is awaited (at most
   * `timeouts.closeHandshake`) before the socket is ended. Idempotent.
   */
  async stop(): Promise<void> {
    if (this._status === 'offline') return;
    this.stopping = true;
    this._status = 'stopping';
    this.reconnectTimer?.cancel();
    this.reconnectTimer = undefined;
    const s = this.current;
    if (s && s.state !== 'closed') {
      if (s.authenticatedJid) await s.close({ reason: 'stop' });
      else s.destroy('stopped');
      await s.closed;
    }
    if (s) await s.drained;
    this.goOffline();
  }

  /** Sends a stanza through the component's `Router` (`from` defaults to the domain). */
  send(stanza: Element): Promise<void> {
    return this.container.get<Router>(Router).route(stanza);
  }

  // ------------------------------------------------------------------ connection

  private wireEntity(): void {
    const e = this.entity;
    e.on('input', () => this.current?.noteRead());
    e.on('output', () => this.current?.noteWrite());
    e.on('open', (header: Element) => {
      const s = this.current;
      if (s) void s.opened(header);
    });
    e.on('online', () => void this.onOnline());
    e.on('element', (el: Element) => this.current?.receive(el));
    e.on('close', () => this.current?.serverClosed());
    e.on('disconnect', () => this.current?.transportClosed());
    e.on('error', (err: Error & { condition?: string; text?: string }) => this.onEntityError(err));
  }

  private onEntityError(err: Error & { condition?: string; text?: string }): void {
    const s = this.current;
    if (err.name === 'StreamError' && typeof err.condition === 'string') {
      // The entity re-emits the same error when it also failed the pending handshake.
      if (err === this.lastStreamError) return;
      this.lastStreamError = err;
      this.logger.info({ condition: err.condition, text: err.text }, 'stream error from the server');
      s?.serverError({ condition: err.condition as StreamErrorCondition, ...(err.text ? { text: err.text } : {}) });
      return;
    }
    if (err.name === 'XMLError') {
      this.logger.warn({ err }, 'malformed XML from the server; closing with bad-format');
      s?.localError({ condition: 'bad-format' });
      return;
    }
    this.lastEntityError ??= err;
    this.logger.debug({ err }, 'connection error');
  }

  private async onOnline(): Promise<void> {
    const s = this.current;
    if (!s) return;
    await s.authenticated(new JID(null, this.domain));
    this.pendingOnline?.resolve();
  }

  private newStream(): ComponentStreamImpl {
    const stream = new ComponentStreamImpl({
      xmpp: this.entity,
      connectionId: `${this.domain}#${++this.connectionSeq}`,
      clock: this.clock,
      scheduler: this.scheduler,
      logger: this.logger,
      closeHandshakeMs: this.settings.closeHandshakeMs,
      listeners: () => this.hooks.streamListeners,
      onElement: (st, el) => this.container.get(ComponentInboundImpl).element(st, el),
      onClosed: (st, info) => this.onStreamClosed(st, info),
    });
    this.current = stream;
    return stream;
  }

  /** One connection attempt: TCP, stream header, handshake. */
  private async connectOnce(): Promise<void> {
    const stream = this.newStream();
    this.lastEntityError = undefined;
    const online = new Promise<void>((resolve, reject) => (this.pendingOnline = { resolve, reject }));
    online.catch(() => undefined);
    const e = this.entity;
    e.timeout = this.settings.connectTimeoutMs;
    await this.releaseSocket();
    const deadline = this.scheduler.setTimeout(() => {
      this.lastEntityError ??= new Error(`no handshake answer within ${this.settings.connectTimeoutMs / 1000} s`);
      stream.destroy('connect-timeout');
    }, this.settings.connectTimeoutMs);
    // Each step also fails when the stream is closed meanwhile (deadline, stop()): a destroyed
    // socket does not always settle the entity's own promises.
    const closedFirst = stream.closed.then(() => {
      throw new Error('the connection closed before the handshake completed');
    });
    closedFirst.catch(() => undefined);
    const step = <T>(p: Promise<T>): Promise<T> => Promise.race([p, closedFirst]);
    try {
      await step(e.connect(this.settings.service));
      stream.remoteAddress = e.socket?.remoteAddress ?? '';
      await step(e.open({ domain: this.domain, lang: 'en' }));
      await online;
      this.startReadWatch();
      this.emit('online', stream);
      this.logger.info({ service: this.settings.service }, 'component online');
    } catch (err) {
      if (stream.state !== 'closed') stream.destroy('connect-failed');
      const failure = this.classify(err, stream);
      // Settle the entity's own pending waits (`open`, the handshake), whose timers would
      // otherwise keep running for up to `timeouts.connect`.
      this.entity.emit('error', new ComponentError('connection attempt abandoned'));
      throw failure;
    } finally {
      deadline.cancel();
      this.pendingOnline = undefined;
    }
  }

  /**
   * Waits until the entity's previous socket (if any) is closed: `@xmpp/connection` keeps the
   * listeners of an old socket, whose late `close` would reset the new connection.
   */
  private async releaseSocket(): Promise<void> {
    const sock = this.entity.socket;
    if (!sock) return;
    await new Promise<void>((resolve) => {
      sock.once('close', () => resolve());
      if (sock.destroyed && this.entity.socket !== sock) resolve();
      else sock.destroy();
    });
  }

  /** The error an attempt failed with, most specific first. */
  private classify(err: unknown, stream: ComponentStreamImpl): Error {
    const se = stream.serverStreamError;
    if (se) {
      return FATAL_CONDITIONS.has(se.condition)
        ? new ComponentAuthError(this.domain, se.condition, se.text)
        : new ComponentStreamError(this.domain, se.condition, se.text);
    }
    if (err instanceof ComponentError) return err;
    const cause = this.lastEntityError ?? err;
    const msg = cause instanceof Error ? cause.message || cause.name : String(cause);
    return new ComponentConnectionError(this.settings.service, msg, { cause });
  }

  private onStreamClosed(stream: ComponentStreamImpl, info: CloseInfo): void {
    if (this.pendingOnline && stream === this.current) {
      // Closed before the handshake completed: the attempt fails (see classify()).
      this.pendingOnline.reject(new Error(`stream closed before the handshake completed (${info.reason ?? info.initiator})`));
      return;
    }
    if (stream !== this.current || !stream.authenticatedJid) return;
    this.readTimer?.cancel();
    this.readTimer = undefined;
    this.logger.info({ initiator: info.initiator, reason: info.reason, error: info.error?.condition }, 'component disconnected');
    this.emit('disconnected', info);
    if (this.stopping) return;
    const fatal = info.error && info.initiator === 'peer' && FATAL_CONDITIONS.has(info.error.condition);
    if (fatal || !this.settings.reconnect) {
      if (fatal) this.emitError(new ComponentAuthError(this.domain, info.error!.condition, info.error!.text));
      this.goOffline();
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const policy = this.settings.reconnect;
    if (this.stopping || !policy || this.reconnectTimer?.active) return;
    const attempt = ++this.attempts;
    const delayMs = backoffDelay(policy, attempt, this.random);
    this._status = 'reconnecting';
    this.logger.info({ attempt, delayMs }, 'reconnecting');
    this.emit('reconnecting', { attempt, delayMs });
    this.reconnectTimer = this.scheduler.setTimeout(async () => {
      this.reconnectTimer = undefined;
      if (this.stopping) return;
      try {
        await this.connectOnce();
        this.attempts = 0;
        this._status = 'online';
      } catch (err) {
        if (this.stopping) return;
        if (err instanceof ComponentAuthError) {
          this.emitError(err);
          this.goOffline();
          return;
        }
        this.logger.warn({ err, attempt }, 'reconnect attempt failed');
        this.emitError(err as Error);
        this.scheduleReconnect();
      }
    }, delayMs);
  }

  /** Read timeouts: `onReadTimeout` listeners by priority until one handles it (once per silence). */
  private startReadWatch(): void {
    const readMs = this.settings.readTimeoutMs;
    this.readTimer?.cancel();
    if (readMs <= 0) return;
    this.readTimer = this.scheduler.setInterval(() => {
      const s = this.current;
      if (!s || s.state !== 'open') return;
      if (this.clock.now() - s.lastReadAt < readMs || this.readTimeoutFiredAt >= s.lastReadAt) return;
      this.readTimeoutFiredAt = s.lastReadAt;
      void this.readTimeout(s);
    }, Math.min(1000, readMs));
  }

  private async readTimeout(s: ComponentStreamImpl): Promise<void> {
    const ctx = { stream: s, authenticatedJid: s.authenticatedJid, session: undefined };
    for (const l of this.hooks.streamListeners) {
      if (!l.onReadTimeout) continue;
      try {
        if ((await l.onReadTimeout(ctx)) === 'handled') return;
      } catch (err) {
        this.logger.error({ err, listener: l.constructor?.name }, 'onReadTimeout failed');
      }
    }
  }

  private goOffline(): void {
    this.readTimer?.cancel();
    this.readTimer = undefined;
    const was = this._status;
    this._status = 'offline';
    if (was !== 'offline') this.emit('offline');
  }

  private emitError(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
    else this.logger.error({ err }, err.message);
  }
}

/**
 * Creates a component host: validates `config` and every plugin section (errors name the path,
 * e.g. `plugins.@strand/presence-probe.rateLimit.probes: …`), builds the container (core services,
 * built-ins, plugins, then `modules`) and the `@xmpp/component` entity. Call
 * {@link ComponentHost.start} to connect.
 *
 * @example
 * ```ts
 * import { createComponentHost } from '@strand/component';
 * import presenceProbe from '@strand/presence-probe';
 * const host = await createComponentHost({
 *   service: 'xmpp://127.0.0.1:5347',
 *   domain: 'component.localhost',
 *   password: 'secret',
 *   plugins: [presenceProbe],
 *   config: { keepalive: { interval: 30 } },
 * });
 * await host.start();
 * ```
 */
export async function createComponentHost(options: ComponentHostOptions): Promise<ComponentHost> {
  if (!options.service) throw new Error('createComponentHost: service is required (xmpp://host:port)');
  if (!options.domain || /[@/\s]/u.test(options.domain)) {
    throw new Error(`createComponentHost: domain must be a bare domain, got ${JSON.stringify(options.domain)}`);
  }
  if (!options.password) throw new Error('createComponentHost: password (the shared secret) is required');
  const config = parseComponentConfig(options.config);
  const plugins: [PluginDefinition, unknown][] = [];
  const problems: string[] = [];
  for (const entry of options.plugins ?? []) {
    const [ref, explicit] = Array.isArray(entry) ? (entry as readonly [PluginDefinition | string, unknown]) : [entry as PluginDefinition | string, undefined];
    const def = typeof ref === 'string' ? await importPlugin(ref) : ref;
    const raw = Array.isArray(entry) ? explicit : config.plugins[def.configKey];
    const parsed = def.configSchema.safeParse(raw ?? {});
    if (!parsed.success) {
      for (const i of parsed.error.issues) {
        problems.push(`plugins.${def.configKey}${i.path.length ? '.' + i.path.map(String).join('.') : ''}: ${i.message}`);
      }
      continue;
    }
    plugins.push([def, parsed.data]);
  }
  if (problems.length) throw new Error(`invalid plugin configuration:\n  ${problems.join('\n  ')}`);
  return new ComponentHost(options, config, plugins);
}

async function importPlugin(name: string): Promise<PluginDefinition> {
  const mod = (await import(name)) as { default?: PluginDefinition };
  if (!mod.default || typeof mod.default.module !== 'function') {
    throw new Error(`${name} does not default-export a Strand plugin (definePlugin)`);
  }
  return mod.default;
}
