/**
 * Shapes shared by the server-side SASL mechanisms (RFC 6120 §6, RFC 4422). Mechanisms are pure
 * logic: the stream negotiator decodes `<auth/>`/`<response/>` payloads, calls them, and writes
 * `<challenge/>`, `<success/>` or `<failure/>`.
 */

/** SASL failure conditions of RFC 6120 §6.5, in the order the RFC lists them. */
export const SASL_FAILURE_CONDITIONS = [
  'aborted',
  'account-disabled',
  'credentials-expired',
  'encryption-required',
  'incorrect-encoding',
  'invalid-authzid',
  'invalid-mechanism',
  'malformed-request',
  'mechanism-too-weak',
  'not-authorized',
  'temporary-auth-failure',
] as const;

/** One RFC 6120 §6.5 condition, the child element of `<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`. */
export type SaslFailureCondition = (typeof SASL_FAILURE_CONDITIONS)[number];

/** What the server answers after `start` or `step`. */
export type SaslStep =
  /** Send `<challenge/>` with `data` (base64, an empty buffer is sent as `=`) and wait for a `<response/>`. */
  | { kind: 'challenge'; data: Buffer }
  /**
   * Authentication succeeded as the account localpart `username` (NFKC-normalised, lower-case).
   * `additionalData` goes into `<success/>` (RFC 6120 §6.3.10), e.g. SCRAM's `v=` message.
   */
  | { kind: 'success'; username: string; additionalData?: Buffer }
  /** Send `<failure/>` with `condition` and the optional `<text/>`; the exchange is over. */
  | { kind: 'failure'; condition: SaslFailureCondition; text?: string };

/**
 * A server-side SASL mechanism for one exchange (create a fresh one per `<auth/>`). After a
 * `success` or `failure` step, any further call answers `malformed-request`.
 */
export interface SaslMechanism {
  /** The IANA mechanism name, e.g. `SCRAM-SHA-1`. */
  readonly name: string;
  /**
   * Begins the exchange (`<auth/>`).
   * @param initialResponse the decoded initial response; `undefined` when `<auth/>` was empty
   *   (the mechanism then answers an empty challenge, RFC 6120 §6.4.2), an empty buffer for `=`.
   */
  start(initialResponse: Buffer | undefined): Promise<SaslStep>;
  /** Continues the exchange with a decoded `<response/>` payload. */
  step(response: Buffer): Promise<SaslStep>;
}
