/**
 * Typed per-stream and per-session state slots.
 *
 * Plugins keep their state on a stream or session through a key declared once at module level:
 * ```ts
 * export const KeepaliveInterval = defineSessionKey<number>('@strand/keepalive/interval', jsonCodec());
 * session.slots.set(KeepaliveInterval, 120);
 * ```
 * Session slots carry a codec so that a session's state can be serialised (cluster hand-over,
 * later) and survives resumption, which keeps the same `Session` object.
 */

/** JSON-compatible value produced by a slot codec. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

/** Converts a slot value to and from JSON. */
export interface SlotCodec<T> {
  encode(value: T): JsonValue;
  decode(json: JsonValue): T;
}

/** The identity codec for values that already are JSON. */
export function jsonCodec<T extends JsonValue>(): SlotCodec<T> {
  return { encode: (v) => v, decode: (j) => j as T };
}

/** Key of a per-stream slot. Stream state dies with the connection. */
export interface StreamKey<T> {
  readonly kind: 'stream';
  readonly name: string;
  /** Phantom field carrying the value type; never set. */
  readonly __type?: T;
}

/** Key of a per-session slot; session state survives stream resumption. */
export interface SessionKey<T> {
  readonly kind: 'session';
  readonly name: string;
  readonly codec: SlotCodec<T>;
  readonly __type?: T;
}

/** Declares a per-stream slot key. `name` should be prefixed with the package name. */
export function defineStreamKey<T>(name: string): StreamKey<T> {
  return { kind: 'stream', name };
}

const sessionKeys = new Map<string, SessionKey<unknown>>();

/**
 * Declares a per-session slot key with the codec used to serialise its value. The key is also
 * registered under its name, so that a node receiving a handed-over session (scale-out) can find
 * the codec of each serialised slot ({@link sessionKeyNamed}); declaring a name again replaces
 * the registration (a module loaded twice).
 */
export function defineSessionKey<T>(name: string, codec: SlotCodec<T>): SessionKey<T> {
  const key: SessionKey<T> = { kind: 'session', name, codec };
  sessionKeys.set(name, key as SessionKey<unknown>);
  return key;
}

/** The session key declared under `name` by {@link defineSessionKey}, if any. */
export function sessionKeyNamed(name: string): SessionKey<unknown> | undefined {
  return sessionKeys.get(name);
}

/** A typed slot container. */
export interface Slots<K extends StreamKey<unknown> | SessionKey<unknown>> {
  get<T>(key: K & { __type?: T }): T | undefined;
  set<T>(key: K & { __type?: T }, value: T): void;
  delete(key: K): boolean;
  has(key: K): boolean;
}

/** Map-backed slot container; identity of a key is its object, not its name. */
export class SlotMap<K extends StreamKey<unknown> | SessionKey<unknown>> implements Slots<K> {
  private readonly values = new Map<K, unknown>();
  get<T>(key: K & { __type?: T }): T | undefined {
    return this.values.get(key) as T | undefined;
  }
  set<T>(key: K & { __type?: T }, value: T): void {
    this.values.set(key, value);
  }
  delete(key: K): boolean {
    return this.values.delete(key);
  }
  has(key: K): boolean {
    return this.values.has(key);
  }
  /** Entries, for serialisation with each key's codec. */
  entries(): IterableIterator<[K, unknown]> {
    return this.values.entries();
  }
}
