/**
 * Fuzzing (CI slice, fixed seed) of the stream parser (packages/server/src/stream/parser.ts):
 * random chunkings of valid streams give the same events as one write; mutated streams never make
 * it throw, yield at most one error as the last event, and the same events in any chunking; the
 * `incomplete` flag (the stanza timeout's input) is exact at every cut. The properties live in
 * bench/lib/fuzz-properties.mjs, which bench/fuzz.mjs runs a million times against the build.
 */
import { describe, it } from '@jest/globals';
import fc from 'fast-check';
import { StreamParser } from '../../packages/server/src/stream/parser.js';
import { parserProperties } from '../../bench/lib/fuzz-properties.mjs';

const props = parserProperties(fc, { StreamParser });

describe('fuzz: stream parser', () => {
  it('any chunking of a valid stream yields the same events as one write, no error', () => {
    fc.assert(props.chunking, { seed: 42, numRuns: 400 });
  });
  it('incomplete is true exactly while a header or element is partially received', () => {
    fc.assert(props.incomplete, { seed: 42, numRuns: 400 });
  });
  it('mutated streams: never throws, at most one error and last, same events in any chunking', () => {
    fc.assert(props.mutation, { seed: 42, numRuns: 1500 });
  });
});
