/**
 * Delivery of stored offline messages (RFC 6121 §8.5.2.2.1 storage by the router; XEP-0160
 * delivery) when a session becomes available with a non-negative priority, each stamped with an
 * XEP-0203 `<delay/>` carrying the original time.
 */
import { inject, injectable } from 'inversify';
import {
  Logger,
  OfflineStore,
  ServerInfo,
  withDelay,
  type Session,
} from '@strand/core';
import { KeyedMutex } from './keyed-mutex.js';

/** Upper bound of store passes per delivery (messages stored while we deliver are picked up). */
const MAX_PASSES = 5;

@injectable()
export class OfflineDeliveryImpl {
  /** One delivery per account at a time: two sessions coming online never get the same copy. */
  private readonly mutex = new KeyedMutex();

  constructor(
    @inject(OfflineStore) private readonly store: OfflineStore,
    @inject(ServerInfo) private readonly server: ServerInfo,
    @inject(Logger) private readonly logger: Logger,
  ) {}

  /**
   * Sends the account's stored messages to `session`, ordered by original time (then storage
   * order), each with `<delay xmlns='urn:xmpp:delay' from='<domain>' stamp='…'/>` (XEP-0203 §3).
   * A message is removed from the store only after `session.send` resolved `'written'` or
   * `'held'`; delivery stops at the first `'refused'` and what remains stays stored.
   * @returns how many messages were delivered
   */
  deliver(session: Session): Promise<number> {
    const bare = session.jid.bare().toString();
    return this.mutex.run([bare], async () => {
      let delivered = 0;
      for (let pass = 0; pass < MAX_PASSES; pass++) {
        const messages = await this.store.list(bare);
        if (messages.length === 0) break;
        for (const m of messages) {
          if (session.state === 'ended') return delivered;
          const result = await session.send(withDelay(m.stanza, m.at, this.server.domain));
          if (result === 'refused') {
            this.logger.debug({ to: session.jid.toString(), remaining: messages.length }, 'offline delivery refused; messages stay stored');
            return delivered;
          }
          await this.store.remove(bare, [m.id]);
          delivered++;
        }
      }
      return delivered;
    });
  }
}
