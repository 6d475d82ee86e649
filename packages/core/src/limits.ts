/**
 * Helpers for per-address abuse limits shared by the host and plugins: which source addresses are
 * exempt (an allow-list of CIDR blocks, loopback by default), how addresses are grouped for
 * accounting (IPv6 by its /64), and a bounded sliding-window counter.
 */
import { BlockList, isIP } from 'node:net';

/** Addresses exempt from per-address limits unless configured otherwise: loopback. */
export const DEFAULT_EXEMPT_ADDRESSES: readonly string[] = Object.freeze(['127.0.0.0/8', '::1']);

/**
 * The canonical form of a socket's remote address: IPv4-mapped IPv6 (`::ffff:1.2.3.4`) becomes
 * the IPv4 address, an IPv6 zone (`%eth0`) is dropped, IPv6 is lower-cased.
 */
export function normalizeAddress(address: string): string {
  let a = address.trim();
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(a);
  if (mapped) return mapped[1]!;
  return a.toLowerCase();
}

/** The eight 16-bit groups of an IPv6 address, or undefined when it is not one. */
function ipv6Groups(address: string): number[] | undefined {
  if (isIP(address) !== 6) return undefined;
  let a = address;
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a);
  if (v4) {
    const [b1, b2, b3, b4] = v4.slice(1).map(Number) as [number, number, number, number];
    a = `${a.slice(0, v4.index)}${((b1 << 8) | b2).toString(16)}:${((b3 << 8) | b4).toString(16)}`;
  }
  const [head, tail] = a.includes('::') ? (a.split('::') as [string, string]) : [a, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) return undefined;
  return groups.map((g) => parseInt(g, 16));
}

/**
 * The accounting key of an address for per-address limits: an IPv4 address as is, an IPv6
 * address by its /64 prefix (one customer usually holds a whole /64, so counting single IPv6
 * addresses would let one host spread over 2^64 keys). Unparseable input is used as is.
 */
export function addressKey(address: string): string {
  const a = normalizeAddress(address);
  const groups = ipv6Groups(a);
  if (!groups) return a;
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

/**
 * Builds a matcher for an allow-list of addresses and CIDR blocks (`127.0.0.0/8`, `::1`,
 * `10.1.2.3`, `fd00::/8`). IPv4-mapped IPv6 addresses match IPv4 entries.
 * @throws Error naming the first invalid entry
 */
export function addressMatcher(list: readonly string[]): (address: string) => boolean {
  const blocks = new BlockList();
  for (const entry of list) {
    const slash = entry.indexOf('/');
    const addr = slash >= 0 ? entry.slice(0, slash) : entry;
    const family = isIP(addr);
    if (family === 0) throw new Error(`not an IP address or CIDR block: ${JSON.stringify(entry)}`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (slash < 0) {
      blocks.addAddress(addr, type);
      continue;
    }
    const bits = entry.slice(slash + 1);
    const prefix = /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
    if (!(prefix >= 0 && prefix <= (family === 4 ? 32 : 128))) {
      throw new Error(`invalid prefix length in ${JSON.stringify(entry)}`);
    }
    blocks.addSubnet(addr, prefix, type);
  }
  if (list.length === 0) return () => false;
  // BlockList.check builds a SocketAddress per call (~15 µs); the answers for recent addresses are
  // kept (bounded; the list never changes).
  const known = new Map<string, boolean>();
  return (address: string) => {
    const cached = known.get(address);
    if (cached !== undefined) return cached;
    const a = normalizeAddress(address);
    const family = isIP(a);
    const result = family !== 0 && blocks.check(a, family === 4 ? 'ipv4' : 'ipv6');
    if (known.size >= 4096) known.clear();
    known.set(address, result);
    return result;
  };
}

/**
 * Counts events per key in a sliding window: at most `limit` events within any `windowMs`
 * milliseconds. Memory is bounded: at most `limit` timestamps per key and `maxKeys` keys (the
 * least recently used key is forgotten first, after expired ones). A `limit` of 0 means unlimited.
 */
export class SlidingWindowLimiter {
  private readonly events = new Map<string, number[]>();

  /**
   * @param limit events allowed per window (0 = unlimited)
   * @param windowMs window length in **milliseconds**
   * @param maxKeys keys kept at most
   */
  constructor(
    readonly limit: number,
    readonly windowMs: number,
    readonly maxKeys = 100_000,
  ) {}

  /** Events of `key` within the window ending at `now`. */
  count(key: string, now: number): number {
    const list = this.events.get(key);
    if (!list) return 0;
    const from = now - this.windowMs;
    let i = 0;
    while (i < list.length && list[i]! <= from) i++;
    if (i > 0) list.splice(0, i);
    if (list.length === 0) this.events.delete(key);
    return list.length;
  }

  /** Whether one more event of `key` at `now` stays within the limit (nothing is recorded). */
  allows(key: string, now: number): boolean {
    return this.limit <= 0 || this.count(key, now) < this.limit;
  }

  /** Records one event of `key` at `now` (whether or not it was allowed). */
  record(key: string, now: number): void {
    if (this.limit <= 0) return;
    this.count(key, now);
    const list = this.events.get(key) ?? [];
    this.events.delete(key); // re-insert: the map's order is least recently used first
    list.push(now);
    if (list.length > this.limit) list.splice(0, list.length - this.limit);
    this.events.set(key, list);
    if (this.events.size > this.maxKeys) this.evict(now);
  }

  /** Records the event and returns true if it is within the limit; returns false (recording nothing) otherwise. */
  tryAcquire(key: string, now: number): boolean {
    if (!this.allows(key, now)) return false;
    this.record(key, now);
    return true;
  }

  /** Forgets keys without events in the window. */
  prune(now: number): void {
    for (const key of [...this.events.keys()]) this.count(key, now);
  }

  /** Number of keys tracked. */
  get size(): number {
    return this.events.size;
  }

  private evict(now: number): void {
    this.prune(now);
    for (const key of this.events.keys()) {
      if (this.events.size <= this.maxKeys) break;
      this.events.delete(key);
    }
  }
}
