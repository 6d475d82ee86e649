/**
 * Roster management (RFC 6121 §2): roster get with versioning (§2.6), roster set (add/update,
 * §2.3) and remove (§2.5), roster pushes to interested resources (§2.1.6), and the roster
 * versioning stream feature (§2.6.1).
 */
import { randomBytes } from 'node:crypto';
import { inject, injectable } from 'inversify';
import {
  cloneElement,
  defineSessionKey,
  jsonCodec,
  Logger,
  NS,
  Priority,
  RosterStore,
  StanzaError,
  tryParseJid,
  xml,
  type Element,
  type FeatureStage,
  type IqContext,
  type IqHandler,
  type Roster,
  type RosterItem,
  type StreamContext,
  type StreamFeatureProvider,
} from '@strand/core';
import { SessionImpl, type SessionView } from '../host/session.js';
import { ImHostServices } from './host-access.js';
import { KeyedMutex } from './keyed-mutex.js';

/** Server-configured roster limits (RFC 6121 §2.3.3 leaves the values to the server). */
export interface RosterLimits {
  /** Visible items per roster; adding more is refused with `not-allowed`. */
  readonly maxItems: number;
  /** Characters of an item's `name` (longer → `not-acceptable`). */
  readonly maxNameLength: number;
  /** Characters of one `<group/>` (longer → `not-acceptable`). */
  readonly maxGroupLength: number;
  /** `<group/>` elements per item (more → `not-acceptable`). */
  readonly maxGroups: number;
}
export const RosterLimits = Symbol.for('@strand/server/im/RosterLimits');

/** Defaults of {@link RosterLimits}; override with `rebind(RosterLimits)`. */
export const DEFAULT_ROSTER_LIMITS: RosterLimits = {
  maxItems: 1000,
  maxNameLength: 1023,
  maxGroupLength: 1023,
  maxGroups: 100,
};

/**
 * Set on a session whose roster get carried a `ver` attribute (RFC 6121 §2.6.2): its roster
 * results and pushes then carry `ver` too.
 */
export const RosterVersioningRequested = defineSessionKey<boolean>(
  '@strand/server/im/rosterVersioning',
  jsonCodec<boolean>(),
);

/**
 * Whether roster pushes to `s` carry `ver` (RFC 6121 §2.6): the client asked for a versioned
 * roster. A session on another cluster node carries the flag in its directory entry.
 */
export function wantsRosterVersion(s: SessionView): boolean {
  return s instanceof SessionImpl ? s.slots.get(RosterVersioningRequested) === true : s.rosterVersioning === true;
}

/**
 * Removes an item with everything it implies (RFC 6121 §2.5.2: cancel the subscriptions both ways
 * first). Implemented by the subscription module; a token so that `roster.ts` does not import it.
 */
export interface RosterItemRemoval {
  /** @returns false when the contact is not in the user's roster. */
  removeItem(user: string, contact: string): Promise<boolean>;
}
export const RosterItemRemoval = Symbol.for('@strand/server/im/RosterItemRemoval');

/**
 * Locks on accounts' rosters (by bare JID). Every read-modify-write of roster items runs under
 * the locks of the accounts it touches, so concurrent stanzas never lose an update and roster
 * pushes leave in version order.
 */
@injectable()
export class AccountLocksImpl {
  private readonly mutex = new KeyedMutex();
  /** Runs `fn` holding the locks of `bareJids`. Not re-entrant. */
  run<T>(bareJids: readonly string[], fn: () => Promise<T>): Promise<T> {
    return this.mutex.run(bareJids, fn);
  }
}

/** Options of {@link RosterServiceImpl.save}. */
export interface SaveOptions {
  /** Write and push even if nothing changed (an explicit roster set always gets its push). */
  force?: boolean;
}

/**
 * Roster storage with pushes: every change of a visible item is written to the `RosterStore`
 * (which bumps the version, §2.6) and pushed to the user's interested resources (§2.1.6).
 * Callers hold the account's lock ({@link AccountLocksImpl}).
 */
@injectable()
export class RosterServiceImpl {
  constructor(
    @inject(RosterStore) private readonly store: RosterStore,
    @inject(ImHostServices) private readonly host: ImHostServices,
    @inject(Logger) private readonly logger: Logger,
  ) {}

  get(user: string): Promise<Roster> {
    return this.store.get(user);
  }

  getItem(user: string, contact: string): Promise<RosterItem | undefined> {
    return this.store.getItem(user, contact);
  }

  /**
   * Writes the new state of an item (`after`, or `undefined` to delete it) given what the store
   * held (`before`), and pushes the change of the visible item to interested resources. Nothing
   * is written when nothing changed, unless `force`.
   */
  async save(user: string, before: RosterItem | undefined, after: RosterItem | undefined, options: SaveOptions = {}): Promise<void> {
    if (!after) {
      if (!before) return;
      const version = await this.store.removeItem(user, before.jid);
      if (before.visible) await this.push(user, removedItemElement(before.jid), version);
      return;
    }
    if (before && !options.force && sameItem(before, after)) return;
    const version = await this.store.setItem(user, after);
    const shownBefore = before?.visible ? rosterItemElement(before).toString() : undefined;
    const shown = after.visible ? rosterItemElement(after) : undefined;
    if (shown && (options.force || shown.toString() !== shownBefore)) await this.push(user, shown, version);
    else if (!shown && shownBefore !== undefined) await this.push(user, removedItemElement(after.jid), version);
  }

  /**
   * RFC 6121 §2.1.6: sends `<iq type='set'><query><item/></query></iq>` to every interested
   * resource of `user` (those that requested the roster), without `from` as in the RFC examples.
   */
  async push(user: string, item: Element, version: string): Promise<void> {
    for (const s of this.host.registry.byBare(user)) {
      if (!s.interested || s.state === 'ended') continue;
      const query = xml('query', { xmlns: NS.ROSTER }, cloneElement(item));
      if (wantsRosterVersion(s)) query.attrs.ver = version;
      const iq = xml('iq', { type: 'set', id: `push-${randomBytes(6).toString('hex')}`, to: s.jid.toString() }, query);
      try {
        await s.send(iq);
      } catch (err) {
        this.logger.warn({ err, to: s.jid.toString() }, 'roster push failed');
      }
    }
  }
}

/** `<item/>` of a roster result or push (RFC 6121 §2.1.2), without server-only flags. */
export function rosterItemElement(item: RosterItem): Element {
  const attrs: Record<string, string> = { jid: item.jid };
  if (item.name !== undefined && item.name !== '') attrs.name = item.name;
  attrs.subscription = item.subscription;
  if (item.ask) attrs.ask = 'subscribe';
  if (item.approved) attrs.approved = 'true';
  const el = xml('item', attrs);
  for (const g of item.groups) el.append(xml('group', {}, g));
  return el;
}

/** `<item subscription='remove'/>` of a roster push after removal (RFC 6121 §2.5.2). */
export function removedItemElement(jid: string): Element {
  return xml('item', { jid, subscription: 'remove' });
}

/** The roster result payload: visible items only (§2.1.4), with `ver` if asked for. */
export function rosterQueryElement(roster: Roster, withVersion: boolean): Element {
  const query = xml('query', { xmlns: NS.ROSTER });
  if (withVersion) query.attrs.ver = roster.version;
  for (const item of roster.items) if (item.visible) query.append(rosterItemElement(item));
  return query;
}

function sameItem(a: RosterItem, b: RosterItem): boolean {
  return (
    a.jid === b.jid &&
    (a.name ?? '') === (b.name ?? '') &&
    a.subscription === b.subscription &&
    a.ask === b.ask &&
    a.pendingIn === b.pendingIn &&
    a.approved === b.approved &&
    a.visible === b.visible &&
    (a.pendingInStanza ?? '') === (b.pendingInStanza ?? '') &&
    a.groups.length === b.groups.length &&
    a.groups.every((g, i) => g === b.groups[i])
  );
}

/** A new, visible item without any subscription. */
export function newRosterItem(contact: string, visible: boolean): RosterItem {
  return { jid: contact, subscription: 'none', ask: false, pendingIn: false, approved: false, groups: [], visible };
}

const charLength = (s: string): number => [...s].length;

/**
 * The `jabber:iq:roster` iq handler (RFC 6121 §2.1.3 get, §2.3 set, §2.5 remove). Roster iqs come
 * without `to` or addressed to the user's own bare JID; anything else is `forbidden` (only the
 * account itself may read or change its roster, §2.1.3 / §2.1.5).
 */
@injectable()
export class RosterIqHandlerImpl implements IqHandler {
  readonly xmlns = NS.ROSTER;
  readonly element = 'query';
  readonly types = ['get', 'set'] as const;
  readonly target = 'account' as const;

  constructor(
    @inject(RosterServiceImpl) private readonly roster: RosterServiceImpl,
    @inject(AccountLocksImpl) private readonly locks: AccountLocksImpl,
    @inject(RosterItemRemoval) private readonly removal: RosterItemRemoval,
    @inject(RosterLimits) private readonly limits: RosterLimits,
  ) {}

  async handle(ctx: IqContext): Promise<Element | void> {
    const user = ctx.from.bare().toString();
    if (!ctx.from.local || !ctx.session || ctx.to.bare().toString() !== user) {
      throw new StanzaError('forbidden', undefined, 'only the account itself may access its roster');
    }
    if (ctx.iq.attrs.type === 'get') return this.get(ctx, user);
    return this.set(ctx, user);
  }

  /** §2.1.3 roster get; §2.6.3: an empty result when the client's `ver` is current. */
  private async get(ctx: IqContext, user: string): Promise<Element | void> {
    const session = ctx.session as SessionImpl;
    const ver = ctx.payload.attrs.ver as string | undefined;
    session.interested = true;
    if (ver !== undefined) session.slots.set(RosterVersioningRequested, true);
    const roster = await this.roster.get(user);
    if (ver !== undefined && ver === roster.version) return undefined;
    return rosterQueryElement(roster, ver !== undefined);
  }

  /** §2.3 roster set (add or update) and §2.5 remove, with the §2.3.3 error cases. */
  private async set(ctx: IqContext, user: string): Promise<void> {
    const items = ctx.payload.getChildElements().filter((c) => c.name === 'item');
    if (items.length !== 1) throw new StanzaError('bad-request', undefined, 'a roster set carries exactly one item');
    const item = items[0]!;
    const jidAttr = item.attrs.jid as string | undefined;
    if (!jidAttr) throw new StanzaError('bad-request', undefined, 'the item has no jid');
    const jid = tryParseJid(jidAttr);
    if (!jid) throw new StanzaError('jid-malformed', undefined, 'the item jid is not a valid JID');
    if (jid.resource) throw new StanzaError('jid-malformed', undefined, 'roster items are bare JIDs');
    const contact = jid.toString();

    if (item.attrs.subscription === 'remove') {
      if (!(await this.removal.removeItem(user, contact))) throw new StanzaError('item-not-found');
      return;
    }
    // §2.1.2: 'subscription' (other than remove), 'ask' and 'approved' in a set are ignored.
    const name = item.attrs.name as string | undefined;
    if (name !== undefined && charLength(name) > this.limits.maxNameLength) {
      throw new StanzaError('not-acceptable', undefined, `name longer than ${this.limits.maxNameLength} characters`);
    }
    const groupEls = item.getChildElements().filter((c) => c.name === 'group');
    if (groupEls.length > this.limits.maxGroups) {
      throw new StanzaError('not-acceptable', undefined, `more than ${this.limits.maxGroups} groups`);
    }
    const groups: string[] = [];
    for (const g of groupEls) {
      const text = g.getText();
      if (text.length === 0) throw new StanzaError('not-acceptable', undefined, 'empty group name');
      if (charLength(text) > this.limits.maxGroupLength) {
        throw new StanzaError('not-acceptable', undefined, `group name longer than ${this.limits.maxGroupLength} characters`);
      }
      if (groups.includes(text)) throw new StanzaError('bad-request', undefined, `duplicate group ${text}`);
      groups.push(text);
    }
    if (contact === user) throw new StanzaError('not-allowed', undefined, 'an account cannot be in its own roster');

    await this.locks.run([user], async () => {
      const before = await this.roster.getItem(user, contact);
      if (!before?.visible) {
        const roster = await this.roster.get(user);
        if (roster.items.filter((i) => i.visible).length >= this.limits.maxItems) {
          throw new StanzaError('not-allowed', undefined, `the roster is limited to ${this.limits.maxItems} items`);
        }
      }
      const after: RosterItem = { ...(before ?? newRosterItem(contact, true)), groups, visible: true };
      if (name !== undefined && name !== '') after.name = name;
      else delete after.name;
      await this.roster.save(user, before, after, { force: true });
    });
  }
}

/** Advertises roster versioning `<ver xmlns='urn:xmpp:features:rosterver'/>` (RFC 6121 §2.6.1). */
@injectable()
export class RosterVersioningFeatureImpl implements StreamFeatureProvider {
  readonly priority = Priority.feature.ROSTER_VERSIONING;
  offer(ctx: StreamContext, stage: FeatureStage): Element[] {
    if (stage !== 'post-auth' || ctx.stream.kind !== 'c2s') return [];
    return [xml('ver', { xmlns: NS.ROSTER_VER })];
  }
}
