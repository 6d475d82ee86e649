/**
 * TLS material: the configured certificate, or a self-signed one generated on first start and
 * kept next to the data directory so that clients can pin it across restarts.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { generate } from 'selfsigned';
import type { Logger } from '@strand/core';

/** PEM certificate chain and private key. */
export interface TlsMaterial {
  cert: string;
  key: string;
}

/**
 * Loads `cert`/`key` files, or creates (once) a self-signed certificate for `domain` at
 * `generatedCert`/`generatedKey`.
 */
export async function loadTlsMaterial(opts: {
  cert?: string | undefined;
  key?: string | undefined;
  domain: string;
  generatedCert: string;
  generatedKey: string;
  logger: Logger;
}): Promise<TlsMaterial> {
  if (opts.cert && opts.key) {
    return { cert: readFileSync(opts.cert, 'utf8'), key: readFileSync(opts.key, 'utf8') };
  }
  if (existsSync(opts.generatedCert) && existsSync(opts.generatedKey)) {
    return { cert: readFileSync(opts.generatedCert, 'utf8'), key: readFileSync(opts.generatedKey, 'utf8') };
  }
  const pems = await generate([{ name: 'commonName', value: opts.domain }], {
    keySize: 2048,
    notAfterDate: new Date(Date.now() + 825 * 86_400_000),
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: opts.domain }, { type: 2, value: `*.${opts.domain}` }] }],
  });
  mkdirSync(dirname(opts.generatedCert), { recursive: true });
  writeFileSync(opts.generatedKey, pems.private, { mode: 0o600 });
  writeFileSync(opts.generatedCert, pems.cert);
  opts.logger.warn({ cert: opts.generatedCert }, 'generated a self-signed certificate; configure tls.cert/tls.key for production');
  return { cert: pems.cert, key: pems.private };
}

/** A Node secure context for the material. */
export function secureContextOf(m: TlsMaterial): SecureContext {
  return createSecureContext({ cert: m.cert, key: m.key, minVersion: 'TLSv1.2' });
}
