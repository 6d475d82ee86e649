/** Injection tokens of the SASL layer. */

/**
 * PBKDF2 iteration count used when deriving new SCRAM credentials (config
 * `auth.scramIterations`; RFC 7677 §4 asks for at least 4096). Optional: {@link AuthenticatorImpl}
 * defaults to 4096 when unbound.
 */
export const ScramIterations = Symbol.for('@strand/server/ScramIterations');

/** Iteration count used when {@link ScramIterations} is not bound. */
export const DEFAULT_SCRAM_ITERATIONS = 4096;
