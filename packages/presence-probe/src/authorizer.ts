/**
 * Who may see a contact's presence (RFC 6121 §4.3.2, Appendix A).
 * @packageDocumentation
 */
import { inject, injectable } from 'inversify';
import { RosterStore, type JID, type RosterStore as RosterStoreT } from '@strand/core';

/**
 * Authorises a prober for a contact: the same account, or a prober the contact's roster gives a
 * subscription `from` or `both` (the contact shares presence with it). Pending states (`ask`,
 * `pendingIn`) and pre-approval do not authorise. Reads the roster only, never writes it.
 *
 * Rebind this class (e.g. to let an admin account probe everyone) in an override module.
 */
@injectable()
export class ProbeAuthorizerImpl {
  constructor(@inject(RosterStore) private readonly rosters: RosterStoreT) {}

  /**
   * @param prober the prober's JID (any resource)
   * @param contact the probed account's bare JID
   */
  async isAuthorised(prober: JID, contact: string): Promise<boolean> {
    const proberBare = prober.bare().toString();
    if (proberBare === contact) return true;
    const item = await this.rosters.getItem(contact, proberBare);
    return item !== undefined && (item.subscription === 'from' || item.subscription === 'both');
  }
}
