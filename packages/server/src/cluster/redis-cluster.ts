/**
 * One node of a Strand cluster on Redis (scale-out): the cluster-wide session directory, node
 * liveness with heartbeats, cross-node stanza routing, session hand-over for resumption on any
 * node, and `SharedState`.
 *
 * ## Why Redis Streams (and not pub/sub) between nodes
 * Each node reads its own inbox stream (`P:inbox:ID`) and the directory feed (`P:dir`) with one
 * blocking `XREAD`, remembering the last entry ID it processed. A pub/sub message published while
 * the subscriber's connection is down (a Redis restart, a network blip, a reconnect) is lost
 * without notice; a stream entry waits until the reader comes back and asks for entries after
 * its last ID — a stanza is not dropped because a TCP connection to Redis was re-established.
 * Entries of one writer connection keep their order, which the hand-over protocol relies on.
 * Streams are capped (`XADD MAXLEN ~ inboxMaxLen`), so a dead node's inbox cannot grow forever.
 *
 * ## Session directory
 * Every bound session has an entry in `P:sess:BARE` (node, availability, priority, current
 * presence…) and every change is appended to `P:dir`; each node keeps a replica in memory (loaded
 * with SCAN at start, then tailed), so routing never waits for Redis to find a session. Entries
 * of nodes that are not alive are ignored at once and removed when the node is reaped.
 *
 * ## Hand-over (resumption on another node) and ordering
 * Node B asks the owning node A (`ho`); A detaches and quiesces the session
 * (`SessionRegistryImpl.depart`), replies with the encoded session (`re`) and then moves the
 * directory entry and the session's hand-over keys to B; B rebuilds the session
 * (`SessionRegistryImpl.adopt`) while processing the reply, before any later inbox entry. Stanzas
 * that still reach A for the session are forwarded to B marked `fw` and delivered at once; stanzas
 * routed to B directly are held by the session until A has *fenced* every live node: each node
 * switches its replica to B and answers `fenced` on its (FIFO) connection, after everything it
 * had sent to A. When all answered (or after `handoverTimeout`), A sends `drained` and B releases
 * the held stanzas. So no stanza from one sender overtakes an earlier one across a hand-over, and
 * none is delivered twice (each takes exactly one path; XEP-0198 acknowledgements do the rest).
 *
 * A dead node's sessions are lost with its memory: their unacknowledged stanzas (the XEP-0198
 * queue) and the final `h`; resumption attempts get `<failed/>` at once (the node is known dead)
 * and the users appear unavailable to their contacts once a live node reaped the dead one (within
 * `heartbeatTtl` plus one heartbeat period).
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import { injectable } from 'inversify';
import { Redis } from 'ioredis';
import {
  parseJid,
  tryParseJid,
  type Clock,
  type Element,
  type JsonValue,
  type CounterMetric,
  type GaugeMetric,
  type HistogramMetric,
  type Logger,
  type Metrics,
  type Scheduler,
  type SendResult,
  type Session,
  type SessionHandover,
  type SharedState,
  type Timer,
} from '@strand/core';
import type { ClusterConfig } from '../config/schema.js';
import type { ClusterLink, EncodedSession } from '../host/cluster-link.js';
import type { SessionRegistryImpl } from '../host/registry.js';
import { MAX_CLUSTER_HOPS, type ExternalRoutes, type HostRouteOptions, type RouterImpl } from '../host/router.js';
import { SessionImpl, type SessionView } from '../host/session.js';
import { parseXml } from '../host/xml-parse.js';
import { RosterVersioningRequested } from '../im/roster.js';
import { ClusterKeys } from './keys.js';

/** A directory entry: what other nodes know of a bound session (JSON in `P:sess:BARE`). */
export interface DirectoryEntry {
  /** Node id. */
  n: string;
  /** Session id (logs). */
  i: string;
  /** Available (1) or not (0). */
  a: 0 | 1;
  /** Presence priority. */
  p: number;
  /** Interested resource (requested the roster). */
  r: 0 | 1;
  /** Asked for versioned roster pushes. */
  v: 0 | 1;
  /** Current broadcast presence (serialised XML) while available. */
  x?: string;
}

/** Messages between nodes (inbox entries), discriminated by `t`. */
type InboxMessage =
  /** Deliver a stanza to the session of full JID `j`; `fw`: forwarded by the previous owner. */
  | { t: 'd'; j: string; x: string; h: number; o?: number; fw?: 1 }
  /** Hand-over request for key `k` of account `b`, from node `f`, request id `r`. */
  | { t: 'ho'; r: string; f: string; k: string; b: string }
  /** A session given to this node by a node that stops (see `evacuate`). */
  | { t: 'give'; s: EncodedSession; keys: string[] }
  /** Reply to request `r`. */
  | { t: 're'; r: string; ok: boolean; s?: EncodedSession; keys?: string[] }
  /** The session of `j` now lives on `n`: switch the replica, then answer `fenced` to `f`. */
  | { t: 'fence'; r: string; f: string; j: string; n: string; e: DirectoryEntry }
  | { t: 'fenced'; r: string; f: string }
  /** Every node was fenced for `j`: release the held sends. */
  | { t: 'drained'; j: string }
  /** End the session of `j` with `<conflict/>` (the resource was bound on another node). */
  | { t: 'kick'; j: string }
  /** A stanza for an external component connected to this node (routed here, hop count `h`). */
  | { t: 'x'; x: string; h: number };

/**
 * Directory feed entries: a session entry set or deleted, or node `o` joined (alive from now on,
 * without waiting for the next liveness check) or left cleanly.
 */
type DirChange =
  | { o: string; k: 'set'; j: string; e: DirectoryEntry }
  | { o: string; k: 'del'; j: string; n: string }
  | { o: string; k: 'join' }
  | { o: string; k: 'leave' }
  /** An external component for domain `d` connected to node `o` / left node `n`. */
  | { o: string; k: 'comp'; d: string }
  | { o: string; k: 'uncomp'; d: string; n: string };

/** What the cluster needs of the host, handed over at {@link RedisClusterImpl.start}. */
export interface ClusterHost {
  registry: SessionRegistryImpl;
  router: RouterImpl;
  /** Local external component routes (XEP-0114), published cluster-wide. */
  external?: ExternalRoutes;
  /** Announces that a session of a dead node is gone (unavailable presence on its behalf). */
  sessionLost(full: string, at: number): Promise<void>;
}

/** A session bound on another node, as the local replica knows it. */
export class RemoteSession implements SessionView {
  readonly state = 'active' as const;
  readonly bare: string;
  private parsed: Element | undefined;
  constructor(
    readonly jid: ReturnType<typeof parseJid>,
    readonly entry: DirectoryEntry,
    private readonly cluster: RedisClusterImpl,
  ) {
    this.bare = jid.bare().toString();
  }
  get node(): string {
    return this.entry.n;
  }
  get available(): boolean {
    return this.entry.a === 1;
  }
  get priority(): number {
    return this.entry.p;
  }
  get interested(): boolean {
    return this.entry.r === 1;
  }
  get rosterVersioning(): boolean {
    return this.entry.v === 1;
  }
  get presence(): Element | undefined {
    if (this.entry.x === undefined) return undefined;
    return (this.parsed ??= parseXml(this.entry.x));
  }
  send(stanza: Element, routing?: HostRouteOptions): Promise<SendResult> {
    return this.cluster.forward(this.entry.n, this.jid.toString(), stanza, routing);
  }
}

interface PendingRequest {
  resolve(session: SessionImpl | undefined): void;
  onReply(msg: Extract<InboxMessage, { t: 're' }>): Promise<SessionImpl | undefined>;
  timer: Timer;
  settled: boolean;
}

interface PendingFence {
  j: string;
  newOwner: string;
  waiting: Set<string>;
  timer: Timer;
}

/** Redis-backed cluster services of one node; see the module documentation. */
@injectable()
export class RedisClusterImpl implements ClusterLink, SessionHandover, SharedState {
  readonly nodeId: string;
  private readonly keys: ClusterKeys;
  private readonly incarnation = randomBytes(8).toString('hex');
  private cmd!: Redis;
  private reader!: Redis;
  private host!: ClusterHost;
  private running = false;
  private loop: Promise<void> | undefined;
  private heartbeat: Timer | undefined;
  /** Live nodes (this one always). */
  private alive = new Set<string>();
  /** Replica of the directory: full JID → entry of a session on another node. */
  private readonly replica = new Map<string, RemoteSession>();
  private readonly replicaByBare = new Map<string, Set<string>>();
  /** External component domains connected to other nodes: domain → node. */
  private readonly remoteComponents = new Map<string, string>();
  /** Hand-over keys of local sessions. */
  private readonly handoverKeys = new Map<string, SessionImpl>();
  private readonly keysOf = new WeakMap<SessionImpl, Set<string>>();
  private readonly requests = new Map<string, PendingRequest>();
  private readonly fences = new Map<string, PendingFence>();
  /** Sessions whose directory entry must be written at the end of this tick. */
  private readonly dirty = new Set<SessionImpl>();
  private flushScheduled = false;
  private lastInbox = '0-0';
  private lastDir = '0-0';

  private readonly metrics: {
    forwarded: CounterMetric;
    received: CounterMetric;
    handovers: CounterMetric;
    handoverSeconds: HistogramMetric;
    reaped: CounterMetric;
    liveNodes: GaugeMetric;
    remoteSessions: GaugeMetric;
  };

  /**
   * @param metrics registry for the `strand_cluster_*` metrics (optional: tests)
   */
  constructor(
    private readonly config: ClusterConfig,
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly scheduler: Scheduler,
    metrics?: Metrics,
  ) {
    this.nodeId = config.nodeId;
    this.keys = new ClusterKeys(config.keyPrefix);
    this.alive.add(this.nodeId);
    const none = { inc() {}, dec() {}, set() {}, observe() {} };
    this.metrics = {
      forwarded: metrics?.counter('strand_cluster_forwarded_stanzas_total', 'Stanzas forwarded to another node') ?? none,
      received: metrics?.counter('strand_cluster_received_stanzas_total', 'Stanzas received from other nodes') ?? none,
      handovers: metrics?.counter('strand_cluster_handovers_total', 'Session hand-overs by direction and result', ['direction', 'result']) ?? none,
      handoverSeconds: metrics?.histogram('strand_cluster_claim_seconds', 'Time to claim a session from another node', [], [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5]) ?? none,
      reaped: metrics?.counter('strand_cluster_reaped_sessions_total', 'Sessions of dead nodes removed by this node') ?? none,
      liveNodes: metrics?.gauge('strand_cluster_live_nodes', 'Nodes with a heartbeat, this one included') ?? none,
      remoteSessions: metrics?.gauge('strand_cluster_remote_sessions', 'Sessions on other nodes in the directory replica') ?? none,
    };
  }

  private get ttlMs(): number {
    return Math.round(this.config.heartbeatTtl * 1000);
  }

  /**
   * Heartbeat and liveness-check period: a third of `heartbeatTtl`. The liveness key lives two
   * periods, so a live node refreshes it with one period to spare, and a dead node's key is gone
   * at most two periods after its death and noticed within the next one: within `heartbeatTtl`.
   */
  private get periodMs(): number {
    return Math.max(200, Math.floor(this.ttlMs / 3));
  }

  /** Lifetime of the liveness key, in ms (two periods). */
  private get keyTtlMs(): number {
    return 2 * this.periodMs;
  }

  // ================================================================== lifecycle

  /**
   * Connects to Redis, joins the cluster, loads the directory replica, reaps what a previous
   * incarnation of this node left behind, and starts reading the inbox and the directory feed.
   * @throws Error when Redis cannot be reached
   */
  async start(host: ClusterHost): Promise<void> {
    this.host = host;
    const options = { lazyConnect: true, enableAutoPipelining: true, maxRetriesPerRequest: 3, connectionName: `strand-${this.nodeId}` };
    this.cmd = new Redis(this.config.redis, options);
    this.reader = new Redis(this.config.redis, { ...options, enableAutoPipelining: false, maxRetriesPerRequest: null });
    this.cmd.on('error', (err) => this.logger.warn({ err: err.message }, 'cluster: redis connection error'));
    this.reader.on('error', (err) => this.logger.warn({ err: err.message }, 'cluster: redis reader connection error'));
    await Promise.all([this.cmd.connect(), this.reader.connect()]);
    await this.awaitOwnKeyGone();
    this.lastInbox = await this.lastId(this.keys.inbox(this.nodeId));
    this.lastDir = await this.lastId(this.keys.dir);
    await this.loadReplica();
    await this.loadComponents();
    // Whatever a previous incarnation of this node left is stale: no session survives a restart.
    await this.reap(this.nodeId, true);
    await this.cmd.set(this.keys.node(this.nodeId), this.incarnation, 'PX', this.keyTtlMs);
    await this.cmd.sadd(this.keys.nodes, this.nodeId);
    await this.announce('join');
    await this.checkNodes();
    if (host.external) {
      host.external.listener = {
        registered: (domain) => void this.componentChanged(domain, true),
        unregistered: (domain) => void this.componentChanged(domain, false),
      };
    }
    this.running = true;
    this.loop = this.readLoop();
    this.heartbeat = this.scheduler.setInterval(() => this.beat(), this.periodMs);
    this.logger.info({ nodeId: this.nodeId, nodes: [...this.alive] }, 'cluster: joined');
  }

  /**
   * Leaves the cluster after the host ended its sessions: flushes directory writes, removes the
   * liveness key and the node from `P:nodes`, stops reading and disconnects.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    // Fences of sessions handed over by this node complete first (bounded by their timers):
    // the new owners hold stanzas until our `drained`.
    const deadline = Date.now() + this.handoverTimeoutMs + 1000;
    while (this.fences.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    this.running = false;
    this.heartbeat?.cancel();
    await this.flushDirectory();
    for (const r of this.requests.values()) {
      r.timer.cancel();
      if (!r.settled) {
        r.settled = true;
        r.resolve(undefined); // a claim still waiting fails (`<failed/>`) instead of hanging
      }
    }
    this.requests.clear();
    for (const f of this.fences.values()) f.timer.cancel();
    try {
      await this.reap(this.nodeId, true);
      await this.cmd.del(this.keys.node(this.nodeId));
      await this.cmd.srem(this.keys.nodes, this.nodeId);
      await this.announce('leave');
    } catch (err) {
      this.logger.warn({ err }, 'cluster: leaving cleanly failed');
    }
    this.reader.disconnect();
    await this.loop?.catch(() => undefined);
    await this.cmd.quit().catch(() => undefined);
    this.logger.info({ nodeId: this.nodeId }, 'cluster: left');
  }

  /**
   * A liveness key of this `nodeId` that still exists belongs to a previous incarnation that died
   * less than `heartbeatTtl` ago — or to another live process with the same id. Waits until it
   * expires (at most the TTL); if it is refreshed meanwhile, another process heartbeats with this
   * id and starting would wipe its sessions.
   * @throws Error when another live process uses this `nodeId`
   */
  private async awaitOwnKeyGone(): Promise<void> {
    const key = this.keys.node(this.nodeId);
    let last = await this.cmd.pttl(key);
    if (last < 0) return;
    this.logger.warn({ nodeId: this.nodeId, waitMs: last }, 'cluster: a previous process of this node id is still known; waiting for its heartbeat to expire');
    for (;;) {
      await new Promise((r) => setTimeout(r, Math.min(250, Math.max(10, last))));
      const ttl = await this.cmd.pttl(key);
      if (ttl < 0) return;
      if (ttl > last + 100) {
        await Promise.all([this.cmd.quit(), this.reader.quit()]).catch(() => undefined);
        throw new Error(`cluster: another live process heartbeats as nodeId "${this.nodeId}"; node ids must be unique`);
      }
      last = ttl;
    }
  }

  private async lastId(stream: string): Promise<string> {
    const last = (await this.cmd.xrevrange(stream, '+', '-', 'COUNT', 1)) as Array<[string, string[]]>;
    return last[0]?.[0] ?? '0-0';
  }

  /** Heartbeat, liveness of the others, reaping of dead nodes. */
  private async beat(): Promise<void> {
    if (!this.running) return;
    try {
      const previous = (await this.cmd.call('SET', this.keys.node(this.nodeId), this.incarnation, 'PX', String(this.keyTtlMs), 'GET')) as string | null;
      if (previous !== this.incarnation) await this.rejoin(previous);
      await this.checkNodes();
    } catch (err) {
      this.logger.warn({ err }, 'cluster: heartbeat failed');
    }
  }

  /**
   * Our liveness key had expired (Redis was unreachable for longer than the TTL, or restarted):
   * other nodes may have reaped us. Join again and publish every local session and hand-over key
   * anew. (Contacts that were told our users went unavailable are not told otherwise until those
   * users send presence again.) A different incarnation means two processes use one `nodeId`.
   */
  private async rejoin(previous: string | null): Promise<void> {
    if (previous !== null) {
      this.logger.error({ nodeId: this.nodeId }, 'cluster: another process uses this nodeId; node ids must be unique');
    } else {
      this.logger.warn({ nodeId: this.nodeId }, 'cluster: our heartbeat had expired; joining again and republishing our sessions');
    }
    await this.cmd.sadd(this.keys.nodes, this.nodeId);
    await this.announce('join');
    for (const [name, secret] of this.secrets) await this.cmd.set(`${this.keys.prefix}:secret:${name}`, secret.toString('hex'), 'NX');
    for (const s of this.host.registry.all()) void this.published(s);
    for (const domain of this.host.external?.domains() ?? []) await this.componentChanged(domain, true);
    for (const [key, s] of this.handoverKeys) if (s.state !== 'ended') await this.storeHandoverKey(key, s);
  }

  private async checkNodes(): Promise<void> {
    const members = await this.cmd.smembers(this.keys.nodes);
    const others = members.filter((m) => m !== this.nodeId);
    const values = others.length ? await this.cmd.mget(...others.map((m) => this.keys.node(m))) : [];
    const alive = new Set<string>([this.nodeId]);
    others.forEach((m, i) => {
      if (values[i] !== null) alive.add(m);
    });
    const died = [...this.alive].filter((m) => !alive.has(m));
    this.alive = alive;
    this.metrics.liveNodes.set({}, alive.size);
    this.metrics.remoteSessions.set({}, this.replica.size);
    for (const m of died) this.logger.warn({ node: m }, 'cluster: node is dead (no heartbeat)');
    for (const m of others) if (!alive.has(m)) await this.reap(m, false);
  }

  // ================================================================== reading

  private async readLoop(): Promise<void> {
    const inbox = this.keys.inbox(this.nodeId);
    while (this.running) {
      let res: Array<[string, Array<[string, string[]]>]> | null;
      try {
        res = (await this.reader.xread('COUNT', 512, 'BLOCK', 1000, 'STREAMS', inbox, this.keys.dir, this.lastInbox, this.lastDir)) as typeof res;
      } catch (err) {
        if (!this.running) return;
        this.logger.warn({ err }, 'cluster: reading the inbox failed; retrying');
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      if (!res) continue;
      for (const [stream, entries] of res) {
        const isInbox = stream === inbox;
        for (const [id, fields] of entries) {
          if (isInbox) this.lastInbox = id;
          else this.lastDir = id;
          const raw = fields[1];
          if (raw === undefined) continue;
          let parsed: unknown;
          try {
            parsed = JSON.parse(raw);
          } catch (err) {
            this.logger.error({ err, stream }, 'cluster: unparsable stream entry');
            continue;
          }
          if (!isInbox) this.onDirChange(parsed as DirChange);
          else for (const m of fields[0] === 'b' ? (parsed as InboxMessage[]) : [parsed as InboxMessage]) await this.onInboxSafe(m);
        }
      }
    }
  }

  /** Messages to other nodes not yet written, in the order they were sent. */
  private outbox: Array<{ node: string; json: string; done: (err?: unknown) => void }> = [];
  private outboxScheduled = false;

  /**
   * Sends `msg` to `node`'s inbox. Messages sent in the same tick are written together: each run of
   * consecutive messages to one node becomes one stream entry (field `b`, a JSON array; a single
   * message: field `m`), in the order they were sent, so one writer's messages keep their order
   * (the hand-over protocol relies on it) while a burst costs one command and one wake-up of the
   * reader instead of one per stanza.
   * @returns resolves once Redis stored the entry; rejects with its error
   */
  private send(node: string, msg: InboxMessage): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.outbox.push({ node, json: JSON.stringify(msg), done: (err) => (err === undefined ? resolve() : reject(err)) });
      if (this.outboxScheduled) return;
      this.outboxScheduled = true;
      setImmediate(this.flushOutbox);
    });
  }

  private readonly flushOutbox = (): void => {
    this.outboxScheduled = false;
    const out = this.outbox;
    this.outbox = [];
    for (let i = 0; i < out.length; ) {
      let j = i + 1;
      while (j < out.length && out[j]!.node === out[i]!.node) j++;
      const run = out.slice(i, j);
      const [field, value] = run.length === 1 ? ['m', run[0]!.json] : ['b', `[${run.map((r) => r.json).join(',')}]`];
      this.cmd.xadd(this.keys.inbox(out[i]!.node), 'MAXLEN', '~', this.config.inboxMaxLen, '*', field, value).then(
        () => run.forEach((r) => r.done()),
        (err: unknown) => run.forEach((r) => r.done(err ?? new Error('XADD failed'))),
      );
      i = j;
    }
  };

  /** {@link onInbox} for one message of a batch: a failure does not skip the rest. */
  private async onInboxSafe(msg: InboxMessage): Promise<void> {
    try {
      await this.onInbox(msg);
    } catch (err) {
      this.logger.error({ err }, 'cluster: handling a message failed');
    }
  }

  private async onInbox(msg: InboxMessage): Promise<void> {
    switch (msg.t) {
      case 'd':
        return this.onDeliver(msg);
      case 'ho':
        return this.onHandoverRequest(msg);
      case 're': {
        const p = this.requests.get(msg.r);
        if (!p) return;
        this.requests.delete(msg.r);
        p.timer.cancel();
        // Adopted before the next inbox entry is read (ordering, see the module documentation),
        // even when the claimer already gave up: the session then hibernates here.
        const session = await p.onReply(msg);
        if (!p.settled) {
          p.settled = true;
          p.resolve(session);
        }
        return;
      }
      case 'give':
        await this.adopt(msg.s, msg.keys);
        return;
      case 'fence':
        this.applyEntry(msg.j, msg.e);
        return this.send(msg.f, { t: 'fenced', r: msg.r, f: this.nodeId });
      case 'fenced': {
        const f = this.fences.get(msg.r);
        if (!f) return;
        f.waiting.delete(msg.f);
        if (f.waiting.size === 0) return this.drained(msg.r);
        return;
      }
      case 'drained':
        this.host.registry.getLocal(msg.j)?.releaseSends();
        return;
      case 'x': {
        let stanza: Element;
        try {
          stanza = parseXml(msg.x);
        } catch {
          return;
        }
        await this.host.router.route(stanza, { hops: msg.h });
        return;
      }
      case 'kick': {
        const s = this.host.registry.getLocal(msg.j);
        if (s) await this.host.registry.end(s, 'replaced', { condition: 'conflict', text: 'Replaced by a new connection' });
        return;
      }
    }
  }

  /** A stanza for a session that should be here. */
  private async onDeliver(msg: Extract<InboxMessage, { t: 'd' }>): Promise<void> {
    this.metrics.received.inc();
    let stanza: Element;
    try {
      stanza = parseXml(msg.x);
    } catch (err) {
      this.logger.error({ err }, 'cluster: unparsable forwarded stanza');
      return;
    }
    const routing: HostRouteOptions = { hops: msg.h, ...(msg.o !== undefined ? { originalTime: msg.o } : {}) };
    const session = this.host.registry.getLocal(msg.j) ?? this.host.registry.leaving(msg.j);
    if (session && session.state !== 'ended') {
      if (!msg.fw && session.holdingSends) {
        // Held until the previous owner's `drained`, which arrives through this very loop: do not
        // wait for it here (the session keeps the order of the held sends).
        void session.send(stanza).then(
          (r) => (r === 'refused' ? this.undeliverable(msg, stanza, routing, session) : undefined),
          (err: unknown) => this.logger.error({ err }, 'cluster: delivering a held stanza failed'),
        );
        return;
      }
      const r = await (msg.fw ? session.sendNow(stanza) : session.send(stanza));
      if (r !== 'refused') return;
    }
    return this.undeliverable(msg, stanza, routing, session);
  }

  /** A forwarded stanza whose session is not (or no longer) here. */
  private async undeliverable(
    msg: Extract<InboxMessage, { t: 'd' }>,
    stanza: Element,
    routing: HostRouteOptions,
    session: SessionImpl | undefined,
  ): Promise<void> {
    const to = tryParseJid(msg.j);
    if (!to) return;
    // Being handed over right now: follow the session once its new owner has it.
    if (session?.moving) {
      const node = await session.moving;
      if (node !== undefined) {
        await this.forward(node, msg.j, stanza, routing, true);
        return;
      }
    }
    // Moved on (or never here): follow the directory, within the hop bound.
    const moved = this.replica.get(msg.j);
    if (moved && this.alive.has(moved.node) && msg.h < MAX_CLUSTER_HOPS) {
      await this.forward(moved.node, msg.j, stanza, routing, true);
      return;
    }
    await this.host.router.resourceUnavailable(stanza, to, routing, session);
  }

  /**
   * Forwards `stanza` to the session of `full` on `node`: queued for that node's inbox behind
   * everything sent before it (see {@link send}).
   * @returns `'written'` at once: the node takes responsibility. If Redis refuses the entry, the
   *   stanza is routed on this node like one for an unavailable resource (RFC 6121 §8.5.3.2:
   *   offline storage for messages, an error for iqs): nothing is lost silently.
   */
  async forward(node: string, full: string, stanza: Element, routing: HostRouteOptions = {}, fw = false): Promise<SendResult> {
    const msg: InboxMessage = {
      t: 'd',
      j: full,
      x: stanza.toString(),
      h: (routing.hops ?? 0) + 1,
      ...(routing.originalTime !== undefined ? { o: routing.originalTime } : {}),
      ...(fw ? { fw: 1 as const } : {}),
    };
    // Not awaited: the stanza is queued in order behind everything sent before it, and the sender's
    // stream goes on with its next stanza at once. Should Redis refuse it, it is routed here like a
    // stanza for an unavailable resource (offline storage or an error), never dropped silently.
    this.send(node, msg).then(
      () => this.metrics.forwarded.inc(),
      (err: unknown) => {
        this.logger.error({ err, node }, 'cluster: forwarding a stanza failed; routing it as undeliverable');
        const to = tryParseJid(full);
        if (to) void this.host.router.resourceUnavailable(stanza, to, { ...routing, hops: MAX_CLUSTER_HOPS }).catch(() => undefined);
      },
    );
    return Promise.resolve('written');
  }

  /** {@inheritDoc ClusterLink.forwardMoved} */
  forwardMoved(node: string, full: string, stanza: Element, routing: HostRouteOptions): Promise<SendResult> {
    return this.forward(node, full, stanza, routing, true);
  }

  // ================================================================== directory

  /** {@inheritDoc ClusterLink.remoteByBare} */
  remoteByBare(bare: string): SessionView[] {
    const fulls = this.replicaByBare.get(bare);
    if (!fulls) return [];
    const out: SessionView[] = [];
    for (const f of fulls) {
      const r = this.replica.get(f);
      if (r && r.node !== this.nodeId && this.alive.has(r.node)) out.push(r);
    }
    return out;
  }

  /** {@inheritDoc ClusterLink.remoteByFull} */
  remoteByFull(full: string): SessionView | undefined {
    const r = this.replica.get(full);
    return r && r.node !== this.nodeId && this.alive.has(r.node) ? r : undefined;
  }

  /** The directory write scheduled for this tick, if any. */
  private pendingFlush: Promise<void> | undefined;

  /** {@inheritDoc ClusterLink.published} */
  published(session: SessionImpl): Promise<void> {
    this.dirty.add(session);
    if (this.flushScheduled && this.pendingFlush) return this.pendingFlush;
    this.flushScheduled = true;
    this.pendingFlush = new Promise<void>((resolve) => queueMicrotask(() => void this.flushDirectory().then(resolve)));
    return this.pendingFlush;
  }

  /** {@inheritDoc ClusterLink.lookupRemote} */
  async lookupRemote(full: string): Promise<SessionView | undefined> {
    const known = this.remoteByFull(full);
    if (known) return known;
    const jid = tryParseJid(full);
    if (!jid || !jid.resource) return undefined;
    let raw: string | null;
    try {
      raw = await this.cmd.hget(this.keys.sessions(jid.bare().toString()), jid.resource);
    } catch {
      return undefined;
    }
    if (!raw) return undefined;
    try {
      const entry = JSON.parse(raw) as DirectoryEntry;
      if (entry.n === this.nodeId || !this.alive.has(entry.n)) return undefined;
      this.applyEntry(full, entry); // the feed had not brought it yet
      return this.replica.get(full);
    } catch {
      return undefined;
    }
  }

  /** {@inheritDoc ClusterLink.removed} */
  removed(session: SessionImpl): void {
    this.dirty.delete(session);
    const full = session.jid.toString();
    for (const key of this.keysOf.get(session) ?? []) this.withdraw(key);
    const change: DirChange = { o: this.nodeId, k: 'del', j: full, n: this.nodeId };
    void Promise.all([
      this.cmd.eval(DEL_IF_OWNER, 2, this.keys.sessions(session.bare), this.keys.sessions(session.bare), session.jid.resource, this.nodeId, '0'),
      this.cmd.srem(this.keys.nodeSessions(this.nodeId), full),
      this.feed(change),
    ]).catch((err: unknown) => this.logger.warn({ err, jid: full }, 'cluster: withdrawing a session failed'));
  }

  /** {@inheritDoc ClusterLink.kick} */
  kick(view: SessionView): void {
    if (!view.node) return;
    void this.send(view.node, { t: 'kick', j: view.jid.toString() }).catch((err: unknown) => this.logger.warn({ err }, 'cluster: kick failed'));
  }

  private entryOf(s: SessionImpl): DirectoryEntry {
    return {
      n: this.nodeId,
      i: s.id,
      a: s.available ? 1 : 0,
      p: s.priority,
      r: s.interested ? 1 : 0,
      v: s.slots.get(RosterVersioningRequested) ? 1 : 0,
      ...(s.available && s.presence ? { x: s.presence.toString() } : {}),
    };
  }

  /** Writes the entries of the sessions changed in this tick (one HSET + feed entry each). */
  private async flushDirectory(): Promise<void> {
    this.flushScheduled = false;
    const sessions = [...this.dirty];
    this.dirty.clear();
    const writes: Promise<unknown>[] = [];
    for (const s of sessions) {
      if (s.state === 'ended') continue;
      const full = s.jid.toString();
      const entry = this.entryOf(s);
      const change: DirChange = { o: this.nodeId, k: 'set', j: full, e: entry };
      writes.push(
        this.cmd.hset(this.keys.sessions(s.bare), s.jid.resource, JSON.stringify(entry)),
        this.cmd.sadd(this.keys.nodeSessions(this.nodeId), full),
        this.feed(change),
      );
    }
    await Promise.all(writes).catch((err: unknown) => this.logger.warn({ err }, 'cluster: publishing sessions failed'));
  }

  private onDirChange(change: DirChange): void {
    if (change.o === this.nodeId) return; // applied locally already
    switch (change.k) {
      case 'set':
        return this.applyEntry(change.j, change.e);
      case 'del': {
        const r = this.replica.get(change.j);
        if (r && r.node === change.n) this.dropEntry(change.j);
        return;
      }
      case 'join':
        this.alive.add(change.o);
        this.metrics.liveNodes.set({}, this.alive.size);
        return;
      case 'leave':
        this.alive.delete(change.o);
        this.metrics.liveNodes.set({}, this.alive.size);
        return;
      case 'comp':
        this.remoteComponents.set(change.d, change.o);
        return;
      case 'uncomp':
        if (this.remoteComponents.get(change.d) === change.n) this.remoteComponents.delete(change.d);
        return;
    }
  }

  // ================================================================== external components

  /** {@inheritDoc ClusterLink.componentNode} */
  componentNode(domain: string): string | undefined {
    let d = domain;
    for (;;) {
      const node = this.remoteComponents.get(d);
      if (node !== undefined && node !== this.nodeId && this.alive.has(node)) return node;
      const dot = d.indexOf('.');
      if (dot < 0) return undefined;
      d = d.slice(dot + 1);
    }
  }

  /** {@inheritDoc ClusterLink.forwardExternal} */
  forwardExternal(node: string, stanza: Element, routing: HostRouteOptions): Promise<SendResult> {
    this.send(node, { t: 'x', x: stanza.toString(), h: (routing.hops ?? 0) + 1 }).then(
      () => this.metrics.forwarded.inc(),
      (err: unknown) => {
        this.logger.error({ err, node }, 'cluster: forwarding a stanza to a component failed; bouncing it');
        void this.host.router.route(stanza, { hops: MAX_CLUSTER_HOPS }).catch(() => undefined);
      },
    );
    return Promise.resolve('written');
  }

  /** Publishes that a component for `domain` connected to (or left) this node. */
  private async componentChanged(domain: string, connected: boolean): Promise<void> {
    try {
      if (connected) {
        await Promise.all([
          this.cmd.set(this.keys.component(domain), JSON.stringify({ n: this.nodeId })),
          this.cmd.sadd(this.keys.nodeComponents(this.nodeId), domain),
          this.feed({ o: this.nodeId, k: 'comp', d: domain }),
        ]);
      } else {
        await Promise.all([
          this.cmd.eval(DEL_KEY_IF_OWNER, 1, this.keys.component(domain), this.nodeId),
          this.cmd.srem(this.keys.nodeComponents(this.nodeId), domain),
          this.feed({ o: this.nodeId, k: 'uncomp', d: domain, n: this.nodeId }),
        ]);
      }
    } catch (err) {
      this.logger.warn({ err, domain }, 'cluster: publishing a component route failed');
    }
  }

  private async loadComponents(): Promise<void> {
    await this.scanKeys(this.keys.componentsPattern, async (key) => {
      const raw = await this.cmd.get(key);
      try {
        const node = raw ? (JSON.parse(raw) as { n?: unknown }).n : undefined;
        if (typeof node === 'string') this.remoteComponents.set(key.slice(this.keys.component('').length), node);
      } catch {
        /* a malformed entry is ignored */
      }
    });
  }

  /** Tells every node at once that this node joined or leaves (see {@link DirChange}). */
  private announce(k: 'join' | 'leave'): Promise<unknown> {
    return this.feed({ o: this.nodeId, k });
  }

  /** Appends a change to the directory feed (`P:dir`) that every node tails. */
  private feed(change: DirChange): Promise<unknown> {
    return this.cmd.xadd(this.keys.dir, 'MAXLEN', '~', this.config.inboxMaxLen, '*', 'm', JSON.stringify(change));
  }

  private applyEntry(full: string, entry: DirectoryEntry): void {
    const jid = tryParseJid(full);
    if (!jid) return;
    if (entry.n === this.nodeId) {
      this.dropEntry(full); // our own sessions come from the local registry
      return;
    }
    this.replica.set(full, new RemoteSession(jid, entry, this));
    const bare = jid.bare().toString();
    let set = this.replicaByBare.get(bare);
    if (!set) this.replicaByBare.set(bare, (set = new Set()));
    set.add(full);
  }

  private dropEntry(full: string): void {
    const r = this.replica.get(full);
    if (!r) return;
    this.replica.delete(full);
    const set = this.replicaByBare.get(r.bare);
    set?.delete(full);
    if (set && set.size === 0) this.replicaByBare.delete(r.bare);
  }

  /** Calls `each` for every key matching `pattern` (SCAN, in batches). */
  private async scanKeys(pattern: string, each: (key: string) => Promise<void>): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await this.cmd.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      for (const key of keys) await each(key);
    } while (cursor !== '0');
  }

  private async loadReplica(): Promise<void> {
    await this.scanKeys(this.keys.sessionsPattern, async (key) => {
      const bare = key.slice(this.keys.sessions('').length);
      for (const [resource, json] of Object.entries(await this.cmd.hgetall(key))) {
        try {
          this.applyEntry(`${bare}/${resource}`, JSON.parse(json) as DirectoryEntry);
        } catch {
          /* a malformed entry is ignored */
        }
      }
    });
  }

  /**
   * Removes what node `id` left in Redis (directory entries, hand-over keys) and announces its
   * sessions as unavailable. Only one live node reaps a dead node (`P:reap:ID` lock).
   * @param own true for this node's previous incarnation, or on a clean stop (no lock, no announce
   *   on stop: the sessions already ended properly)
   */
  private async reap(id: string, own: boolean): Promise<void> {
    if (!own) {
      const locked = await this.cmd.set(this.keys.reapLock(id), this.nodeId, 'PX', this.ttlMs, 'NX');
      if (locked !== 'OK') return;
    }
    // A node that comes back while being reaped republishes its sessions: each deletion below is
    // made only while the node's liveness key is absent (checked atomically in the script), and
    // the reaping stops as soon as it is back. (Its own previous incarnation's key may still be
    // there at start: no check then.)
    const aliveKey = own ? '' : this.keys.node(id);
    const fulls = await this.cmd.smembers(this.keys.nodeSessions(id));
    const now = this.clock.now();
    let reaped = 0;
    for (const full of fulls) {
      const jid = tryParseJid(full);
      if (!jid) continue;
      const bare = jid.bare().toString();
      const raw = await this.cmd.hget(this.keys.sessions(bare), jid.resource);
      const entry = raw ? (JSON.parse(raw) as DirectoryEntry) : undefined;
      if (!entry || entry.n !== id) continue;
      const deleted = (await this.cmd.eval(DEL_IF_OWNER, 2, this.keys.sessions(bare), aliveKey || this.keys.sessions(bare), jid.resource, id, aliveKey ? '1' : '0')) as number;
      if (deleted < 0) {
        this.logger.warn({ node: id }, 'cluster: node came back while being reaped; stopped');
        return;
      }
      if (deleted === 0) continue;
      reaped++;
      if (!own) this.metrics.reaped.inc();
      const change: DirChange = { o: this.nodeId, k: 'del', j: full, n: id };
      await this.feed(change);
      const r = this.replica.get(full);
      if (r && r.node === id) this.dropEntry(full);
      if (entry.a === 1) {
        try {
          await this.host.sessionLost(full, now);
        } catch (err) {
          this.logger.error({ err, jid: full }, 'cluster: announcing a lost session failed');
        }
      }
    }
    for (const key of await this.cmd.smembers(this.keys.nodeHandoverKeys(id))) {
      await this.cmd.eval(DEL_KEY_IF_OWNER, 1, this.keys.handoverKey(key), id);
    }
    for (const domain of await this.cmd.smembers(this.keys.nodeComponents(id))) {
      if ((await this.cmd.eval(DEL_KEY_IF_OWNER, 1, this.keys.component(domain), id)) !== 1) continue;
      const change: DirChange = { o: this.nodeId, k: 'uncomp', d: domain, n: id };
      await this.feed(change);
      if (this.remoteComponents.get(domain) === id) this.remoteComponents.delete(domain);
    }
    const cleared = (await this.cmd.eval(
      CLEAR_NODE,
      5,
      aliveKey || this.keys.nodeSessions(id),
      this.keys.nodeSessions(id),
      this.keys.nodeHandoverKeys(id),
      this.keys.nodes,
      this.keys.nodeComponents(id),
      aliveKey ? '1' : '0',
      own ? '' : id,
    )) as number;
    if (!own && cleared === 1) {
      this.logger.warn({ node: id, sessions: reaped }, 'cluster: reaped a dead node');
    }
  }

  // ================================================================== SessionHandover

  /** {@inheritDoc SessionHandover.publish} */
  publish(key: string, session: Session): void {
    const s = session as SessionImpl;
    this.nameLocally(key, s);
    this.storeHandoverKey(key, s).catch((err: unknown) => this.logger.warn({ err }, 'cluster: publishing a hand-over key failed'));
  }

  /** Names a session of this node by `key` in the local maps. */
  private nameLocally(key: string, session: SessionImpl): void {
    this.handoverKeys.set(key, session);
    let keys = this.keysOf.get(session);
    if (!keys) this.keysOf.set(session, (keys = new Set()));
    keys.add(key);
  }

  /** Records in Redis that `key` names `session`, on this node. */
  private async storeHandoverKey(key: string, session: SessionImpl): Promise<void> {
    await Promise.all([
      this.cmd.set(this.keys.handoverKey(key), JSON.stringify({ n: this.nodeId, j: session.jid.toString() })),
      this.cmd.sadd(this.keys.nodeHandoverKeys(this.nodeId), key),
    ]);
  }

  /** {@inheritDoc SessionHandover.withdraw} */
  withdraw(key: string): void {
    const s = this.handoverKeys.get(key);
    this.handoverKeys.delete(key);
    if (s) this.keysOf.get(s)?.delete(key);
    void Promise.all([
      this.cmd.eval(DEL_KEY_IF_OWNER, 1, this.keys.handoverKey(key), this.nodeId),
      this.cmd.srem(this.keys.nodeHandoverKeys(this.nodeId), key),
    ]).catch((err: unknown) => this.logger.warn({ err }, 'cluster: withdrawing a hand-over key failed'));
  }

  /** {@inheritDoc SessionHandover.lookup} */
  lookup(key: string): Session | undefined {
    const s = this.handoverKeys.get(key);
    if (s && s.state === 'ended') {
      this.handoverKeys.delete(key);
      return undefined;
    }
    return s;
  }

  /** {@inheritDoc SessionHandover.claim} */
  async claim(key: string, bare?: string): Promise<Session | undefined> {
    const local = this.lookup(key);
    if (local) return bare === undefined || local.jid.bare().toString() === bare ? local : undefined;
    const raw = await this.cmd.get(this.keys.handoverKey(key));
    if (!raw) return undefined;
    let owner: { n: string; j: string };
    try {
      owner = JSON.parse(raw) as { n: string; j: string };
    } catch {
      return undefined;
    }
    if (bare !== undefined && tryParseJid(owner.j)?.bare().toString() !== bare) return undefined;
    if (owner.n === this.nodeId || !this.alive.has(owner.n)) {
      this.metrics.handovers.inc({ direction: 'in', result: 'node-dead' });
      return undefined; // stale, or its node is dead
    }
    const r = randomBytes(9).toString('base64url');
    const started = process.hrtime.bigint();
    const done = (session: SessionImpl | undefined, result: string): SessionImpl | undefined => {
      this.metrics.handovers.inc({ direction: 'in', result });
      if (session) this.metrics.handoverSeconds.observe({}, Number(process.hrtime.bigint() - started) / 1e9);
      return session;
    };
    return new Promise<SessionImpl | undefined>((settle) => {
      const resolve = (session: SessionImpl | undefined, result = session ? 'ok' : 'refused'): void => void settle(done(session, result));
      const pending: PendingRequest = {
        settled: false,
        resolve,
        onReply: async (msg) => (msg.ok && msg.s ? this.adopt(msg.s, msg.keys ?? []) : undefined),
        timer: this.scheduler.setTimeout(() => {
          if (pending.settled) return;
          pending.settled = true;
          this.logger.warn({ node: owner.n }, 'cluster: hand-over timed out');
          resolve(undefined, 'timeout');
        }, this.handoverTimeoutMs),
      };
      this.requests.set(r, pending);
      this.send(owner.n, { t: 'ho', r, f: this.nodeId, k: key, b: bare ?? '' }).catch((err: unknown) => {
        this.logger.warn({ err }, 'cluster: hand-over request failed');
        this.requests.delete(r);
        pending.timer.cancel();
        if (!pending.settled) {
          pending.settled = true;
          resolve(undefined, 'error');
        }
      });
      // A reply that never comes is forgotten after a long grace period.
      this.scheduler.setTimeout(() => void this.requests.delete(r), this.handoverTimeoutMs * 10);
    });
  }

  private get handoverTimeoutMs(): number {
    return Math.round(this.config.handoverTimeout * 1000);
  }

  /** Rebuilds a session handed over to this node and takes its hand-over keys. */
  private async adopt(encoded: EncodedSession, keys: string[]): Promise<SessionImpl> {
    const session = await this.host.registry.adopt(encoded);
    for (const k of keys) this.nameLocally(k, session);
    // Whatever happens to the fence, held stanzas are released eventually.
    this.scheduler.setTimeout(() => session.releaseSends(), this.handoverTimeoutMs * 2);
    return session;
  }

  /** Another node claims one of our sessions: depart, reply, move the entry, fence. */
  private async onHandoverRequest(msg: Extract<InboxMessage, { t: 'ho' }>): Promise<void> {
    const session = this.handoverKeys.get(msg.k);
    if (!session || session.state === 'ended' || (msg.b && session.bare !== msg.b)) {
      return this.send(msg.f, { t: 're', r: msg.r, ok: false });
    }
    const keys = [...(this.keysOf.get(session) ?? [])];
    const encoded = await this.host.registry.depart(session);
    if (!encoded) return this.send(msg.f, { t: 're', r: msg.r, ok: false });
    await this.moveTo(session, keys, msg.f, { t: 're', r: msg.r, ok: true, s: encoded, keys });
    this.metrics.handovers.inc({ direction: 'out', result: 'ok' });
  }

  /**
   * The second half of a hand-over, once `session` departed: sends `message` (carrying the
   * encoded session) to `target` first — FIFO on this connection, so the new owner adopts before
   * anything we forward — then moves the directory entry and the hand-over keys, then fences every
   * live node (the new owner included) before the new owner releases the stanzas it holds.
   */
  private async moveTo(session: SessionImpl, keys: string[], target: string, message: InboxMessage): Promise<void> {
    for (const k of keys) this.handoverKeys.delete(k);
    this.dirty.delete(session);
    const full = session.jid.toString();
    const entry: DirectoryEntry = { ...this.entryOf(session), n: target };
    try {
      await this.send(target, message);
    } catch (err) {
      session.endMove(undefined); // sends waiting for it are routed here as undeliverable
      throw err;
    }
    session.endMove(target); // sends refused meanwhile follow the session now, after it
    this.applyEntry(full, entry);
    const change: DirChange = { o: this.nodeId, k: 'set', j: full, e: entry };
    const ownerValue = JSON.stringify({ n: target, j: full });
    await Promise.all([
      this.cmd.hset(this.keys.sessions(session.bare), session.jid.resource, JSON.stringify(entry)),
      this.cmd.srem(this.keys.nodeSessions(this.nodeId), full),
      this.cmd.sadd(this.keys.nodeSessions(target), full),
      this.feed(change),
      ...keys.flatMap((k) => [
        this.cmd.set(this.keys.handoverKey(k), ownerValue),
        this.cmd.srem(this.keys.nodeHandoverKeys(this.nodeId), k),
        this.cmd.sadd(this.keys.nodeHandoverKeys(target), k),
      ]),
    ]);
    const fenceId = randomBytes(9).toString('base64url');
    const waiting = new Set([...this.alive].filter((n) => n !== this.nodeId));
    const fence: PendingFence = {
      j: full,
      newOwner: target,
      waiting,
      timer: this.scheduler.setTimeout(() => void this.drained(fenceId), this.handoverTimeoutMs),
    };
    this.fences.set(fenceId, fence);
    for (const n of waiting) await this.send(n, { t: 'fence', r: fenceId, f: this.nodeId, j: full, n: target, e: entry });
    this.logger.debug({ jid: full, to: target }, 'cluster: session handed over');
  }

  /**
   * Clean stop of this node (before its sessions end): every session that has a hand-over key
   * (XEP-0198 resumable) is given to another live node (round robin) — its stream, if any, is
   * closed with `<system-shutdown/>` — so that its client resumes on any node once this one is
   * gone (a rolling restart keeps sessions resumable). Sessions without a key end as usual.
   * @returns how many sessions were given away
   */
  async evacuate(): Promise<number> {
    const targets = [...this.alive].filter((n) => n !== this.nodeId).sort();
    if (!this.running || targets.length === 0) return 0;
    const sessions = new Set([...this.handoverKeys.values()].filter((s) => s.state !== 'ended'));
    let given = 0;
    for (const session of sessions) {
      const target = targets[given % targets.length]!;
      const keys = [...(this.keysOf.get(session) ?? [])];
      try {
        const encoded = await this.host.registry.depart(session, { condition: 'system-shutdown' });
        if (!encoded) continue;
        await this.moveTo(session, keys, target, { t: 'give', s: encoded, keys });
        this.metrics.handovers.inc({ direction: 'out', result: 'given' });
        given++;
      } catch (err) {
        this.logger.error({ err, jid: session.jid.toString() }, 'cluster: giving a session away failed');
      }
    }
    if (given) this.logger.info({ sessions: given, to: targets }, 'cluster: sessions given to other nodes before stopping');
    return given;
  }

  private async drained(fenceId: string): Promise<void> {
    const f = this.fences.get(fenceId);
    if (!f) return;
    this.fences.delete(fenceId);
    f.timer.cancel();
    await this.send(f.newOwner, { t: 'drained', j: f.j }).catch((err: unknown) => this.logger.warn({ err }, 'cluster: drained failed'));
  }

  /** Secrets shared by every node (name → value), re-offered after a Redis wipe on rejoin. */
  private readonly secrets = new Map<string, Buffer>();

  /**
   * A secret every node of the cluster uses (e.g. for the SCRAM answers to unknown accounts): the
   * first node stores `candidate`, the others read it.
   */
  async sharedSecret(name: string, candidate: Buffer): Promise<Buffer> {
    const key = `${this.keys.prefix}:secret:${name}`;
    await this.cmd.set(key, candidate.toString('hex'), 'NX');
    const hex = await this.cmd.get(key);
    const secret = hex ? Buffer.from(hex, 'hex') : candidate;
    this.secrets.set(name, secret);
    return secret;
  }

  // ================================================================== SharedState

  async get(key: string): Promise<JsonValue | undefined> {
    const raw = await this.cmd.get(this.keys.shared(key));
    return raw === null ? undefined : (JSON.parse(raw) as JsonValue);
  }

  async set(key: string, value: JsonValue, ttlMs: number): Promise<void> {
    if (!(ttlMs > 0)) throw new RangeError(`SharedState.set: ttlMs must be > 0 (got ${ttlMs})`);
    await this.cmd.set(this.keys.shared(key), JSON.stringify(value), 'PX', Math.ceil(ttlMs));
  }

  async delete(key: string): Promise<void> {
    await this.cmd.del(this.keys.shared(key));
  }

  // ================================================================== introspection (tests)

  /** Live nodes as this node sees them. */
  get liveNodes(): string[] {
    return [...this.alive].sort();
  }

  /** Number of remote sessions in the replica. */
  get replicaSize(): number {
    return this.replica.size;
  }
}

/**
 * Deletes hash field ARGV[1] of KEYS[1] only if its entry's node `n` is ARGV[2]; when ARGV[3] is
 * '1', only while KEYS[2] (the node's liveness key) does not exist (returns -1 if it does).
 */
const DEL_IF_OWNER = `
if ARGV[3] == '1' and redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v and cjson.decode(v).n == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0`;

/**
 * Clears a reaped node's session, hand-over and component sets (KEYS[2], KEYS[3], KEYS[5]) and removes ARGV[2] from
 * the node set KEYS[4] (if given); when ARGV[1] is '1', only while KEYS[1] (its liveness key)
 * does not exist. Returns 1 when cleared.
 */
const CLEAR_NODE = `
if ARGV[1] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[5])
if ARGV[2] ~= '' then redis.call('SREM', KEYS[4], ARGV[2]) end
return 1`;

/** Deletes string KEYS[1] only if its JSON value's node `n` is ARGV[1]. */
const DEL_KEY_IF_OWNER = `
local v = redis.call('GET', KEYS[1])
if v and cjson.decode(v).n == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;
