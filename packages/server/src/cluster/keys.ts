/**
 * Redis key layout of a Strand cluster. Every key starts with `cluster.keyPrefix` (default
 * `strand`), so several clusters can share one Redis.
 *
 * | key | type | content |
 * |---|---|---|
 * | `P:nodes` | set | ids of nodes that joined (a node leaves it on a clean stop or when reaped) |
 * | `P:node:ID` | string, PX heartbeatTtl | the node's incarnation; its absence means the node is dead |
 * | `P:inbox:ID` | stream | messages to node ID: forwarded stanzas, hand-over requests and replies, fences |
 * | `P:dir` | stream | the session directory's change feed (every node keeps a replica) |
 * | `P:sess:BARE` | hash | resource → directory entry (JSON) of each bound session of an account |
 * | `P:nsess:ID` | set | full JIDs of the sessions bound on node ID (reaping a dead node) |
 * | `P:hk:KEY` | string | hand-over key (e.g. an SM-ID) → `{n: node, j: full JID}` |
 * | `P:nhk:ID` | set | hand-over keys owned by node ID |
 * | `P:kv:KEY` | string, PX | `SharedState` values (JSON) |
 * | `P:reap:ID` | string, PX | lock: which live node reaps dead node ID |
 * | `P:secret:NAME` | string | secrets every node shares (hex), e.g. the SCRAM fake-salt secret |
 * | `P:comp:DOMAIN` | string | node an external component (XEP-0114) for DOMAIN is connected to |
 * | `P:ncomp:ID` | set | component domains connected to node ID |
 */
export class ClusterKeys {
  constructor(readonly prefix: string) {}
  get nodes(): string {
    return `${this.prefix}:nodes`;
  }
  node(id: string): string {
    return `${this.prefix}:node:${id}`;
  }
  inbox(id: string): string {
    return `${this.prefix}:inbox:${id}`;
  }
  get dir(): string {
    return `${this.prefix}:dir`;
  }
  sessions(bare: string): string {
    return `${this.prefix}:sess:${bare}`;
  }
  /** Pattern matching every {@link sessions} key (SCAN). */
  get sessionsPattern(): string {
    return `${this.prefix}:sess:*`;
  }
  nodeSessions(id: string): string {
    return `${this.prefix}:nsess:${id}`;
  }
  handoverKey(key: string): string {
    return `${this.prefix}:hk:${key}`;
  }
  nodeHandoverKeys(id: string): string {
    return `${this.prefix}:nhk:${id}`;
  }
  shared(key: string): string {
    return `${this.prefix}:kv:${key}`;
  }
  component(domain: string): string {
    return `${this.prefix}:comp:${domain}`;
  }
  /** Pattern matching every {@link component} key (SCAN). */
  get componentsPattern(): string {
    return `${this.prefix}:comp:*`;
  }
  nodeComponents(id: string): string {
    return `${this.prefix}:ncomp:${id}`;
  }
  reapLock(id: string): string {
    return `${this.prefix}:reap:${id}`;
  }
}
