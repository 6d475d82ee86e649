#!/usr/bin/env node
// Per-stanza cost of XEP-0198 bookkeeping at different unacked-queue depths: record one stanza
// (push) and acknowledge one (ack h+1) while the queue holds DEPTH stanzas. The cost should stay
// flat from 10 to 10 000 (the queue is a ring buffer; an ack never shifts an array).
// Run after `npm run build`:  node bench/sm-ack-cost.mjs [--ops 2000000]
import { performance } from 'node:perf_hooks';
import { UnackedQueue } from '../packages/stream-management/dist/index.js';

const opsArg = process.argv.indexOf('--ops');
const OPS = opsArg > 0 ? Number(process.argv[opsArg + 1]) : 2_000_000;
const rows = [];
for (const depth of [10, 100, 1_000, 10_000]) {
  const q = new UnackedQueue(0);
  for (let i = 0; i < depth; i++) q.push({ i });
  let h = 0;
  // warm-up, then measure
  for (let round = 0; round < 2; round++) {
    const t0 = performance.now();
    for (let i = 0; i < OPS; i++) {
      q.push({ i });
      h = (h + 1) >>> 0;
      q.ack(h);
    }
    const ns = ((performance.now() - t0) * 1e6) / OPS;
    if (round === 1) rows.push({ depth, 'ns per push+ack': ns.toFixed(1), 'queue length': q.length });
  }
}
console.table(rows);
