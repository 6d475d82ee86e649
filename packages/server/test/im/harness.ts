/**
 * An in-process host for IM tests without sockets: the real host module (registry, router,
 * inbound pipeline) and `imModule` on core's in-memory stores, with fake streams that record
 * every stanza written to them.
 */
import 'reflect-metadata';
import { Container, type ContainerModule } from 'inversify';
import { parse as parseLtx } from 'ltx';
import {
  Clock,
  Element,
  HostConfig,
  Logger,
  MemoryOfflineStoreImpl,
  MemoryPresenceStoreImpl,
  MemoryRosterStoreImpl,
  OfflineStore,
  PresenceStore,
  RosterStore,
  ServerInfo,
  silentLogger,
  SlotMap,
  parseJid,
  tryParseJid,
  type CloseInfo,
  type JID,
  type Session,
  type StreamKey,
} from '@strand/core';
import { hostModule } from '../../src/host-module.js';
import { HookSet, HookSetToken } from '../../src/host/hook-set.js';
import type { HostStream } from '../../src/host/host-stream.js';
import { InboundProcessor } from '../../src/host/inbound.js';
import { MaxResourcesPerAccount, SessionRegistryImpl } from '../../src/host/registry.js';
import { AccountExists } from '../../src/host/router.js';
import type { SessionImpl } from '../../src/host/session.js';
import { imModule } from '../../src/im/index.js';

export const DOMAIN = 'localhost';

/** Parses one stanza written as XML text. */
export function stanza(text: string): Element {
  return parseLtx(text, { Element }) as Element;
}

/** A stream that records what the host writes to it. */
export class FakeStream {
  readonly connectionId: string;
  readonly streamId = 'sid';
  readonly kind = 'c2s' as const;
  readonly transport = 'tcp' as const;
  readonly secure = true;
  readonly remoteAddress = '127.0.0.1';
  state: 'opening' | 'open' | 'closing' | 'closed' = 'open';
  readonly lang = 'en';
  authenticatedJid: JID | undefined;
  session: Session | undefined;
  lastReadAt = 0;
  lastWriteAt = 0;
  lastStanzaAt = 0;
  readonly supportsWhitespaceKeepalive = true;
  readonly slots = new SlotMap<StreamKey<unknown>>();
  readonly written: Element[] = [];
  /** When false, writes fail (a dead socket). */
  writable = true;
  readonly closed: Promise<CloseInfo>;
  private resolveClosed!: (info: CloseInfo) => void;

  constructor(id: string, account: JID) {
    this.connectionId = id;
    this.authenticatedJid = account;
    this.closed = new Promise((r) => (this.resolveClosed = r));
  }

  writeStanza(el: Element): boolean {
    if (!this.writable || this.state === 'closed' || this.state === 'closing') return false;
    this.written.push(el);
    return true;
  }
  writeNonza(): boolean {
    return this.state === 'open';
  }
  sendKeepalive(): void {}
  /** When set, `close()` waits for {@link releaseClose} (a slow close handshake). */
  holdClose = false;
  private release: (() => void) | undefined;
  async close(): Promise<void> {
    if (this.holdClose) await new Promise<void>((r) => (this.release = r));
    this.finish({ initiator: 'server', handshakeTimedOut: false, endSession: true });
  }
  /** Lets a held `close()` finish. */
  releaseClose(): void {
    this.release?.();
  }
  destroy(): void {
    this.finish({ initiator: 'transport', handshakeTimedOut: false, endSession: false });
  }
  finish(info: CloseInfo): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.resolveClosed(info);
  }
}

/** One bound client session in the harness. */
export class TestClient {
  /** How many written stanzas were already looked at by {@link next}/{@link drain}. */
  private cursor = 0;

  constructor(
    readonly host: ImHarness,
    readonly stream: FakeStream,
    readonly session: SessionImpl,
  ) {}

  get jid(): string {
    return this.session.jid.toString();
  }
  get bare(): string {
    return this.session.bare;
  }
  /** Everything written to this client. */
  get received(): Element[] {
    return this.stream.written;
  }

  /** Sends a stanza as the client would: `from` is stamped, then the inbound pipeline runs. */
  async send(input: string | Element): Promise<void> {
    const el = typeof input === 'string' ? stanza(input) : input;
    el.attrs.from = this.session.jid.toString();
    await this.host.inbound.process({
      stanza: el,
      stream: this.stream as unknown as HostStream,
      session: this.session,
      from: this.session.jid,
      to: tryParseJid(el.attrs.to),
    });
  }

  /** Stanzas written since the last call (and marks them seen). */
  drain(): Element[] {
    const out = this.stream.written.slice(this.cursor);
    this.cursor = this.stream.written.length;
    return out;
  }

  /** Stanzas written since the last drain, without marking them. */
  peek(): Element[] {
    return this.stream.written.slice(this.cursor);
  }

  /** Sends an iq and returns the reply written to this client (by id). */
  async iq(input: string): Promise<Element> {
    const el = stanza(input);
    el.attrs.id ??= `iq${Math.random().toString(36).slice(2)}`;
    const id = el.attrs.id;
    await this.send(el);
    const reply = this.stream.written.find((s) => s.name === 'iq' && s.attrs.id === id && s.attrs.type !== 'set');
    if (!reply) throw new Error(`no reply to iq ${id}`);
    return reply;
  }

  /** Roster get; marks the session interested. */
  async rosterGet(ver?: string): Promise<Element> {
    const verAttr = ver === undefined ? '' : ` ver='${ver}'`;
    return this.iq(`<iq type='get'><query xmlns='jabber:iq:roster'${verAttr}/></iq>`);
  }

  /** Sends initial/updated presence. */
  presence(extra = ''): Promise<void> {
    return this.send(`<presence>${extra}</presence>`);
  }

  /** Ends the session cleanly (as if the client closed its stream). */
  end(): Promise<void> {
    return this.host.registry.end(this.session, 'closed');
  }

  /** The transport dies: `onTransportLost` listeners may claim the session, else it ends. */
  async loseTransport(): Promise<void> {
    this.stream.writable = false;
    this.stream.state = 'closed';
    await this.host.registry.streamClosed(this.stream as unknown as HostStream, {
      initiator: 'transport',
      handshakeTimedOut: false,
      endSession: false,
    });
  }
}

/** Presence stanzas in a list, optionally of one type (`available` = no type). */
export function presences(list: Element[], type?: string): Element[] {
  return list.filter(
    (s) => s.name === 'presence' && (type === undefined || (type === 'available' ? s.attrs.type === undefined : s.attrs.type === type)),
  );
}

/** Roster pushes in a list. */
export function pushes(list: Element[]): Element[] {
  return list.filter((s) => s.name === 'iq' && s.attrs.type === 'set' && s.getChild('query', 'jabber:iq:roster'));
}

/** The `<item/>` of a roster push. */
export function pushedItem(push: Element): Element {
  return push.getChild('query', 'jabber:iq:roster')!.getChild('item')!;
}

/** The stanza error condition of an error stanza. */
export function errorCondition(el: Element): string | undefined {
  const err = el.getChild('error');
  return err?.getChildElements().find((c) => c.attrs.xmlns === 'urn:ietf:params:xml:ns:xmpp-stanzas' && c.name !== 'text')?.name;
}

export interface HarnessOptions {
  accounts?: string[];
  modules?: ContainerModule[];
}

/** The container with host + IM modules on memory stores. */
export class ImHarness {
  readonly container = new Container();
  readonly registry: SessionRegistryImpl;
  readonly inbound: InboundProcessor;
  readonly accounts: Set<string>;
  now = Date.UTC(2024, 0, 1, 12, 0, 0);
  private seq = 0;

  constructor(options: HarnessOptions = {}) {
    const c = this.container;
    this.accounts = new Set(options.accounts ?? ['alice', 'bob', 'carol', 'mallory']);
    c.bind(Logger).toConstantValue(silentLogger);
    c.bind(Clock).toConstantValue({ now: () => this.now });
    c.bind(ServerInfo).toConstantValue({ domain: DOMAIN, startedAt: this.now, name: 'Strand', version: 'test', components: new Map() });
    c.bind(HostConfig).toConstantValue({ domain: DOMAIN, timeouts: { preAuth: 60, closeHandshake: 1, read: 0 }, plugins: {} });
    c.bind(MaxResourcesPerAccount).toConstantValue(10);
    c.bind(MemoryRosterStoreImpl).toSelf().inSingletonScope();
    c.bind(RosterStore).toService(MemoryRosterStoreImpl);
    c.bind(MemoryPresenceStoreImpl).toSelf().inSingletonScope();
    c.bind(PresenceStore).toService(MemoryPresenceStoreImpl);
    c.bind(MemoryOfflineStoreImpl).toSelf().inSingletonScope();
    c.bind(OfflineStore).toService(MemoryOfflineStoreImpl);
    c.bind<AccountExists>(AccountExists).toConstantValue(async (u: string) => this.accounts.has(u));
    // As `StrandServer` binds it: contributions are collected when the registry is first built,
    // so a contribution that needed the registry at construction would be a DI cycle.
    c.bind(HookSetToken).toDynamicValue(() => new HookSet(c)).inSingletonScope();
    c.load(hostModule);
    c.load(imModule);
    for (const m of options.modules ?? []) c.load(m);
    this.registry = c.get(SessionRegistryImpl);
    this.inbound = c.get(InboundProcessor);
  }

  get rosters(): RosterStore {
    return this.container.get<RosterStore>(RosterStore);
  }
  get presenceStore(): PresenceStore {
    return this.container.get<PresenceStore>(PresenceStore);
  }
  get offline(): MemoryOfflineStoreImpl {
    return this.container.get(MemoryOfflineStoreImpl);
  }

  /** Authenticates and binds `user@localhost/resource` (no presence, no roster yet). */
  async login(user: string, resource = 'r1'): Promise<TestClient> {
    const stream = new FakeStream(`fake-${++this.seq}`, parseJid(`${user}@${DOMAIN}`));
    const session = await this.registry.bind(stream as unknown as HostStream, resource);
    return new TestClient(this, stream, session);
  }

  /** Logs in, fetches the roster and sends initial presence; drains what arrived. */
  async online(user: string, resource = 'r1', presenceExtra = ''): Promise<TestClient> {
    const c = await this.login(user, resource);
    await c.rosterGet();
    await c.presence(presenceExtra);
    return c;
  }

  /** Makes `a` and `b` subscribed to each other (both ways), through the protocol. */
  async befriend(a: TestClient, b: TestClient): Promise<void> {
    await a.send(`<presence type='subscribe' to='${b.bare}'/>`);
    await b.send(`<presence type='subscribed' to='${a.bare}'/>`);
    await b.send(`<presence type='subscribe' to='${a.bare}'/>`);
    await a.send(`<presence type='subscribed' to='${b.bare}'/>`);
  }
}
