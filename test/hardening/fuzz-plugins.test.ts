/**
 * Fuzzing (CI slice, fixed seed) of every nonza and iq the plugins accept, on @strand/testing's
 * TestHost with stream management, keepalive and presence-probe: `<enable/>`, `<resume/>`, `<r/>`,
 * `<a/>` with `h`/`max`/`previd`/`resume` at their edges (huge, negative, non-numeric, 2^32, …) in
 * every SM namespace, keepalive intervals, probes and stanzas, interleaved with deliveries,
 * transport drops, resumes with right and wrong IDs and counts, and fake-time jumps. Nothing may
 * throw or log an error, no reply is internal-server-error, and after teardown no SM state is left
 * and every message is accounted for. bench/fuzz.mjs runs the same property at length.
 */
import { describe, it } from '@jest/globals';
import fc from 'fast-check';
import { xml } from '@strand/core';
import keepalive from '@strand/keepalive';
import presenceProbe from '@strand/presence-probe';
import sm from '@strand/stream-management';
import { TestHost } from '@strand/testing';
import { pluginProperty } from '../../bench/lib/fuzz-properties.mjs';

describe('fuzz: plugin nonzas and iqs (TestHost)', () => {
  it('random SM/keepalive/probe traffic never throws, logs an error or loses a message', async () => {
    const prop = pluginProperty(fc, {
      TestHost,
      plugins: [
        [sm, { ackRequestQuietMs: 1000, maxHibernatingPerUser: 2, resumeFailuresPerMinute: 3 }],
        [keepalive, {}],
        [presenceProbe, { rateLimit: { probes: 3, window: 60 } }],
      ],
      xml,
    });
    await fc.assert(prop, { seed: 42, numRuns: 150 });
  });
});
