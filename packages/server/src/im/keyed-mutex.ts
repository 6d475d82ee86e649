/**
 * A promise-based mutex per string key. Roster read-modify-write sequences of two accounts (a
 * subscription stanza changes the rosters of both sides) run under the locks of both bare JIDs so
 * that concurrent stanzas from different sessions never lose an update.
 */

/** Serialises async sections per key. Not re-entrant: never call `run` for a key you hold. */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  /**
   * Runs `fn` while holding the locks of every key. Keys are taken in sorted order (no deadlock
   * between two sections that need the same pair) and released when `fn` settles.
   */
  async run<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T> {
    const releases: (() => void)[] = [];
    try {
      for (const key of [...new Set(keys)].sort()) releases.push(await this.acquire(key));
      return await fn();
    } finally {
      for (const release of releases.reverse()) release();
    }
  }

  /** Number of keys currently locked or awaited (tests). */
  get size(): number {
    return this.tails.size;
  }

  private async acquire(key: string): Promise<() => void> {
    const previous = this.tails.get(key);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    this.tails.set(key, mine);
    if (previous) await previous;
    return () => {
      if (this.tails.get(key) === mine) this.tails.delete(key);
      release();
    };
  }
}
