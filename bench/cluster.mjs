#!/usr/bin/env node
/**
 * Scale-out bench: Strand with 1, 2 and 3 cluster nodes on this machine (shared Redis and
 * PostgreSQL), plus a plain single node with SQLite as a reference. Logins/s spread over the
 * nodes, throughput with sender and receiver on the same node vs on different nodes (the hop
 * through Redis), message round-trip time, and XEP-0198 resumption on the same node (A→A) vs on
 * the other node (A→B, a session hand-over). `npm run bench:cluster [-- options]`; see
 * bench/README.md. Reuses the building blocks of bench/run.mjs (servers.mjs, workloads.mjs,
 * load-worker.mjs, xmpp.mjs); Redis and PostgreSQL come from bench/lib/services.mjs.
 *
 * Everything runs on loopback and is bounded by `--time-limit`; every process started here
 * (redis-server, postgres, the Strand nodes, the load workers) is stopped by its PID at the end,
 * on errors, on SIGINT/SIGTERM and at the time limit.
 */
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync, appendFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { StrandServer, PASSWORD, DOMAIN, userName } from './lib/servers.mjs';
import { throughput, resume, median, percentile, WorkerPool, loginSessions } from './lib/workloads.mjs';
import { XmppConn, attr } from './lib/xmpp.mjs';
import { alive, openFileLimit, sleep } from './lib/proc.mjs';
import { startRedis, startPostgres, redisVersion, postgresVersion } from './lib/services.mjs';
import { fmt } from './lib/report.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..');

// ---------------------------------------------------------------------------------------------
// options: flag > env (BENCH_CLUSTER_<NAME>) > --quick preset > default

const DEFAULTS = {
  nodes: '1,2,3',
  reference: 'sqlite',
  logins: 1000,
  'login-repeat': 3,
  messages: 20000,
  window: 1000,
  body: 64,
  'ack-every': 100,
  repeat: 3,
  rtt: 200,
  rounds: 50,
  burst: 10,
  gap: 2,
  workers: 2,
  concurrency: 32,
  'port-base': 16222,
  'join-wait': 4.5,
  'time-limit': 840,
  label: '',
  record: false,
  quick: false,
};
const QUICK = { logins: 200, messages: 2000, rtt: 50, rounds: 10, 'time-limit': 400 };

const options = Object.fromEntries(Object.entries(DEFAULTS).map(([k, v]) => [k, { type: typeof v === 'boolean' ? 'boolean' : 'string' }]));
options.help = { type: 'boolean', short: 'h' };
const { values: flags } = parseArgs({ options, allowPositionals: false });
if (flags.help) {
  const readme = readFileSync(join(HERE, 'README.md'), 'utf8');
  const at = readme.indexOf('## Scale-out');
  process.stdout.write(at >= 0 ? readme.slice(at, readme.indexOf('\n## ', at + 5) > 0 ? readme.indexOf('\n## ', at + 5) : undefined) : readme);
  process.exit(0);
}
const envName = (k) => `BENCH_CLUSTER_${k.toUpperCase().replace(/-/g, '_')}`;
const quick = flags.quick ?? process.env.BENCH_CLUSTER_QUICK === '1';
const opt = (k) => flags[k] ?? process.env[envName(k)] ?? (quick && QUICK[k] !== undefined ? QUICK[k] : DEFAULTS[k]);
const num = (k) => {
  const v = Number(opt(k));
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${k} must be a non-negative number, got ${opt(k)}`);
  return v;
};

const cfg = {
  nodes: String(opt('nodes')).split(',').map(Number).filter((n) => n >= 1 && n <= 3),
  reference: String(opt('reference')),
  logins: Math.max(20, num('logins')),
  loginRepeat: Math.max(1, num('login-repeat')),
  messages: num('messages'),
  window: num('window'),
  bodyBytes: num('body'),
  ackEvery: Math.max(1, num('ack-every')),
  repeat: Math.max(1, num('repeat')),
  rtt: num('rtt'),
  rounds: num('rounds'),
  burst: num('burst'),
  gap: num('gap'),
  workers: Math.max(1, num('workers')),
  concurrency: Math.max(1, num('concurrency')),
  portBase: num('port-base'),
  joinWaitMs: num('join-wait') * 1000,
  timeLimitS: num('time-limit'),
  label: String(opt('label')),
  record: !!(flags.record ?? process.env.BENCH_CLUSTER_RECORD === '1'),
  quick,
};
const NODE_IDS = ['a', 'b', 'c'];
const ports = {
  node: (i) => cfg.portBase + i, // a, b, c
  reference: cfg.portBase + 3,
  redis: cfg.portBase + 8,
  postgres: cfg.portBase + 9,
};

const workDir = join(HERE, '.work', 'cluster');
mkdirSync(workDir, { recursive: true });
const startedAt = new Date();
const logFile = join(workDir, `run-${startedAt.toISOString().replace(/[:.]/g, '-')}.log`);
const log = (msg) => {
  const line = `${new Date().toISOString().slice(11, 19)} ${msg}`;
  process.stderr.write(line + '\n');
  appendFileSync(logFile, line + '\n');
};
const load1 = () => os.loadavg()[0];
const loadStr = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');

const usersNeeded = Math.max(20, cfg.logins);
const wopts = {
  ...cfg,
  log,
  loginTimeoutMs: 30000,
  throughputTimeoutMs: Math.max(60000, cfg.messages * 5),
  resumeGapMs: 20,
};

// ---------------------------------------------------------------------------------------------
// processes: every one we start is tracked here and stopped by PID

let redis;
let postgres;
const running = new Set(); // StrandServer instances
let pool; // the load-client worker pool in use
let cleaning;
function cleanup(reason) {
  return (cleaning ??= (async () => {
    if (reason) log(`stopping: ${reason}`);
    if (pool) await pool.stop().catch(() => undefined);
    for (const s of [...running].reverse()) await s.stop().catch((e) => log(`stop ${s.name}: ${e.message}`));
    running.clear();
    if (postgres) await postgres.stop().catch((e) => log(`stop postgres: ${e.message}`));
    if (redis) await redis.stop().catch((e) => log(`stop redis: ${e.message}`));
  })());
}
process.once('exit', () => {
  // last resort if we exit without cleanup() (services.mjs does the same for Redis/PostgreSQL)
  for (const s of running) {
    for (const pid of [s.pid, s.launcherPid]) {
      if (pid && alive(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  }
});
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
// Strand nodes

let provisioned = false; // accounts are in the shared PostgreSQL once the first node has started
let plugins; // detected once

function strandNode({ name, port, storageYaml, extraYaml, users, dir }) {
  const s = new StrandServer({
    workDir: dir,
    repo: REPO,
    log,
    users,
    ackEvery: cfg.ackEvery,
    keepaliveInterval: 60,
    strandStorage: 'sqlite',
    strandStorageYaml: storageYaml,
    strandExtraYaml: extraYaml,
    startTimeoutMs: 60000,
    ports: { strand: port },
  });
  s.name = name;
  if (plugins) s.plugins = plugins;
  return s;
}

/** Starts a setup: `{ name, nodes: [StrandServer], facade }`. */
async function startSetup(setup) {
  const nodes = [];
  if (setup.kind === 'reference') {
    nodes.push(
      strandNode({
        name: 'strand-ref',
        port: ports.reference,
        users: usersNeeded, // the SQLite file in bench/.work/cluster/reference keeps them between runs
        dir: join(workDir, 'reference'),
      }),
    );
  } else {
    const keyPrefix = `bench${setup.n}x${Date.now().toString(36)}`; // fresh keys for every setup
    for (let i = 0; i < setup.n; i++) {
      const id = NODE_IDS[i];
      nodes.push(
        strandNode({
          name: `strand-${id}`,
          port: ports.node(i),
          storageYaml: `{ kind: postgres, url: "${postgres.url}", poolSize: 10 }`,
          extraYaml: `cluster: { redis: "${redis.url}", nodeId: ${id}, heartbeatTtl: 10, handoverTimeout: 5, keyPrefix: ${keyPrefix}, inboxMaxLen: 100000 }`,
          users: provisioned || i > 0 ? 0 : usersNeeded,
          dir: join(workDir, `node-${id}`),
        }),
      );
    }
  }
  for (const s of nodes) {
    running.add(s);
    const t = Date.now();
    await s.start({ name: setup.name, nodeArgs: [] });
    plugins ??= s.plugins;
    if (s.opts.users > 0 && setup.kind !== 'reference') {
      provisioned = true;
      log(`${s.name}: started with ${s.opts.users} accounts to create in PostgreSQL (${((Date.now() - t) / 1000).toFixed(1)} s)`);
    }
  }
  // A node learns that another node joined only at its next heartbeat check (every heartbeatTtl/3
  // = 3.3 s here); until then it treats sessions on the new node as unavailable and stores
  // messages for them offline (see bench/cluster-join-repro.mjs). Wait that out before measuring.
  if (nodes.length > 1 && cfg.joinWaitMs) await sleep(cfg.joinWaitMs);
  const facade = {
    name: setup.name,
    port: nodes[0].port,
    ports: nodes.map((s) => s.port),
    pids: nodes.map((s) => s.pid),
    auxCpu: setup.kind === 'reference' ? {} : { redis: () => redis.cpuSeconds(), postgres: () => postgres.cpuSeconds() },
  };
  return { nodes, facade };
}

async function stopSetup(nodes) {
  for (const s of [...nodes].reverse()) {
    await s.stop().catch((e) => log(`stop ${s.name}: ${e.message}`));
    running.delete(s);
  }
}

// ---------------------------------------------------------------------------------------------
// workloads (the lib's, plus logins-and-close and a message round trip)

/** N logins (PLAIN + bind + <enable resume/>) round-robin over the nodes, then a graceful close. */
async function logins(facade, n, tag) {
  pool = new WorkerPool(cfg.workers, log);
  try {
    const r = await loginSessions(pool, facade, { n, sm: true, concurrency: cfg.concurrency, timeoutMs: wopts.loginTimeoutMs, resource: `login${tag}` });
    await pool.all(() => ({ cmd: 'close' }));
    return {
      ok: r.ok,
      failed: r.failed,
      errors: r.errors,
      seconds: r.seconds,
      loginsPerSec: r.ok / r.seconds,
      nodeCpuMsPerLogin: r.ok ? (1000 * r.serverCpuS) / r.ok : undefined,
      redisCpuMsPerLogin: r.ok && r.auxCpuS.redis !== undefined ? (1000 * r.auxCpuS.redis) / r.ok : undefined,
      pgCpuMsPerLogin: r.ok && r.auxCpuS.postgres !== undefined ? (1000 * r.auxCpuS.postgres) / r.ok : undefined,
      clientCpuS: r.clientCpuS,
      load1: load1(),
    };
  } finally {
    await pool.stop();
    pool = undefined;
  }
}

/**
 * Message round trip: u2 on `ports.a` sends one message to u3 on `ports.b`, whose client answers
 * at once; `n` sequential round trips (after 20 unmeasured ones). Two hops per round trip.
 */
async function roundTrip(n, { a, b, tag }) {
  const x = new XmppConn({ port: a, timeoutMs: 20000 });
  const y = new XmppConn({ port: b, timeoutMs: 20000 });
  const rx = `rtt${tag}x`;
  const ry = `rtt${tag}y`;
  try {
    await x.login({ username: userName(2), password: PASSWORD, resource: rx, sm: true, resume: true });
    await y.login({ username: userName(3), password: PASSWORD, resource: ry, sm: true, resume: true });
    const toY = `${userName(3)}@${DOMAIN}/${ry}`;
    const toX = `${userName(2)}@${DOMAIN}/${rx}`;
    y.setHandler((name, raw) => {
      if (name === 'message') y.write(`<message to='${toX}' type='chat' id='${attr(raw, 'id')}'><body>pong</body></message>`);
    });
    let waiter;
    x.setHandler((name, raw) => {
      if (name === 'message' && waiter && attr(raw, 'id') === waiter.id) waiter.resolve(true);
    });
    const one = (id) =>
      new Promise((resolve) => {
        const t = setTimeout(() => resolve(false), 5000);
        waiter = {
          id,
          resolve: (v) => {
            clearTimeout(t);
            waiter = undefined;
            resolve(v);
          },
        };
        x.write(`<message to='${toY}' type='chat' id='${id}'><body>ping</body></message>`);
      });
    const lat = [];
    let lost = 0;
    for (let i = -20; i < n; i++) {
      const t0 = process.hrtime.bigint();
      const ok = await one(`p${tag}${i}`);
      const us = Number(process.hrtime.bigint() - t0) / 1e3;
      if (!ok) lost++;
      else if (i >= 0) lat.push(us);
    }
    return { n, medianUs: median(lat), p90Us: percentile(lat, 90), lost, load1: load1() };
  } finally {
    await Promise.all([x.close(3000).catch(() => x.destroy()), y.close(3000).catch(() => y.destroy())]);
  }
}

// ---------------------------------------------------------------------------------------------

const results = {}; // setup name → { logins, throughput: { same, cross }, rtt: { same, cross }, resume: { same, cross } }
const setups = [];
if (cfg.reference !== 'none' && cfg.reference !== '0' && cfg.reference !== 'false') setups.push({ kind: 'reference', name: 'single node (SQLite, no cluster)', n: 1 });
for (const n of cfg.nodes) setups.push({ kind: 'cluster', name: `cluster, ${n} node${n > 1 ? 's' : ''}`, n });

function summariseTp(xs) {
  const ok = xs.filter((x) => x.ok);
  const perMsg = (f) => median(ok.map((x) => (1e6 * f(x)) / x.messages));
  return {
    runs: xs.length,
    ok: ok.length,
    msgsPerSec: median(ok.map((x) => x.msgsPerSec)),
    all: xs.map((x) => (x.ok ? Math.round(x.msgsPerSec) : 'failed')),
    nodeCpuUsPerMsg: perMsg((x) => x.serverCpuS),
    redisCpuUsPerMsg: ok.length && ok[0].auxCpuS?.redis !== undefined ? perMsg((x) => x.auxCpuS.redis) : undefined,
    pgCpuUsPerMsg: ok.length && ok[0].auxCpuS?.postgres !== undefined ? perMsg((x) => x.auxCpuS.postgres) : undefined,
    nodeCpuPct: median(ok.map((x) => x.serverCpuPct)),
    clientCpuPct: median(ok.map((x) => x.clientCpuPct)),
    errorsAtSender: xs.reduce((s, x) => s + (x.errorsAtSender ?? 0), 0),
    notes: xs.filter((x) => !x.ok).map((x) => x.note),
    load1: xs.map((x) => x.load1),
  };
}

async function runSetup(setup) {
  const r = (results[setup.name] = { kind: setup.kind, n: setup.n, notes: [], load: [] });
  const t = Date.now();
  log(`== ${setup.name} (load ${loadStr()})`);
  const { nodes, facade } = await startSetup(setup);
  r.load.push(load1());
  try {
    const p = facade.ports;
    const cross = p.length >= 2;
    // warm-up (not measured): a few logins on every node, one small throughput run per placement
    await logins(facade, Math.min(100, cfg.logins), 'w');

    // 1. logins
    const lr = [];
    for (let i = 0; i < cfg.loginRepeat; i++) {
      const x = await logins(facade, cfg.logins, String(i));
      log(`   logins #${i}: ${JSON.stringify(x)}`);
      if (x.failed) r.notes.push(`logins #${i}: ${x.failed} failed, e.g. ${x.errors[0]}`);
      lr.push(x);
    }
    r.logins = {
      n: cfg.logins,
      loginsPerSec: median(lr.map((x) => x.loginsPerSec)),
      all: lr.map((x) => Math.round(x.loginsPerSec)),
      nodeCpuMsPerLogin: median(lr.map((x) => x.nodeCpuMsPerLogin)),
      redisCpuMsPerLogin: median(lr.map((x) => x.redisCpuMsPerLogin)),
      pgCpuMsPerLogin: median(lr.map((x) => x.pgCpuMsPerLogin)),
      failed: lr.reduce((s, x) => s + x.failed, 0),
    };
    r.load.push(load1());

    // 2. throughput with SM, same node vs different nodes, interleaved
    const placements = { same: { sender: p[0], receiver: p[0] } };
    if (cross) placements.cross = { sender: p[0], receiver: p[1] };
    const runs = Object.fromEntries(Object.keys(placements).map((k) => [k, []]));
    for (const [k, pp] of Object.entries(placements)) {
      await throughput(facade, { ...wopts, messages: Math.min(2000, cfg.messages) }, { sm: true, rep: `w${k}`, ports: pp });
    }
    for (let rep = 0; rep < cfg.repeat; rep++) {
      for (const [k, pp] of Object.entries(placements)) {
        const x = await throughput(facade, wopts, { sm: true, rep: `${k}${rep}`, ports: pp });
        x.load1 = load1();
        runs[k].push(x);
        if (!x.ok) r.notes.push(`throughput ${k} #${rep} failed: ${x.note}`);
        log(`   throughput ${k} #${rep}: ${JSON.stringify({ ...x, window: undefined })}`);
      }
    }
    r.throughput = Object.fromEntries(Object.entries(runs).map(([k, xs]) => [k, summariseTp(xs)]));
    r.load.push(load1());

    // 3. message round trip
    r.rtt = {};
    if (cfg.rtt > 0) {
      for (const [k, pp] of Object.entries(placements)) {
        r.rtt[k] = await roundTrip(cfg.rtt, { a: pp.sender, b: pp.receiver, tag: k });
        log(`   round trip ${k}: ${JSON.stringify(r.rtt[k])}`);
        if (r.rtt[k].lost) r.notes.push(`round trip ${k}: ${r.rtt[k].lost} of ${cfg.rtt + 20} not answered within 5 s`);
      }
    }

    // 4. resume: A→A (reference), then A→B→A… (hand-over every round); the sender stays on A
    r.resume = {};
    if (cfg.rounds > 0) {
      const modes = { same: [p[0]] };
      if (cross) modes.cross = [p[0], p[1]];
      for (const [k, rp] of Object.entries(modes)) {
        const x = await resume(facade, { ...wopts, resumePorts: rp, resumeSenderPort: p[0] });
        x.load1 = load1();
        r.resume[k] = x;
        log(`   resume ${k}: ${JSON.stringify(x)}`);
        for (const n of x.notes ?? []) r.notes.push(`resume ${k}: ${n}`);
      }
    }
    r.load.push(load1());
  } catch (err) {
    log(`${setup.name}: ${err.stack ?? err.message}`);
    for (const s of nodes) {
      const tail = s.tail(15);
      if (tail) log(tail);
    }
    r.error = err.message.split('\n')[0];
    r.notes.push(`error: ${r.error}`);
  } finally {
    // a node that logged errors is worth a note (an exception in the cluster code, say)
    for (const s of nodes) {
      try {
        const text = readFileSync(join(s.dir, 'stdout.log'), 'utf8');
        const errs = text.split('\n').filter((l) => /"level":(50|60)|"level":"(error|fatal)"/.test(l));
        if (errs.length) r.notes.push(`${s.name} logged ${errs.length} error line(s) this run, e.g. ${errs.at(-1).slice(0, 300)}`);
      } catch {
        /* no log */
      }
    }
    await stopSetup(nodes);
    log(`${setup.name}: done in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
}

async function main() {
  log(`bench:cluster ${JSON.stringify({ ...cfg })}`);
  log(`load average at start: ${loadStr()}`);
  const lim = openFileLimit();
  if (lim && lim.soft !== 'unlimited' && Number(lim.soft) < cfg.logins + 200) log(`WARNING: open-file limit ${lim.soft} < ${cfg.logins + 200}; raise it (ulimit -n) or lower --logins`);
  // node log files: start each run with empty ones (errors are counted per run)
  for (const d of ['node-a', 'node-b', 'node-c', 'reference']) {
    mkdirSync(join(workDir, d, 'strand'), { recursive: true });
    writeFileSync(join(workDir, d, 'strand', 'stdout.log'), '');
  }
  [redis, postgres] = await Promise.all([startRedis({ port: ports.redis, log }), startPostgres({ port: ports.postgres, log })]);
  for (const s of setups) await runSetup(s);
}

// ---------------------------------------------------------------------------------------------
// report: one table, setups as columns

function render(meta) {
  const names = Object.keys(results);
  const rows = [];
  const get = (n, f) => {
    try {
      return f(results[n]);
    } catch {
      return undefined;
    }
  };
  const row = (label, f, unit = '') => rows.push([label, ...names.map((n) => fmt(get(n, f), unit))]);
  const tp = (k) => (r) => r.throughput?.[k];
  const ms = (x) => (Number.isFinite(x) ? x : undefined);
  row(`logins/s, ${cfg.logins} clients round-robin over the nodes (median of ${cfg.loginRepeat}) ↑`, (r) => ms(r.logins?.loginsPerSec));
  row('logins/s, all runs', (r) => r.logins?.all.join(', '));
  row('node CPU ms per login (all nodes) ↓', (r) => ms(r.logins?.nodeCpuMsPerLogin));
  row('Redis / PostgreSQL CPU ms per login ↓', (r) => (r.kind === 'reference' ? 'n/a' : r.logins ? `${fmt(r.logins.redisCpuMsPerLogin)} / ${fmt(r.logins.pgCpuMsPerLogin)}` : undefined));
  for (const [k, label] of [
    ['same', 'same node'],
    ['cross', 'different nodes (hop through Redis)'],
  ]) {
    row(`throughput SM, ${label}: msgs/s (median of ${cfg.repeat}) ↑`, (r) => ms(tp(k)(r)?.msgsPerSec));
    row(`  runs msgs/s`, (r) => tp(k)(r)?.all.join(', '));
    row(`  node CPU µs per message (all nodes) ↓`, (r) => ms(tp(k)(r)?.nodeCpuUsPerMsg));
    row(`  Redis CPU µs per message ↓`, (r) => (r.kind === 'reference' ? 'n/a' : ms(tp(k)(r)?.redisCpuUsPerMsg)));
    row(`  node CPU % (sum) / load-client CPU %`, (r) => (tp(k)(r) ? `${fmt(tp(k)(r).nodeCpuPct)} / ${fmt(tp(k)(r).clientCpuPct)}` : undefined));
  }
  row('hop cost: Δ (node + Redis) CPU µs per message, different − same ↓', (r) => {
    const s = tp('same')(r);
    const c = tp('cross')(r);
    if (!s?.ok || !c?.ok) return undefined;
    return c.nodeCpuUsPerMsg + (c.redisCpuUsPerMsg ?? 0) - (s.nodeCpuUsPerMsg + (s.redisCpuUsPerMsg ?? 0));
  });
  row(`message round trip (${cfg.rtt} sequential), same node: median / p90 µs ↓`, (r) => (r.rtt?.same ? `${fmt(r.rtt.same.medianUs)} / ${fmt(r.rtt.same.p90Us)}` : undefined));
  row('message round trip, different nodes (2 hops): median / p90 µs ↓', (r) => (r.rtt?.cross ? `${fmt(r.rtt.cross.medianUs)} / ${fmt(r.rtt.cross.p90Us)}` : undefined));
  row('hop latency: (round trip different − same) / 2, µs', (r) => (r.rtt?.cross && r.rtt?.same ? (r.rtt.cross.medianUs - r.rtt.same.medianUs) / 2 : undefined));
  for (const [k, label] of [
    ['same', 'A→A'],
    ['cross', 'A→B (hand-over)'],
  ]) {
    row(`resume ${label} (${cfg.rounds} rounds): median / p90 ms, connect → <resumed/> ↓`, (r) => (r.resume?.[k] ? `${fmt(r.resume[k].medianMs)} / ${fmt(r.resume[k].p90Ms)}` : undefined));
    row(`  lost / duplicated / failed resumptions`, (r) => (r.resume?.[k] ? `${r.resume[k].lost} / ${r.resume[k].duplicated} of ${r.resume[k].sent} / ${r.resume[k].failedResumes} of ${r.resume[k].rounds}` : undefined));
  }
  row('1-min load average during the setup (min–max)', (r) => (r.load?.length ? `${Math.min(...r.load).toFixed(2)}–${Math.max(...r.load).toFixed(2)}` : undefined));

  const head = ['metric', ...names];
  const table = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i ? '---:' : '---')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
  const notes = names.flatMap((n) => [...new Set(results[n].notes)].map((x) => `- ${n}: ${x}`));
  return [
    `## ${meta.date.slice(0, 10)} — ${meta.label}`,
    '',
    `- command: \`${meta.command}\``,
    `- versions: ${Object.entries(meta.versions).map(([k, v]) => `${k}: ${v}`).join('; ')}; Strand git ${meta.git}`,
    `- machine: ${meta.machine}; load average at start: ${meta.loadStart}, at the end: ${meta.loadEnd}; run took ${meta.durationS} s`,
    `- parameters: logins ${cfg.logins} × ${cfg.loginRepeat} (PLAIN + bind + <enable resume/>, ${cfg.workers} load workers, ${cfg.concurrency} concurrent); throughput ${cfg.messages} msgs × ${cfg.repeat} with SM (window ${cfg.window}, ${cfg.bodyBytes}-byte bodies, <r/> every ${cfg.ackEvery}), sender on node a, receiver on a (same) or b (different); round trip ${cfg.rtt}; resume ${cfg.rounds} rounds × ${cfg.burst} (+${cfg.gap} sent while cut), sender on a; cluster: heartbeatTtl 10 s, handoverTimeout 5 s, PostgreSQL poolSize 10 per node`,
    '',
    table,
    '',
    'CPU from /proc (schedstat, all threads): "node" = the sum over the Strand node processes; Redis = redis-server; PostgreSQL = the postmaster and its backends. The load client runs on the same 2 cores.',
    ...(notes.length ? ['', 'Notes:', ...notes] : []),
  ].join('\n');
}

function gitRev() {
  try {
    // works in a worktree too (.git is then a file)
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim();
  } catch {
    return '?';
  }
}

let finished = false;
function finish(problem) {
  if (finished) return;
  finished = true;
  const meta = {
    date: startedAt.toISOString(),
    durationS: Math.round((Date.now() - startedAt.getTime()) / 1000),
    command:
      process.env.npm_lifecycle_event === 'bench:cluster'
        ? `npm run bench:cluster${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`
        : `node bench/cluster.mjs ${process.argv.slice(2).join(' ')}`.trim(),
    versions: { strand: strandVersion(), node: process.version, 'redis-server': redisVersion(), postgres: postgresVersion() },
    git: gitRev(),
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}`,
    loadStart: loadAtStart,
    loadEnd: loadStr(),
    label: [cfg.label || (cfg.quick ? 'scale-out, quick validation run (small parameters)' : 'scale-out'), problem].filter(Boolean).join(' — '),
  };
  const report = render(meta);
  process.stdout.write('\n' + report + '\n');
  writeFileSync(join(workDir, 'last-run.md'), report + '\n');
  writeFileSync(join(workDir, 'last-run.json'), JSON.stringify({ meta, cfg, results }, null, 2));
  if (cfg.record) {
    appendFileSync(join(HERE, 'RESULTS.md'), '\n' + report + '\n');
    log('appended to bench/RESULTS.md');
  }
  log(`log: ${logFile}; results: ${join(workDir, 'last-run.json')}`);
}

function strandVersion() {
  try {
    return JSON.parse(readFileSync(join(REPO, 'packages/server/package.json'), 'utf8')).version;
  } catch {
    return '?';
  }
}

const loadAtStart = loadStr();
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
