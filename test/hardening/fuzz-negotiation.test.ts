/**
 * Fuzzing (CI slice, fixed seed) of the stream header and negotiation against the real host
 * in-process: random protocol scripts (realistic prefixes — header, SASL, bind, SM — then hostile
 * fragments, sometimes byte-mutated, in random chunks) go through `StrandServer`'s own accept path
 * on a fake socket, with stream management, keepalive and presence-probe loaded. The host must
 * never log an error (an error line means an exception escaped a handler), never leave an
 * unhandled rejection, write at most one stream error and nothing after its close tag, and forget
 * every stream after EOF. bench/fuzz.mjs runs the same property at length.
 */
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import fc from 'fast-check';
import type { Logger } from '@strand/core';
import keepalive from '@strand/keepalive';
import presenceProbe from '@strand/presence-probe';
import sm from '@strand/stream-management';
import { StrandServer } from '@strand/server';
import { testConfig } from '../helpers/server.js';
import { negotiationProperty, type AcceptingServer } from '../../bench/lib/fuzz-properties.mjs';

let server: StrandServer;
let errors = 0;
let lastError = '';
const onUnhandled = (err: unknown) => {
  errors++;
  lastError = `unhandled rejection: ${String(err)}`;
};

function countingLogger(): Logger {
  const noop = () => undefined;
  const logger: Logger = {
    trace: noop,
    debug: noop,
    info: noop,
    warn: noop,
    error: (a: unknown, b?: string) => {
      errors++;
      const err = (a as { err?: unknown })?.err;
      lastError = `${b ?? String(a)} ${err instanceof Error ? err.stack : ''}`;
    },
    fatal: (a: unknown, b?: string) => {
      errors++;
      lastError = `fatal ${b ?? String(a)}`;
    },
    child: () => logger,
  };
  return logger;
}

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  server = await StrandServer.create(
    testConfig({
      listen: { host: '127.0.0.1', c2s: null, c2sTls: null, http: null, component: null },
      plugins: { '@strand/stream-management': {}, '@strand/keepalive': {}, '@strand/presence-probe': {} },
    }),
    { plugins: { '@strand/stream-management': sm, '@strand/keepalive': keepalive, '@strand/presence-probe': presenceProbe }, logger: countingLogger() },
  );
  await server.start();
});

afterAll(async () => {
  await server?.stop();
  process.off('unhandledRejection', onUnhandled);
});

describe('fuzz: stream header and negotiation (real host, fake socket)', () => {
  it('random protocol scripts never make the host fail', async () => {
    const prop = negotiationProperty(fc, server as unknown as AcceptingServer, { errors: () => errors, lastError: () => lastError });
    await fc.assert(prop, { seed: 42, numRuns: 300 });
  });
});
