/**
 * Errors `@strand/component` reports (rejections of {@link ComponentHost.start} and `error`
 * events).
 * @packageDocumentation
 */
import type { StreamErrorCondition } from '@strand/core';

/** Stream error conditions that mean "this configuration will never connect": no retry. */
export const FATAL_CONDITIONS: ReadonlySet<string> = new Set<StreamErrorCondition>([
  'not-authorized',
  'host-unknown',
  'invalid-namespace',
]);

/** Base class of the errors of this package. */
export class ComponentError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ComponentError';
  }
}

/**
 * The server closed the stream with a `<stream:error/>` (RFC 6120 §4.9). `condition` is the
 * defined condition element's name, e.g. `conflict` or `system-shutdown`.
 */
export class ComponentStreamError extends ComponentError {
  constructor(
    readonly domain: string,
    readonly condition: string,
    readonly text: string | undefined,
    message?: string,
  ) {
    super(message ?? `the server closed the stream of ${domain} with <${condition}/>${text ? `: ${text}` : ''}`);
    this.name = 'ComponentStreamError';
  }
}

/**
 * The server refused the component: the XEP-0114 handshake failed (`not-authorized`: wrong
 * secret) or the server does not serve this component name (`host-unknown`). Retrying with the
 * same configuration cannot succeed, so the host does not reconnect after this error.
 */
export class ComponentAuthError extends ComponentStreamError {
  constructor(domain: string, condition: string, text: string | undefined) {
    const hint =
      condition === 'not-authorized'
        ? 'the shared secret (password) does not match the server configuration'
        : condition === 'host-unknown'
          ? `the server has no component named ${domain}`
          : 'the server refused the component stream';
    super(
      domain,
      condition,
      text,
      `XEP-0114 authentication of ${domain} failed: <${condition}/>${text ? ` (${text})` : ''} — ${hint}`,
    );
    this.name = 'ComponentAuthError';
  }
}

/** The TCP connection or the stream could not be established (refused, timed out, closed early). */
export class ComponentConnectionError extends ComponentError {
  constructor(
    readonly service: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot connect to ${service}: ${message}`, options);
    this.name = 'ComponentConnectionError';
  }
}
