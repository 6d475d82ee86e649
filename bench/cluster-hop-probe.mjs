#!/usr/bin/env node
/**
 * Diagnostic for the cross-node hop (not part of any test): two cluster nodes on a private Redis
 * and PostgreSQL, one SM throughput run with the sender on node a and the receiver on node a
 * (same) and then on node b (cross), printing per node CPU, Redis `INFO commandstats` deltas and
 * PostgreSQL statement counters (`pg_stat_database`, `pg_stat_user_tables`) for each run.
 * Then `--logins` logins (and closes), all on node a, with the CPU of each node: node b's share
 * is the cost of keeping its directory replica up to date.
 *   node bench/cluster-hop-probe.mjs [--messages 2000] [--logins 500] [--port-base 16322] [--node-args=--cpu-prof,--cpu-prof-dir=DIR]
 * Processes are stopped by PID at the end (also on errors); bounded by a 180 s time limit.
 */
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StrandServer } from './lib/servers.mjs';
import { throughput, WorkerPool, loginSessions } from './lib/workloads.mjs';
import { cpuSeconds, sleep } from './lib/proc.mjs';
import { startRedis, startPostgres, PG_USER } from './lib/services.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..');
const { values } = parseArgs({ options: { messages: { type: 'string', default: '2000' }, 'port-base': { type: 'string', default: '16322' }, 'node-args': { type: 'string', default: '' }, logins: { type: 'string', default: '500' } } });
const messages = Number(values.messages);
const logins = Number(values.logins);
const base = Number(values['port-base']);
const log = (m) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${m}\n`);
const workDir = join(HERE, '.work', 'cluster-probe');
mkdirSync(workDir, { recursive: true });

let redis;
let pg;
const nodes = [];
const cleanup = async () => {
  for (const n of nodes.reverse()) await n.stop().catch(() => undefined);
  await pg?.stop();
  await redis?.stop();
};
const limit = setTimeout(() => void cleanup().then(() => process.exit(124)), 180000);
limit.unref();
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));

const redisStats = () => {
  const out = execFileSync('redis-cli', ['-p', String(redis.port), 'INFO', 'commandstats'], { encoding: 'utf8' });
  const m = {};
  for (const line of out.split('\n')) {
    const x = /^cmdstat_(\w+):calls=(\d+),usec=(\d+)/.exec(line);
    if (x) m[x[1]] = { calls: Number(x[2]), usec: Number(x[3]) };
  }
  return m;
};
const psql = (sql) =>
  execFileSync('psql', ['-h', '127.0.0.1', '-p', String(pg.port), '-U', PG_USER, '-d', 'strand_bench', '-At', '-F', ' ', '-c', sql], { encoding: 'utf8' }).trim();
const pgStats = () => {
  const db = psql(`SELECT xact_commit, tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted FROM pg_stat_database WHERE datname = 'strand_bench'`).split(' ').map(Number);
  const tables = Object.fromEntries(
    psql(`SELECT relname, coalesce(seq_scan,0) + coalesce(idx_scan,0), n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables`)
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' '))
      .map(([t, scans, writes]) => [t, { scans: Number(scans), writes: Number(writes) }]),
  );
  return { xact: db[0], returned: db[1], fetched: db[2], inserted: db[3], updated: db[4], deleted: db[5], tables };
};
const diff = (a, b) => {
  const out = {};
  for (const k of Object.keys(b)) {
    if (typeof b[k] === 'number') {
      if (b[k] - (a[k] ?? 0)) out[k] = b[k] - (a[k] ?? 0);
    } else {
      const d = diff(a[k] ?? {}, b[k]);
      if (Object.keys(d).length) out[k] = d;
    }
  }
  return out;
};

try {
  [redis, pg] = await Promise.all([startRedis({ port: base + 8, log }), startPostgres({ port: base + 9, log })]);
  for (const [i, id] of ['a', 'b'].entries()) {
    const s = new StrandServer({
      workDir: join(workDir, `node-${id}`),
      repo: REPO,
      log,
      users: i === 0 ? logins : 0,
      ackEvery: 100,
      keepaliveInterval: 60,
      strandStorageYaml: `{ kind: postgres, url: "${pg.url}", poolSize: 10 }`,
      strandExtraYaml: `cluster: { redis: "${redis.url}", nodeId: ${id}, keyPrefix: probe }`,
      startTimeoutMs: 60000,
      ports: { strand: base + i },
    });
    s.name = `strand-${id}`;
    nodes.push(s);
    await s.start({ name: 'probe', nodeArgs: values['node-args'].split(',').filter(Boolean) });
  }
  const facade = { port: base, pids: nodes.map((n) => n.pid) };
  await sleep(4500); // the other node must have seen this one join (see cluster-join-repro.mjs)
  for (const [k, receiver] of [['same', base], ['cross', base + 1], ['same', base], ['cross', base + 1]]) {
    const r0 = redisStats();
    const p0 = pgStats();
    const c0 = nodes.map((n) => cpuSeconds(n.pid));
    const x = await throughput(facade, { messages, window: 1000, bodyBytes: 64, ackEvery: 100, throughputTimeoutMs: 60000 }, { sm: true, rep: k + Date.now(), ports: { sender: base, receiver } });
    const c1 = nodes.map((n) => cpuSeconds(n.pid));
    const p1 = pgStats();
    const r1 = redisStats();
    const perMsg = (s) => `${((1e6 * s) / messages).toFixed(1)} µs/msg`;
    console.log(`\n== ${k}: ok=${x.ok} ${Math.round(x.msgsPerSec ?? 0)} msgs/s ${x.note ?? ''}`);
    console.log(`node CPU: a ${perMsg(c1[0] - c0[0])}, b ${perMsg(c1[1] - c0[1])}`);
    console.log(`redis commands (incl. login/close of the two clients): ${JSON.stringify(diff(r0, r1))}`);
    console.log(`postgres (incl. login/close): ${JSON.stringify(diff(p0, p1))}`);
    // messages that went to offline storage instead of the online receiver: which ones
    const off = psql(`SELECT substring(stanza from 'id=.(m[0-9]+)') FROM offline ORDER BY id`).split('\n').filter(Boolean);
    if (off.length) {
      // as ranges in storage order: m0-m99 m500-m567 …
      const ranges = [];
      for (const id of off.map((x) => Number(x.slice(1)))) {
        const last = ranges.at(-1);
        if (last && id === last[1] + 1) last[1] = id;
        else ranges.push([id, id]);
      }
      console.log(`OFFLINE: ${off.length} messages in offline storage after the run (in storage order): ${ranges.map(([a, b]) => (a === b ? `m${a}` : `m${a}-m${b}`)).join(' ')}`);
      psql('DELETE FROM offline');
    }
    console.log(`received ${x.received ?? x.messages} of ${messages}; errors at sender ${x.errorsAtSender}`);
  }
  for (let rep = 0; rep < 2; rep++) {
    const pool = new WorkerPool(2, log);
    try {
      const r0 = redisStats();
      const c0 = nodes.map((n) => cpuSeconds(n.pid));
      const r = await loginSessions(pool, { port: base, pid: nodes[0].pid }, { n: logins, sm: true, concurrency: 32, timeoutMs: 30000, resource: `l${rep}` });
      const c1 = nodes.map((n) => cpuSeconds(n.pid));
      await pool.all(() => ({ cmd: 'close' }));
      await sleep(500);
      const c2 = nodes.map((n) => cpuSeconds(n.pid));
      const r1 = redisStats();
      const ms = (x) => `${((1000 * x) / logins).toFixed(3)} ms`;
      console.log(`\n== ${logins} logins on node a: ${Math.round(r.ok / r.seconds)}/s; CPU per login: a ${ms(c1[0] - c0[0])}, b ${ms(c1[1] - c0[1])}; per close: a ${ms(c2[0] - c1[0])}, b ${ms(c2[1] - c1[1])}`);
      console.log(`redis commands (logins + closes): ${JSON.stringify(diff(r0, r1))}`);
    } finally {
      await pool.stop();
    }
  }
} finally {
  await cleanup();
}
