/** SASL PLAIN, server side (RFC 4616). */
import type { Authenticator } from '@strand/core';
import type { SaslMechanism, SaslStep } from './types.js';
import { authzidAllowed, decodeUtf8, failure, normalizeUsername } from './util.js';

/**
 * PLAIN: one message `[authzid] NUL authcid NUL passwd` (RFC 4616 §2). The authcid is an
 * account localpart; the authzid must be empty or the account's bare JID, else
 * `invalid-authzid` (checked after the password, so it never reveals anything unauthenticated).
 * A wrong password and an unknown account both give `not-authorized`; a store error gives
 * `temporary-auth-failure`. Whether PLAIN may be offered on an unencrypted stream is the
 * negotiator's decision.
 */
export class PlainMechanism implements SaslMechanism {
  readonly name = 'PLAIN';
  private state: 'new' | 'waiting' | 'done' = 'new';

  constructor(
    private readonly authenticator: Authenticator,
    private readonly domain: string,
  ) {}

  async start(initialResponse: Buffer | undefined): Promise<SaslStep> {
    if (this.state !== 'new') return this.finish(failure('malformed-request', 'exchange already started'));
    this.state = 'waiting';
    if (initialResponse === undefined) return { kind: 'challenge', data: Buffer.alloc(0) };
    return this.step(initialResponse);
  }

  async step(response: Buffer): Promise<SaslStep> {
    if (this.state !== 'waiting') return this.finish(failure('malformed-request', 'unexpected response'));
    return this.finish(await this.verify(response));
  }

  private finish(step: SaslStep): SaslStep {
    this.state = 'done';
    return step;
  }

  private async verify(message: Buffer): Promise<SaslStep> {
    const parts = decodeUtf8(message)?.split('\0');
    if (parts?.length !== 3) return failure('malformed-request', 'expected [authzid] NUL authcid NUL passwd');
    const [authzid, authcid, password] = parts as [string, string, string];
    if (authcid === '' || password === '') return failure('malformed-request', 'empty authcid or password');
    const username = normalizeUsername(authcid);
    let ok: boolean;
    try {
      ok = await this.authenticator.verifyPassword(username, password);
    } catch {
      return failure('temporary-auth-failure');
    }
    if (!ok) return failure('not-authorized');
    if (!authzidAllowed(authzid, username, this.domain)) return failure('invalid-authzid');
    return { kind: 'success', username };
  }
}
