/** The host's default {@link Authenticator}: SCRAM credentials in an {@link AccountStore}. */
import { inject, injectable, optional } from 'inversify';
import {
  AccountStore,
  Clock,
  deriveScramCredentialsAsync,
  verifyScramPasswordAsync,
  type Authenticator,
  type ScramCredentials,
} from '@strand/core';
import { DEFAULT_SCRAM_ITERATIONS, ScramIterations } from './tokens.js';
import { normalizeUsername } from './util.js';

/** Characters RFC 7622 §3.3.1 forbids in a localpart, plus whitespace and controls. */
const FORBIDDEN_LOCALPART = /["&'/:<>@\s\p{Cc}]/u;

/**
 * Derives and checks salted SCRAM-SHA-1 and SCRAM-SHA-256 credentials (RFC 5802 §3); passwords
 * are never stored. Usernames are normalised with {@link normalizeUsername} (NFKC, lower-case).
 * Checking a password of an unknown account costs the same PBKDF2 work as a wrong password.
 */
@injectable()
export class AuthenticatorImpl implements Authenticator {
  private readonly iterations: number;
  private dummy: Promise<ScramCredentials> | undefined;

  /**
   * @param iterations PBKDF2 iteration count for new credentials (default 4096, RFC 7677 §4)
   * @throws RangeError when `iterations` is not a positive integer
   */
  constructor(
    @inject(AccountStore) private readonly accounts: AccountStore,
    @inject(ScramIterations) @optional() iterations?: number,
    @inject(Clock) @optional() private readonly clock?: Clock,
  ) {
    this.iterations = iterations ?? DEFAULT_SCRAM_ITERATIONS;
    if (!Number.isInteger(this.iterations) || this.iterations < 1) {
      throw new RangeError(`SCRAM iteration count must be a positive integer, got ${this.iterations}`);
    }
  }

  /**
   * Creates the account, or replaces its credentials (keeping `createdAt`).
   * @throws Error when the username is empty, too long (> 1023 bytes) or has a character
   *   forbidden in a JID localpart, or when the password is empty
   */
  async createAccount(username: string, password: string): Promise<void> {
    const name = normalizeUsername(username);
    if (name === '' || Buffer.byteLength(name) > 1023 || FORBIDDEN_LOCALPART.test(name)) {
      throw new Error(`invalid username ${JSON.stringify(username)}`);
    }
    if (password === '') throw new Error('empty password');
    // PBKDF2 runs on the libuv thread pool (both hashes in parallel), not on the event loop.
    const [sha1, sha256, existing] = await Promise.all([
      deriveScramCredentialsAsync('SHA-1', password, this.iterations),
      deriveScramCredentialsAsync('SHA-256', password, this.iterations),
      this.accounts.get(name),
    ]);
    await this.accounts.put({
      username: name,
      scram: { 'SHA-1': sha1, 'SHA-256': sha256 },
      createdAt: existing?.createdAt ?? this.clock?.now() ?? Date.now(),
    });
  }

  /**
   * Checks `password` against the stored SHA-256 keys (constant-time compare). The PBKDF2 work
   * runs on the libuv thread pool, so logins do not block the event loop and use a second core.
   */
  async verifyPassword(username: string, password: string): Promise<boolean> {
    const record = await this.accounts.get(normalizeUsername(username));
    if (!record) {
      this.dummy ??= deriveScramCredentialsAsync('SHA-256', '\0', this.iterations);
      await verifyScramPasswordAsync('SHA-256', await this.dummy, password);
      return false;
    }
    return verifyScramPasswordAsync('SHA-256', record.scram['SHA-256'], password);
  }

  /** The stored credentials for `hash`, or `undefined` for an unknown account. */
  async scramCredentials(username: string, hash: 'SHA-1' | 'SHA-256'): Promise<ScramCredentials | undefined> {
    return (await this.accounts.get(normalizeUsername(username)))?.scram[hash];
  }
}
