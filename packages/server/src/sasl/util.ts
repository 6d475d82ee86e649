/** Small encoding helpers shared by the SASL mechanisms. */
import { tryParseJid } from '@strand/core';
import type { SaslStep, SaslFailureCondition } from './types.js';

/**
 * Normalises a SASL authentication identity into an account localpart: Unicode NFKC (the core
 * of SASLprep, RFC 4013) then lower-case (localparts are compared case-insensitively,
 * RFC 7622 §3.3). Idempotent; {@link AuthenticatorImpl} applies it to stored usernames too.
 */
export function normalizeUsername(name: string): string {
  return name.normalize('NFKC').toLowerCase();
}

/**
 * Decodes a SCRAM `saslname` (RFC 5802 §5.1): `=2C` → `,` and `=3D` → `=`.
 * @returns `undefined` when the name is empty or has any other `=` sequence (or a raw `,`).
 */
export function decodeSaslName(value: string): string | undefined {
  if (value === '' || value.includes(',') || /=(?!2C|3D)/.test(value)) return undefined;
  return value.replace(/=(2C|3D)/g, (_, code: string) => (code === '2C' ? ',' : '='));
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes strict UTF-8; `undefined` for invalid byte sequences. */
export function decodeUtf8(data: Buffer): string | undefined {
  try {
    return utf8.decode(data);
  } catch {
    return undefined;
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict (canonical padding, no whitespace) base64 decoding; `undefined` when invalid. */
export function decodeBase64Strict(text: string): Buffer | undefined {
  return BASE64.test(text) ? Buffer.from(text, 'base64') : undefined;
}

/**
 * Decodes the character data of `<auth/>` or `<response/>` (RFC 6120 §6.4.2): empty text means
 * "no data" (`undefined`), `=` an empty buffer, anything else must be strict base64
 * (surrounding whitespace is ignored).
 * @returns `'incorrect-encoding'` when the text is not valid base64 (RFC 6120 §6.5.2).
 */
export function decodeSaslPayload(text: string): Buffer | undefined | 'incorrect-encoding' {
  const t = text.trim();
  if (t === '') return undefined;
  if (t === '=') return Buffer.alloc(0);
  return decodeBase64Strict(t) ?? 'incorrect-encoding';
}

/** Encodes challenge/success data for the wire: an empty buffer becomes `=` (RFC 6120 §6.4.2). */
export function encodeSaslPayload(data: Buffer): string {
  return data.length === 0 ? '=' : data.toString('base64');
}

/**
 * True when `authzid` may be used by `username`: empty, or exactly the account's bare JID
 * `username@domain` (no resource). Strand supports no proxy authorisation (RFC 6120 §6.3.8).
 */
export function authzidAllowed(authzid: string, username: string, domain: string): boolean {
  if (authzid === '') return true;
  const jid = tryParseJid(authzid);
  return (
    jid !== undefined &&
    jid.resource === '' &&
    normalizeUsername(jid.local) === username &&
    jid.domain === domain.toLowerCase()
  );
}

/** A `failure` step. */
export function failure(condition: SaslFailureCondition, text?: string): SaslStep {
  return text === undefined ? { kind: 'failure', condition } : { kind: 'failure', condition, text };
}
