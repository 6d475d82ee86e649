/**
 * Builds the answers to client-initiated probes (XEP-0318) from the host's `PresenceStore`.
 * @packageDocumentation
 */
import { inject, injectable } from 'inversify';
import {
  PresenceStore,
  ServerInfo,
  type Element,
  type JID,
  type PresenceStore as PresenceStoreT,
  type ResourcePresence,
  type ServerInfo as ServerInfoT,
  type TimedPresence,
} from '@strand/core';
import { ProbeAuthorizerImpl } from './authorizer.js';
import { stampedPresence, unavailablePresence, uptimePresence } from './elements.js';

/**
 * What an answer revealed (the `outcome` label of `strand_presence_probe_answers_total`):
 * - `available`: the current presence of available resources;
 * - `last-unavailable`: the last unavailable presence;
 * - `never`: an authorised prober, but the account (or resource) never had a session;
 * - `hidden`: an unauthorised prober or an account that does not exist (indistinguishable on
 *   purpose: both get the same bare `unavailable`);
 * - `server`, `component`: uptime.
 */
export type ProbeOutcome = 'available' | 'last-unavailable' | 'never' | 'hidden' | 'server' | 'component';

/** The stanzas that answer one probe, all addressed to the prober's full JID. */
export interface ProbeAnswer {
  readonly outcome: ProbeOutcome;
  readonly stanzas: Element[];
}

/**
 * Answers probes. The presence of a contact comes only from the `PresenceStore` (the host records
 * every *broadcast* presence with its time there; directed presence is never stored, so it can
 * never be revealed here).
 *
 * Rebind this class in an override module to change the answers (see README.md).
 */
@injectable()
export class ProbeResponderImpl {
  constructor(
    @inject(PresenceStore) protected readonly presence: PresenceStoreT,
    @inject(ServerInfo) protected readonly server: ServerInfoT,
    @inject(ProbeAuthorizerImpl) protected readonly authorizer: ProbeAuthorizerImpl,
  ) {}

  /**
   * A probe of a local account, `target` being its bare JID or one of its full JIDs.
   *
   * Authorised probers (see {@link ProbeAuthorizerImpl}) get, for a bare JID:
   * - the current broadcast presence of every available resource, each `from` its full JID with
   *   `<delay from='full JID' stamp='when it was set'/>`;
   * - else the most recent last unavailable presence (status and other children kept), `from` the
   *   bare JID, with `<delay from='the resource's full JID' stamp='when it went unavailable'/>`
   *   (XEP-0318 §3.1);
   * - else (never had a session) `<presence type='unavailable'/>` from the bare JID.
   *
   * For a full JID the same, restricted to that resource and always `from` the full JID.
   *
   * Everyone else gets `<presence from='bare JID' type='unavailable'/>` — whether the account
   * exists or not, with no delay and no status. RFC 6121 §4.3.2 says a server SHOULD answer an
   * unauthorised probe with `unsubscribed`; we deliberately do not: to a prober whose own
   * subscription request to the contact is pending, an inbound `unsubscribed` means "request
   * denied" (RFC 6121 Appendix A.3.4: inbound `unsubscribed` turns "None + Pending Out" into "None"), so a mere probe
   * would cancel the request. Nothing is changed in any roster either way.
   * @param prober the prober's full JID
   */
  async answerAccount(prober: JID, target: JID): Promise<ProbeAnswer> {
    const bare = target.bare().toString();
    const to = prober.toString();
    if (!(await this.authorizer.isAuthorised(prober, bare))) {
      return { outcome: 'hidden', stanzas: [unavailablePresence(bare, to)] };
    }
    const records = await this.presence.get(bare);
    if (target.resource) return this.answerResource(records, bare, target.resource, to);

    const available = records.filter((r): r is ResourcePresence & { current: TimedPresence } => r.current !== undefined);
    if (available.length > 0) {
      return {
        outcome: 'available',
        stanzas: available.map((r) => {
          const full = `${bare}/${r.resource}`;
          return stampedPresence(r.current.stanza, { from: full, to, delayFrom: full, at: r.current.at });
        }),
      };
    }
    let last: { resource: string; presence: TimedPresence } | undefined;
    for (const r of records) {
      if (r.lastUnavailable && (!last || r.lastUnavailable.at > last.presence.at)) {
        last = { resource: r.resource, presence: r.lastUnavailable };
      }
    }
    if (last) {
      const answer = stampedPresence(last.presence.stanza, {
        from: bare,
        to,
        delayFrom: `${bare}/${last.resource}`,
        at: last.presence.at,
      });
      answer.attrs.type = 'unavailable';
      return { outcome: 'last-unavailable', stanzas: [answer] };
    }
    return { outcome: 'never', stanzas: [unavailablePresence(bare, to)] };
  }

  /** A probe of one resource of an account whose presence the prober may see. */
  protected answerResource(records: ResourcePresence[], bare: string, resource: string, to: string): ProbeAnswer {
    const full = `${bare}/${resource}`;
    const r = records.find((x) => x.resource === resource);
    if (r?.current) {
      return {
        outcome: 'available',
        stanzas: [stampedPresence(r.current.stanza, { from: full, to, delayFrom: full, at: r.current.at })],
      };
    }
    if (r?.lastUnavailable) {
      const answer = stampedPresence(r.lastUnavailable.stanza, { from: full, to, delayFrom: full, at: r.lastUnavailable.at });
      answer.attrs.type = 'unavailable';
      return { outcome: 'last-unavailable', stanzas: [answer] };
    }
    return { outcome: 'never', stanzas: [unavailablePresence(full, to)] };
  }

  /**
   * A probe of the server's own JID (XEP-0318 §3.2): available presence from the domain with
   * `<delay from='domain' stamp='server start'/>` (`ServerInfo.startedAt`).
   */
  answerServer(prober: JID): ProbeAnswer {
    const domain = this.server.domain;
    return { outcome: 'server', stanzas: [uptimePresence(domain, prober.toString(), this.server.startedAt)] };
  }

  /**
   * A probe of a connected component's JID that the component did not answer itself: available
   * presence from its domain stamped with its connect time (`ServerInfo.components`).
   * @returns undefined when the component is not connected (any more)
   */
  answerComponent(prober: JID, domain: string): ProbeAnswer | undefined {
    const c = this.server.components.get(domain);
    if (!c) return undefined;
    return { outcome: 'component', stanzas: [uptimePresence(domain, prober.toString(), c.connectedAt)] };
  }
}
