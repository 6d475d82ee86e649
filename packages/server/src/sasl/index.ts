/**
 * Server-side SASL (RFC 6120 §6): PLAIN (RFC 4616), SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256
 * (RFC 7677), plus the default {@link AuthenticatorImpl}.
 */
import type { Authenticator } from '@strand/core';
import { PlainMechanism } from './plain.js';
import { ScramMechanism, type ScramOptions } from './scram.js';
import type { SaslMechanism } from './types.js';

export * from './types.js';
export * from './tokens.js';
export { decodeSaslName, decodeSaslPayload, encodeSaslPayload, normalizeUsername } from './util.js';
export { PlainMechanism } from './plain.js';
export { ScramMechanism, type ScramOptions } from './scram.js';
export { AuthenticatorImpl } from './authenticator.js';

/** Mechanisms Strand implements, strongest first (the order to advertise them in). */
export const SUPPORTED_MECHANISMS = ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN'] as const;

/** A name from {@link SUPPORTED_MECHANISMS}. */
export type SupportedMechanism = (typeof SUPPORTED_MECHANISMS)[number];

/**
 * Creates a mechanism for one exchange.
 * @param name the mechanism the client selected in `<auth mechanism=…/>` (case-sensitive, as
 *   mechanism names are upper-case by RFC 4422 §3.1)
 * @param domain the served domain (authzid checks)
 * @param options SCRAM options, notably a persistent `fakeSaltSecret`
 * @returns `undefined` for an unsupported name: answer `invalid-mechanism` (RFC 6120 §6.4.4)
 */
export function createSaslMechanism(
  name: string,
  authenticator: Authenticator,
  domain: string,
  options: ScramOptions = {},
): SaslMechanism | undefined {
  switch (name) {
    case 'PLAIN':
      return new PlainMechanism(authenticator, domain);
    case 'SCRAM-SHA-1':
      return new ScramMechanism('SHA-1', authenticator, domain, options);
    case 'SCRAM-SHA-256':
      return new ScramMechanism('SHA-256', authenticator, domain, options);
    default:
      return undefined;
  }
}
