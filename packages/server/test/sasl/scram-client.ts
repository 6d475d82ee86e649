/**
 * A minimal client-side SCRAM (RFC 5802 §3, §5) written independently of the server code, for
 * end-to-end tests. Uses only node:crypto.
 */
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';

export type Hash = 'SHA-1' | 'SHA-256';
const algo = (h: Hash) => (h === 'SHA-1' ? 'sha1' : 'sha256');
const hmac = (h: Hash, key: Buffer, data: string) => createHmac(algo(h), key).update(data).digest();

/** Escapes a saslname (RFC 5802 §5.1). */
export const saslName = (s: string) => s.replace(/=/g, '=3D').replace(/,/g, '=2C');

export class ScramClient {
  readonly gs2Header: string;
  readonly clientFirstBare: string;
  private serverSignature = '';

  constructor(
    readonly hash: Hash,
    readonly username: string,
    readonly password: string,
    readonly clientNonce: string,
    authzid = '',
    flag = 'n',
  ) {
    this.gs2Header = `${flag},${authzid ? `a=${saslName(authzid)}` : ''},`;
    this.clientFirstBare = `n=${saslName(username)},r=${clientNonce}`;
  }

  clientFirst(): Buffer {
    return Buffer.from(this.gs2Header + this.clientFirstBare);
  }

  /** Computes the client-final message from the server-first message. */
  clientFinal(serverFirst: Buffer | string): Buffer {
    const sf = serverFirst.toString();
    const attrs = Object.fromEntries(sf.split(',').map((a) => [a[0], a.slice(2)]));
    if (!attrs.r!.startsWith(this.clientNonce)) throw new Error('server nonce does not extend ours');
    const salted = pbkdf2Sync(
      Buffer.from(this.password.normalize('NFKC')),
      Buffer.from(attrs.s!, 'base64'),
      Number(attrs.i),
      this.hash === 'SHA-1' ? 20 : 32,
      algo(this.hash),
    );
    const clientKey = hmac(this.hash, salted, 'Client Key');
    const storedKey = createHash(algo(this.hash)).update(clientKey).digest();
    const withoutProof = `c=${Buffer.from(this.gs2Header).toString('base64')},r=${attrs.r}`;
    const authMessage = `${this.clientFirstBare},${sf},${withoutProof}`;
    const signature = hmac(this.hash, storedKey, authMessage);
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
    const serverKey = hmac(this.hash, salted, 'Server Key');
    this.serverSignature = hmac(this.hash, serverKey, authMessage).toString('base64');
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`);
  }

  /** True when the server's `v=` proves it knows the password. */
  verifyServerFinal(serverFinal: Buffer | undefined): boolean {
    return serverFinal?.toString() === `v=${this.serverSignature}`;
  }
}
