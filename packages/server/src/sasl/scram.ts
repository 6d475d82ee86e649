/** SCRAM-SHA-1 and SCRAM-SHA-256, server side (RFC 5802, RFC 7677), without channel binding. */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { scramH, scramHmac, type Authenticator, type ScramCredentials, type ScramHash } from '@strand/core';
import type { SaslMechanism, SaslStep } from './types.js';
import { authzidAllowed, decodeBase64Strict, decodeSaslName, decodeUtf8, failure, normalizeUsername } from './util.js';
import { DEFAULT_SCRAM_ITERATIONS } from './tokens.js';

/** Options of the SCRAM mechanisms. */
export interface ScramOptions {
  /**
   * Secret from which fake salts of unknown accounts are derived (HMAC-SHA-256 of the username),
   * so that the same unknown name always gets the same salt. Pass a value that survives restarts
   * (a per-process random secret is the default, which lets a patient attacker notice that an
   * unknown name's salt changed after a restart).
   */
  fakeSaltSecret?: Buffer;
  /** Iteration count announced for unknown accounts; use the configured count. Default 4096. */
  fakeIterations?: number;
  /** Server nonce part generator, for tests (RFC test vectors). Default: 144 random bits, base64. */
  serverNonce?: () => string;
}

const PROCESS_SECRET = randomBytes(32);
/** Printable ASCII except `,` (RFC 5802 §7 `printable`). */
const NONCE = /^[\x21-\x2b\x2d-\x7e]+$/;
/** `attr-val` of an extension (RFC 5802 §7): one letter, `=`, a value. */
const ATTRIBUTE = /^[A-Za-z]=/;

interface FirstMessage {
  gs2Header: string;
  authzid: string;
  username: string;
  clientFirstBare: string;
  nonce: string;
  serverFirst: string;
  credentials: ScramCredentials;
  known: boolean;
}

/**
 * One SCRAM exchange (RFC 5802 §5): client-first → server-first challenge → client-final →
 * success carrying `v=ServerSignature`.
 *
 * Channel binding: Strand advertises no `-PLUS` mechanism, so gs2 flags `n` and `y` are accepted
 * and `p=…` is refused with `malformed-request` and the text `channel-binding-not-supported`
 * (the RFC 5802 §7 `server-error-value`; a client must only send `p` with a `-PLUS` mechanism).
 * The reserved `m=` attribute gives `malformed-request` / `extensions-not-supported`.
 *
 * Failure conditions: syntax errors (missing or misplaced attributes, bad base64, bad saslname,
 * proof of the wrong length, invalid UTF-8, empty messages) → `malformed-request`; a `c=` that
 * does not repeat the gs2 header, a nonce that is not the combined nonce, or a wrong proof →
 * `not-authorized`; authzid other than empty or the account's bare JID → `invalid-authzid`
 * (checked after the proof); a store error → `temporary-auth-failure`.
 *
 * Unknown accounts get fake, deterministic credentials (see {@link ScramOptions.fakeSaltSecret})
 * and walk through the same steps and computations as a wrong password, ending in
 * `not-authorized`, so that accounts cannot be enumerated.
 */
export class ScramMechanism implements SaslMechanism {
  readonly name: string;
  private state: 'new' | 'first' | 'final' | 'done' = 'new';
  private first: FirstMessage | undefined;

  /**
   * @param hash the SCRAM hash (`SHA-1` for SCRAM-SHA-1, `SHA-256` for SCRAM-SHA-256)
   * @param domain the served domain, to check the authzid
   */
  constructor(
    private readonly hash: ScramHash,
    private readonly authenticator: Authenticator,
    private readonly domain: string,
    private readonly options: ScramOptions = {},
  ) {
    this.name = `SCRAM-${hash}`;
  }

  async start(initialResponse: Buffer | undefined): Promise<SaslStep> {
    if (this.state !== 'new') return this.finish(failure('malformed-request', 'exchange already started'));
    this.state = 'first';
    if (initialResponse === undefined) return { kind: 'challenge', data: Buffer.alloc(0) };
    return this.step(initialResponse);
  }

  async step(response: Buffer): Promise<SaslStep> {
    if (this.state === 'first') return this.clientFirst(response);
    if (this.state === 'final') return this.finish(this.clientFinal(response));
    return this.finish(failure('malformed-request', 'unexpected response'));
  }

  private finish(step: SaslStep): SaslStep {
    this.state = step.kind === 'challenge' ? this.state : 'done';
    return step;
  }

  private async clientFirst(message: Buffer): Promise<SaslStep> {
    const text = decodeUtf8(message);
    if (!text) return this.finish(failure('malformed-request', 'empty or non-UTF-8 client-first-message'));
    const [flag = '', authzField = '', ...bare] = text.split(',');
    if (flag.startsWith('p=')) return this.finish(failure('malformed-request', 'channel-binding-not-supported'));
    if (flag !== 'n' && flag !== 'y') return this.finish(failure('malformed-request', 'bad gs2-cbind-flag'));
    const authzid = authzField === '' ? '' : authzField.startsWith('a=') ? decodeSaslName(authzField.slice(2)) : undefined;
    if (authzid === undefined) return this.finish(failure('malformed-request', 'bad authzid'));
    if (bare[0]?.startsWith('m=')) return this.finish(failure('malformed-request', 'extensions-not-supported'));
    const [userField = '', nonceField = '', ...extensions] = bare;
    const name = userField.startsWith('n=') ? decodeSaslName(userField.slice(2)) : undefined;
    if (name === undefined) return this.finish(failure('malformed-request', 'bad or missing username (n=)'));
    const clientNonce = nonceField.startsWith('r=') ? nonceField.slice(2) : '';
    if (!NONCE.test(clientNonce)) return this.finish(failure('malformed-request', 'bad or missing nonce (r=)'));
    if (!extensions.every((e) => ATTRIBUTE.test(e))) return this.finish(failure('malformed-request', 'bad attribute'));

    const username = normalizeUsername(name);
    let stored: ScramCredentials | undefined;
    try {
      stored = await this.authenticator.scramCredentials(username, this.hash);
    } catch {
      return this.finish(failure('temporary-auth-failure'));
    }
    const credentials = stored ?? this.fakeCredentials(username);
    const nonce = clientNonce + (this.options.serverNonce?.() ?? randomBytes(18).toString('base64'));
    const serverFirst = `r=${nonce},s=${credentials.salt},i=${credentials.iterations}`;
    this.first = {
      gs2Header: `${flag},${authzField},`,
      authzid,
      username,
      clientFirstBare: bare.join(','),
      nonce,
      serverFirst,
      credentials,
      known: stored !== undefined,
    };
    this.state = 'final';
    return { kind: 'challenge', data: Buffer.from(serverFirst, 'utf8') };
  }

  private clientFinal(message: Buffer): SaslStep {
    const first = this.first!;
    const text = decodeUtf8(message);
    if (!text) return failure('malformed-request', 'empty or non-UTF-8 client-final-message');
    const attributes = text.split(',');
    const [cbField = '', nonceField = ''] = attributes;
    const proofField = attributes.length >= 3 ? attributes[attributes.length - 1]! : '';
    if (!cbField.startsWith('c=') || !nonceField.startsWith('r=') || !proofField.startsWith('p=')) {
      return failure('malformed-request', 'expected c=…,r=…,p=…');
    }
    if (!attributes.slice(2, -1).every((e) => ATTRIBUTE.test(e))) return failure('malformed-request', 'bad attribute');
    const cbind = decodeBase64Strict(cbField.slice(2));
    const proof = decodeBase64Strict(proofField.slice(2));
    const storedKey = Buffer.from(first.credentials.storedKey, 'base64');
    if (!cbind || !proof || proof.length !== storedKey.length) return failure('malformed-request', 'bad base64 or proof length');
    if (!cbind.equals(Buffer.from(first.gs2Header, 'utf8'))) return failure('not-authorized', 'channel binding mismatch');
    if (nonceField.slice(2) !== first.nonce) return failure('not-authorized', 'nonce mismatch');

    const withoutProof = text.slice(0, text.length - proofField.length - 1);
    const authMessage = `${first.clientFirstBare},${first.serverFirst},${withoutProof}`;
    const clientSignature = scramHmac(this.hash, storedKey, authMessage);
    const clientKey = Buffer.from(proof.map((b, i) => b ^ clientSignature[i]!));
    const proofOk = timingSafeEqual(scramH(this.hash, clientKey), storedKey);
    if (!proofOk || !first.known) return failure('not-authorized');
    if (!authzidAllowed(first.authzid, first.username, this.domain)) return failure('invalid-authzid');
    const serverSignature = scramHmac(this.hash, Buffer.from(first.credentials.serverKey, 'base64'), authMessage);
    return {
      kind: 'success',
      username: first.username,
      additionalData: Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8'),
    };
  }

  /** Deterministic stand-in credentials for an unknown account (never match any proof in practice). */
  private fakeCredentials(username: string): ScramCredentials {
    const secret = this.options.fakeSaltSecret ?? PROCESS_SECRET;
    const mac = (label: string) => createHmac('sha256', secret).update(`${label}\0${this.hash}\0${username}`).digest();
    const keyLength = scramH(this.hash, Buffer.alloc(0)).length;
    return {
      salt: mac('salt').subarray(0, 16).toString('base64'),
      iterations: this.options.fakeIterations ?? DEFAULT_SCRAM_ITERATIONS,
      storedKey: mac('stored').subarray(0, keyLength).toString('base64'),
      serverKey: mac('server').subarray(0, keyLength).toString('base64'),
    };
  }
}
