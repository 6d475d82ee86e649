#!/usr/bin/env node
/**
 * The long fuzz run: the properties of bench/lib/fuzz-properties.mjs (the same ones the CI slice in
 * test/hardening/fuzz-*.test.ts runs with a fixed seed) against the *built* packages, for up to
 * `--cases` cases or `--minutes` minutes, whichever comes first, in batches with fresh seeds.
 * Counts cases, property failures ("crashes": a thrown exception, an error logged by the host, a
 * broken invariant), unhandled rejections and uncaught exceptions, and samples memory after a
 * forced GC between batches. Writes bench/.work/fuzz-<timestamp>.json and prints a summary.
 *
 *   npm run build && node --expose-gc bench/fuzz.mjs                  # 1 000 000 cases or 10 min
 *   node --expose-gc bench/fuzz.mjs --cases 200000 --minutes 3 --mix parser=6,negotiation=2,plugins=2
 *   node --expose-gc bench/fuzz.mjs --workers 2                    # one process per core
 *
 * Exit code 1 when any case failed or anything was left unhandled.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { negotiationProperty, parserProperties, pluginProperty } from './lib/fuzz-properties.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..');
const dist = (pkg, file = 'index.js') => pathToFileURL(join(REPO, 'packages', pkg, 'dist', file)).href;

const { values: opts } = parseArgs({
  options: {
    cases: { type: 'string', default: '1000000' },
    minutes: { type: 'string', default: '10' },
    batch: { type: 'string', default: '' },
    seed: { type: 'string', default: '' },
    mix: { type: 'string', default: 'parser=7,negotiation=1,plugins=2' },
    out: { type: 'string', default: '' },
    sample: { type: 'string', default: '30' },
    workers: { type: 'string', default: '1' },
  },
});

// --workers N: N processes (one per core), each with its own seeds and an equal share of the
// cases; the parent only aggregates their reports.
if (Number(opts.workers) > 1) {
  const { spawn } = await import('node:child_process');
  const { readFileSync } = await import('node:fs');
  const n = Number(opts.workers);
  const base = opts.seed ? Number(opts.seed) : Date.now() % 2 ** 31;
  const outBase = opts.out || join(HERE, '.work', `fuzz-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const parts = await Promise.all(
    Array.from({ length: n }, (_, i) => {
      const out = outBase.replace(/\.json$/, `.worker${i}.json`);
      const args = [...process.execArgv, fileURLToPath(import.meta.url), '--cases', String(Math.ceil(Number(opts.cases) / n)), '--minutes', opts.minutes, '--seed', String(base + i * 10_000_000), '--mix', opts.mix, '--sample', opts.sample, '--out', out];
      if (opts.batch) args.push('--batch', opts.batch);
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
      return new Promise((resolveExit) => child.on('exit', (code) => resolveExit({ code, out })));
    }),
  );
  const reports = parts.map((p) => JSON.parse(readFileSync(p.out, 'utf8')));
  const sum = (k) => reports.reduce((a, r) => a + r[k], 0);
  const perProperty = {};
  for (const r of reports) for (const [k, v] of Object.entries(r.perProperty)) {
    const t = (perProperty[k] ??= { cases: 0, failures: 0, ms: 0 });
    t.cases += v.cases;
    t.failures += v.failures;
    t.ms += v.ms;
  }
  const total = { date: new Date().toISOString(), workers: n, cases: sum('cases'), seconds: Math.max(...reports.map((r) => r.seconds)), failures: sum('failures'), unhandledRejections: sum('unhandledRejections'), uncaughtExceptions: sum('uncaughtExceptions'), hostErrorLines: sum('hostErrorLines'), perProperty, workerReports: parts.map((p) => p.out) };
  writeFileSync(outBase, JSON.stringify(total, null, 2));
  console.log(`\nall workers: ${total.cases} cases in ${total.seconds} s; failures ${total.failures}, unhandled rejections ${total.unhandledRejections}, uncaught exceptions ${total.uncaughtExceptions}`);
  for (const [k, v] of Object.entries(perProperty)) console.log(`  ${k.padEnd(18)} ${String(v.cases).padStart(9)} cases  ${String(v.failures).padStart(3)} failed`);
  for (const r of reports) {
    const first = r.memory[1] ?? r.memory[0];
    const last = r.memory.at(-1);
    console.log(`  worker seeds ${r.firstSeed}…${r.lastSeed}: ${r.cases} cases; heap after GC ${first.heapUsedMB} → ${last.heapUsedMB} MB, rss ${first.rssMB} → ${last.rssMB} MB`);
  }
  console.log(`  report: ${outBase}`);
  process.exit(total.failures || total.unhandledRejections || total.uncaughtExceptions || parts.some((p) => p.code !== 0) ? 1 : 0);
}
const maxCases = Number(opts.cases);
const deadline = Date.now() + Number(opts.minutes) * 60_000;
let seed = opts.seed ? Number(opts.seed) : Date.now() % 2 ** 31;
const firstSeed = seed;

const { StreamParser } = await import(dist('server', 'stream/parser.js'));
const { StrandServer } = await import(dist('server'));
const { TestHost } = await import(dist('testing'));
const { xml } = await import(dist('core'));
const sm = (await import(dist('stream-management'))).default;
const keepalive = (await import(dist('keepalive'))).default;
const presenceProbe = (await import(dist('presence-probe'))).default;

// ------------------------------------------------------------------ unhandled things are counted
const unhandled = { rejections: 0, exceptions: 0, samples: [] };
process.on('unhandledRejection', (err) => {
  unhandled.rejections++;
  if (unhandled.samples.length < 5) unhandled.samples.push(`rejection: ${err?.stack ?? err}`);
});
process.on('uncaughtException', (err) => {
  unhandled.exceptions++;
  if (unhandled.samples.length < 5) unhandled.samples.push(`exception: ${err?.stack ?? err}`);
});

// ------------------------------------------------------------------ the host for the negotiation property
let hostErrors = 0;
let lastHostError = '';
const noop = () => undefined;
const logger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: (a, b) => {
    hostErrors++;
    lastHostError = `${b ?? a} ${a?.err?.stack ?? ''}`;
  },
  fatal: (a, b) => {
    hostErrors++;
    lastHostError = `fatal ${b ?? a}`;
  },
  child: () => logger,
};
const dataDir = mkdtempSync(join(tmpdir(), 'strand-fuzz-'));
const certs = join(REPO, 'test', '.certs');
const haveCerts = existsSync(join(certs, 'localhost.crt'));
const server = await StrandServer.create(
  {
    domain: 'localhost',
    listen: { host: '127.0.0.1', c2s: null, c2sTls: null, http: null, component: null },
    tls: haveCerts ? { cert: join(certs, 'localhost.crt'), key: join(certs, 'localhost.key'), selfSigned: false } : { selfSigned: true },
    timeouts: { preAuth: 60, closeHandshake: 2, read: 300, stanza: 60 },
    limits: { maxStanzaBytes: 262144, maxDepth: 64, maxAttributes: 64, maxHeaderBytes: 4096, maxResourcesPerAccount: 10, offlinePerUser: 1000 },
    auth: { scramIterations: 4096, allowPlaintextOnLoopback: true, requireEncryption: true },
    storage: { kind: 'memory' },
    accounts: [
      { username: 'alice', password: 'secret' },
      { username: 'bob', password: 'secret' },
    ],
    components: [],
    log: { level: 'silent' },
    plugins: { '@strand/stream-management': {}, '@strand/keepalive': {}, '@strand/presence-probe': {} },
    overrides: [],
  },
  { plugins: { '@strand/stream-management': sm, '@strand/keepalive': keepalive, '@strand/presence-probe': presenceProbe }, logger, dataDir },
);
await server.start();

// ------------------------------------------------------------------ properties
const parser = parserProperties(fc, { StreamParser });
const properties = {
  'parser-chunking': { prop: parser.chunking, group: 'parser', batch: 2000 },
  'parser-incomplete': { prop: parser.incomplete, group: 'parser', batch: 2000 },
  'parser-mutation': { prop: parser.mutation, group: 'parser', batch: 2000 },
  negotiation: {
    prop: negotiationProperty(fc, server, { errors: () => hostErrors + unhandled.rejections + unhandled.exceptions, lastError: () => lastHostError }),
    group: 'negotiation',
    batch: 200,
  },
  plugins: {
    prop: pluginProperty(fc, {
      TestHost,
      plugins: [
        [sm, { ackRequestQuietMs: 1000, maxHibernatingPerUser: 2, resumeFailuresPerMinute: 3 }],
        [keepalive, {}],
        [presenceProbe, { rateLimit: { probes: 3, window: 60 } }],
      ],
      xml,
    }),
    group: 'plugins',
    batch: 200,
  },
};
const weights = Object.fromEntries(opts.mix.split(',').map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)]));
// Batches interleave the properties; each group gets its weight's share of the *cases* (a
// negotiation or plugin batch is smaller than a parser batch, so it is scheduled more often).
const slots = {};
for (const [name, p] of Object.entries(properties)) {
  const w = weights[p.group] ?? 0;
  const share = p.group === 'parser' ? w / 3 : w; // the three parser properties share the parser weight
  slots[name] = share > 0 ? Math.max(1, Math.round((share * 6000) / p.batch)) : 0;
}
const schedule = [];
for (let left = true; left; ) {
  left = false;
  for (const name of Object.keys(slots)) {
    if (slots[name] > 0) {
      schedule.push(name);
      slots[name]--;
      left = true;
    }
  }
}
if (schedule.length === 0) {
  console.error(`--mix selects nothing: ${opts.mix}`);
  process.exit(2);
}

// ------------------------------------------------------------------ run
const stats = Object.fromEntries(Object.keys(properties).map((k) => [k, { cases: 0, failures: 0, ms: 0 }]));
const failures = [];
const memory = [];
const sampleMemory = (cases) => {
  globalThis.gc?.();
  const m = process.memoryUsage();
  const mb = (n) => +(n / 2 ** 20).toFixed(1);
  memory.push({ t: Math.round((Date.now() - started) / 1000), cases, rssMB: mb(m.rss), heapUsedMB: mb(m.heapUsed), externalMB: mb(m.external), arrayBuffersMB: mb(m.arrayBuffers) });
};
const started = Date.now();
let total = 0;
let lastSample = 0;
sampleMemory(0);
for (let i = 0; total < maxCases && Date.now() < deadline; i++) {
  const name = schedule[i % schedule.length];
  const p = properties[name];
  const numRuns = Math.min(Number(opts.batch) || p.batch, maxCases - total);
  const t0 = Date.now();
  const result = await fc.check(p.prop, { numRuns, seed: seed++, endOnFailure: true });
  const ran = result.numRuns;
  stats[name].cases += ran;
  stats[name].ms += Date.now() - t0;
  total += ran;
  if (result.failed) {
    stats[name].failures++;
    failures.push({ property: name, seed: result.seed, path: result.counterexamplePath, error: String(result.errorInstance?.message ?? result.error).slice(0, 2000), counterexample: fc.stringify(result.counterexample).slice(0, 4000) });
    console.error(`FAILED ${name} seed=${result.seed} path=${result.counterexamplePath}: ${String(result.errorInstance?.message ?? result.error).slice(0, 500)}`);
  }
  if (Date.now() - lastSample >= Number(opts.sample) * 1000) {
    lastSample = Date.now();
    sampleMemory(total);
    const rate = Math.round(total / ((Date.now() - started) / 1000));
    const m = memory.at(-1);
    console.log(`${new Date().toISOString()} ${total} cases (${rate}/s), ${failures.length} failed, rss ${m.rssMB} MB, heap ${m.heapUsedMB} MB, external ${m.externalMB} MB`);
  }
}
sampleMemory(total);
await server.stop();
rmSync(dataDir, { recursive: true, force: true });

const seconds = (Date.now() - started) / 1000;
const summary = {
  date: new Date().toISOString(),
  node: process.version,
  firstSeed,
  lastSeed: seed - 1,
  requestedCases: maxCases,
  minutesLimit: Number(opts.minutes),
  cases: total,
  seconds: Math.round(seconds),
  casesPerSecond: Math.round(total / seconds),
  failures: failures.length,
  unhandledRejections: unhandled.rejections,
  uncaughtExceptions: unhandled.exceptions,
  hostErrorLines: hostErrors,
  perProperty: stats,
  memory,
  failureDetails: failures,
  unhandledSamples: unhandled.samples,
};
const out = opts.out || join(HERE, '.work', `fuzz-${summary.date.replace(/[:.]/g, '-')}.json`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(summary, null, 2));
console.log(`\n${total} cases in ${Math.round(seconds)} s (${summary.casesPerSecond}/s); failures ${failures.length}, unhandled rejections ${unhandled.rejections}, uncaught exceptions ${unhandled.exceptions}`);
for (const [k, v] of Object.entries(stats)) console.log(`  ${k.padEnd(18)} ${String(v.cases).padStart(9)} cases  ${String(v.failures).padStart(3)} failed  ${(v.cases / Math.max(1, v.ms / 1000)).toFixed(0)}/s`);
const first = memory[1] ?? memory[0];
const last = memory.at(-1);
console.log(`  memory after GC: rss ${first.rssMB} → ${last.rssMB} MB, heap ${first.heapUsedMB} → ${last.heapUsedMB} MB (${memory.length} samples)`);
console.log(`  report: ${out}`);
process.exit(failures.length || unhandled.rejections || unhandled.exceptions ? 1 : 0);
