/**
 * The seam between the host and the cluster (scale-out): what the session registry and the router
 * ask of the cluster. Absent on a single node; `RedisClusterImpl` (../cluster) implements it.
 */
import type { Element, JsonValue, SendResult } from '@strand/core';
import type { SessionImpl, SessionView } from './session.js';

/** The host's view of the other nodes. All lookups are synchronous (a local replica). */
export interface ClusterLink {
  /** This node's id (`cluster.nodeId`). */
  readonly nodeId: string;
  /** Sessions of the account `bare` bound on other live nodes. */
  remoteByBare(bare: string): SessionView[];
  /** The session bound to `full` on another live node. */
  remoteByFull(full: string): SessionView | undefined;
  /**
   * A local session was bound, or its routing-relevant fields changed: publish it.
   * @returns resolves once the entry is written (bind waits for it, so that whoever learns the new
   *   full JID afterwards finds it on every node)
   */
  published(session: SessionImpl): Promise<void>;
  /**
   * The session bound to `full` on another live node, asking Redis when the local replica does not
   * know it (yet): the directory feed may lag a just-bound session by a few milliseconds.
   */
  lookupRemote(full: string): Promise<SessionView | undefined>;
  /** A local session ended: withdraw it (and its hand-over keys). */
  removed(session: SessionImpl): void;
  /** Ends the session `view` on its node with `<conflict/>` (the resource was bound here). */
  kick(view: SessionView): void;
  /**
   * Forwards a stanza for the session `full` that was just handed over to `node`, marked as coming
   * from the previous owner (delivered before stanzas routed to `node` directly).
   */
  forwardMoved(node: string, full: string, stanza: Element, routing: { originalTime?: number; hops?: number }): Promise<SendResult>;
  /** The live node an external component serving `domain` (or a parent domain) is connected to. */
  componentNode(domain: string): string | undefined;
  /** Forwards a stanza for a component connected to `node`; that node routes it. */
  forwardExternal(node: string, stanza: Element, routing: { hops?: number }): Promise<SendResult>;
}
export const ClusterLinkToken = Symbol.for('@strand/server/ClusterLink');

/** A session serialised for a hand-over between nodes (version 1). */
export interface EncodedSession {
  v: 1;
  id: string;
  /** Full JID. */
  jid: string;
  boundAt: number;
  available: boolean;
  priority: number;
  interested: boolean;
  /** Current broadcast presence, serialised XML. */
  presence: string | null;
  directedTo: string[];
  /** Session slots by key name, each encoded with its key's codec. */
  slots: Record<string, JsonValue>;
}
