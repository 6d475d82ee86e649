#!/usr/bin/env node
/**
 * Strand vs Prosody vs ejabberd, same machine, same run, same load client.
 * Usually started through `npm run bench` (bench/run.sh: installs the peers, builds Strand,
 * raises the open-file limit). See bench/README.md for every option.
 */
import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync, readFileSync, appendFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { createServers } from './lib/servers.mjs';
import { idle, throughput, resume, keepalive, median } from './lib/workloads.mjs';
import { openFileLimit, portOpen } from './lib/proc.mjs';
import { renderReport } from './lib/report.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..');

// ---------------------------------------------------------------------------------------------
// options: flag > env > default (the parameters)

const DEFAULTS = {
  servers: 'strand,prosody,ejabberd',
  workloads: 'idle,throughput,resume,keepalive',
  idle: '1000,5000',
  messages: 20000,
  window: 1000,
  body: 64,
  'ack-every': 100,
  repeat: 3,
  rounds: 50,
  burst: 10,
  gap: 2,
  'keepalive-sessions': 10000,
  'keepalive-window': 60,
  'keepalive-interval': 60,
  'keepalive-settle': 90,
  workers: 2,
  concurrency: 32,
  'port-base': 15222,
  'strand-storage': 'sqlite',
  'strand-node-args': '',
  'time-limit': 5400,
  settle: 3,
  'rss-settle': 25,
  'strand-gc': '1',
  label: '',
  record: false,
  quick: false,
};
const QUICK = { idle: '100', messages: 2000, repeat: 3, rounds: 5, 'keepalive-sessions': 200, 'keepalive-window': 10, 'keepalive-settle': 3, settle: 2, 'rss-settle': 20 };

// `node bench/run.mjs --render bench/.work/last-run.json`: print a recorded run's report again
const renderAt = process.argv.indexOf('--render');
if (renderAt > 0) {
  const file = process.argv[renderAt + 1];
  const { meta, results } = JSON.parse(readFileSync(file, 'utf8'));
  process.stdout.write(renderReport(meta, results, meta.cfg) + '\n');
  process.exit(0);
}

const options = Object.fromEntries(
  Object.entries(DEFAULTS).map(([k, v]) => [k, { type: typeof v === 'boolean' ? 'boolean' : 'string' }]),
);
options.help = { type: 'boolean', short: 'h' };
const { values: flags } = parseArgs({ options, allowPositionals: false });
if (flags.help) {
  process.stdout.write(readFileSync(join(HERE, 'README.md'), 'utf8'));
  process.exit(0);
}
const envName = (k) => `BENCH_${k.toUpperCase().replace(/-/g, '_')}`;
const quick = flags.quick ?? (process.env.BENCH_QUICK === '1' || process.env.BENCH_QUICK === 'true');
const opt = (k) => {
  if (flags[k] !== undefined) return flags[k];
  if (process.env[envName(k)] !== undefined) return process.env[envName(k)];
  if (quick && QUICK[k] !== undefined) return QUICK[k];
  return DEFAULTS[k];
};
const num = (k) => {
  const v = Number(opt(k));
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${k} must be a non-negative number, got ${opt(k)}`);
  return v;
};
const list = (k) => String(opt(k)).split(',').map((s) => s.trim()).filter(Boolean);

const cfg = {
  servers: list('servers'),
  workloads: list('workloads'),
  idleNs: list('idle').map(Number),
  messages: num('messages'),
  window: num('window'),
  bodyBytes: num('body'),
  ackEvery: Math.max(1, num('ack-every')),
  repeat: Math.max(1, num('repeat')),
  rounds: num('rounds'),
  burst: num('burst'),
  gap: num('gap'),
  keepaliveSessions: num('keepalive-sessions'),
  keepaliveWindowS: num('keepalive-window'),
  keepaliveInterval: Math.max(1, num('keepalive-interval')),
  keepaliveSettleMs: num('keepalive-settle') * 1000,
  workers: Math.max(1, num('workers')),
  concurrency: Math.max(1, num('concurrency')),
  portBase: num('port-base'),
  strandStorage: opt('strand-storage'),
  strandNodeArgs: String(opt('strand-node-args')).split(',').filter(Boolean),
  timeLimitS: num('time-limit'),
  settleMs: num('settle') * 1000,
  rssSettleMs: num('rss-settle') * 1000,
  strandGc: !['0', 'false', 'no', 'off'].includes(String(opt('strand-gc'))),
  label: String(opt('label')),
  record: !!(flags.record ?? process.env.BENCH_RECORD === '1'),
  quick,
};
for (const w of cfg.workloads) {
  if (!['idle', 'throughput', 'resume', 'keepalive'].includes(w)) throw new Error(`unknown workload ${w}`);
}

const workDir = join(HERE, '.work');
mkdirSync(workDir, { recursive: true });
const startedAt = new Date();
const logFile = join(workDir, `run-${startedAt.toISOString().replace(/[:.]/g, '-')}.log`);
const log = (msg) => {
  const line = `${new Date().toISOString().slice(11, 19)} ${msg}`;
  process.stderr.write(line + '\n');
  appendFileSync(logFile, line + '\n');
};

const usersNeeded = Math.max(2, 20, ...(cfg.workloads.includes('idle') ? cfg.idleNs : [0]), cfg.workloads.includes('keepalive') ? cfg.keepaliveSessions : 0);
const serverOpts = {
  workDir,
  repo: REPO,
  log,
  users: usersNeeded,
  ackEvery: cfg.ackEvery,
  keepaliveInterval: cfg.keepaliveInterval,
  strandStorage: cfg.strandStorage,
  startTimeoutMs: 60000,
  ports: {
    strand: cfg.portBase,
    prosody: cfg.portBase + 1,
    ejabberd: cfg.portBase + 2,
    ejabberdDist: cfg.portBase + 3,
  },
};
const servers = createServers(cfg.servers, serverOpts);
const wopts = {
  ...cfg,
  log,
  loginTimeoutMs: 30000,
  throughputTimeoutMs: Math.max(60000, cfg.messages * 5),
  resumeGapMs: 20,
};

// ---------------------------------------------------------------------------------------------
// cleanup: every server we started is stopped by its PID, whatever happens

let current; // the server running now
let cleaning = false;
async function cleanup(reason) {
  if (cleaning) return;
  cleaning = true;
  if (reason) log(`stopping: ${reason}`);
  for (const s of servers) {
    if (s.pid || s.launcherPid) await s.stop().catch((e) => log(`stop ${s.name}: ${e.message}`));
  }
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    void cleanup(sig).then(() => {
      finish(`interrupted by ${sig}: partial results`);
      process.exit(130);
    });
  });
}
const deadline = setTimeout(() => {
  void cleanup(`time limit of ${cfg.timeLimitS} s reached`).then(() => {
    finish(`time limit of ${cfg.timeLimitS} s reached: partial results`);
    process.exit(124);
  });
}, cfg.timeLimitS * 1000);
deadline.unref();

// ---------------------------------------------------------------------------------------------

const results = Object.fromEntries(servers.map((s) => [s.name, { notes: s.notes }]));

async function withServer(server, profile, fn) {
  current = server;
  const t = Date.now();
  try {
    await server.start(profile);
    await server.provision(usersNeeded);
    if (results[server.name].iterations === undefined) results[server.name].iterations = await server.checkIterations();
    const r = await fn();
    for (const x of [r, ...Object.values(r ?? {})]) {
      if (x && typeof x === 'object' && x.failed > 0 && x.errors?.length) server.notes.push(`${profile.name}: ${x.failed} failed logins, e.g. ${x.errors[0]}`);
      if (x && typeof x === 'object' && x.notes?.length) server.notes.push(...x.notes.map((n) => `resume: ${n}`));
    }
    return r;
  } catch (err) {
    log(`${server.name} ${profile.name}: ${err.stack ?? err.message}`);
    const tail = server.tail(15);
    if (tail) log(tail);
    server.notes.push(`${profile.name}: ${err.message.split('\n')[0]}`);
    return { error: err.message.split('\n')[0] };
  } finally {
    await server.stop().catch((e) => log(`stop ${server.name}: ${e.message}`));
    current = undefined;
    log(`${server.name} ${profile.name}: done in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
}

async function main() {
  log(`bench: ${JSON.stringify({ ...cfg, log: undefined })}`);
  const lim = openFileLimit();
  log(`open-file limit: soft ${lim?.soft}, hard ${lim?.hard}`);
  const needFds = Math.max(cfg.keepaliveSessions, ...cfg.idleNs) + 100;
  if (lim && lim.soft !== 'unlimited' && Number(lim.soft) < needFds) {
    log(`WARNING: open-file limit ${lim.soft} < ${needFds} needed; run through bench/run.sh (ulimit -n) or lower the session counts`);
  }
  if (await portOpen(5222)) log('note: something listens on 127.0.0.1:5222 (a system XMPP service?); it keeps running and may disturb the measurements');

  const defaultProfile = { name: 'default', nodeArgs: cfg.strandNodeArgs };
  const idleProfile = { name: 'idle', nodeArgs: cfg.strandNodeArgs, gcOnSignal: cfg.strandGc };
  const kaProfile = { name: 'keepalive', keepalive: true, nodeArgs: cfg.strandNodeArgs };

  if (cfg.workloads.includes('idle')) {
    for (const n of cfg.idleNs) {
      for (const s of servers) {
        log(`== idle ${n}: ${s.name}`);
        const r = await withServer(s, idleProfile, () => idle(s, wopts, n));
        (results[s.name].idle ??= {})[n] = r;
        log(`   ${JSON.stringify(r)}`);
      }
    }
  }

  if (cfg.workloads.includes('throughput') || cfg.workloads.includes('resume')) {
    for (const s of servers) {
      log(`== throughput/resume: ${s.name}`);
      const r = await withServer(s, defaultProfile, async () => {
        const out = {};
        if (cfg.workloads.includes('throughput')) {
          const runs = { sm: [], nosm: [] };
          // warm-up run (not counted) so that JITs and caches are in the same state for everyone
          await throughput(s, { ...wopts, messages: Math.min(2000, cfg.messages) }, { sm: true, rep: 'w' });
          for (let rep = 0; rep < cfg.repeat; rep++) {
            for (const sm of [true, false]) {
              if (sm && s.name === 'strand' && s.plugins && !s.plugins.sm) continue;
              const x = await throughput(s, wopts, { sm, rep });
              runs[sm ? 'sm' : 'nosm'].push(x);
              if (!x.ok) s.notes.push(`throughput SM ${sm ? 'on' : 'off'} run #${rep} failed: ${x.note}`);
              log(`   throughput ${sm ? 'SM on ' : 'SM off'} #${rep}: ${JSON.stringify({ ...x, window: undefined })}`);
            }
          }
          out.throughput = summariseThroughput(runs);
        }
        if (cfg.workloads.includes('resume')) {
          if (s.name === 'strand' && s.plugins && !s.plugins.sm) out.resume = { error: 'no stream management' };
          else {
            out.resume = await resume(s, wopts);
            log(`   resume: ${JSON.stringify(out.resume)}`);
          }
        }
        return out;
      });
      if (r.error) results[s.name].throughputError = r.error;
      else Object.assign(results[s.name], r);
    }
  }

  if (cfg.workloads.includes('keepalive')) {
    for (const s of servers) {
      log(`== keepalive: ${s.name}`);
      const r = await withServer(s, kaProfile, () => keepalive(s, wopts));
      results[s.name].keepalive = r;
      log(`   ${JSON.stringify(r)}`);
      if (s.name === 'strand' && s.plugins && !s.plugins.keepalive) results[s.name].notes.push('@strand/keepalive not usable: keepalive row without XEP-0304');
    }
  }
}

function summariseThroughput(runs) {
  const sum = (xs) => {
    const ok = xs.filter((x) => x.ok);
    return {
      runs: xs.length,
      ok: ok.length,
      msgsPerSec: median(ok.map((x) => x.msgsPerSec)),
      msgsPerCpuSec: median(ok.map((x) => x.msgsPerCpuSec)),
      serverCpuPct: median(ok.map((x) => x.serverCpuPct)),
      clientCpuPct: median(ok.map((x) => x.clientCpuPct)),
      all: xs.map((x) => (x.ok ? Math.round(x.msgsPerSec) : 'failed')),
      errorsAtSender: xs.reduce((s, x) => s + (x.errorsAtSender ?? 0), 0),
      windows: ok.map((x) => x.window),
    };
  };
  return { sm: sum(runs.sm), nosm: sum(runs.nosm) };
}

function versions() {
  const v = {};
  for (const s of servers) v[s.name] = s.version();
  v.node = process.version;
  return v;
}

function gitRev() {
  try {
    const head = readFileSync(join(REPO, '.git/HEAD'), 'utf8').trim();
    if (!head.startsWith('ref:')) return head.slice(0, 12);
    const ref = head.slice(5);
    return readFileSync(join(REPO, '.git', ref), 'utf8').trim().slice(0, 12);
  } catch {
    return '?';
  }
}

let finished = false;
try {
  await main();
} catch (err) {
  log(`FAILED: ${err.stack ?? err.message}`);
  process.exitCode = 1;
} finally {
  await cleanup();
  clearTimeout(deadline);
}
finish();

function finish(problem) {
  if (finished) return;
  finished = true;
  const meta = {
    date: startedAt.toISOString(),
    durationS: Math.round((Date.now() - startedAt.getTime()) / 1000),
    command: process.env.BENCH_COMMAND || `node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trim(),
    versions: versions(),
    git: gitRev(),
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}`,
    loadavg: os.loadavg().map((x) => x.toFixed(2)).join(' '),
    cfg: { ...cfg },
    label: [cfg.label || (cfg.quick ? 'quick validation run (small parameters, not comparable to the full run)' : ''), problem].filter(Boolean).join(' — '),
  };
  const report = renderReport(meta, results, cfg);
  process.stdout.write('\n' + report + '\n');
  writeFileSync(join(workDir, 'last-run.md'), report + '\n');
  writeFileSync(join(workDir, 'last-run.json'), JSON.stringify({ meta, results }, null, 2));
  if (cfg.record) {
    appendFileSync(join(HERE, 'RESULTS.md'), '\n' + report + '\n');
    log('appended to bench/RESULTS.md');
  }
  log(`log: ${logFile}; results: ${join(workDir, 'last-run.json')}`);
}
