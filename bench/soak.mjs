#!/usr/bin/env node
/**
 * Soak: N stream-management clients (bench/lib/soak-client.mjs: raw TCP, exact XEP-0198 counting,
 * resumption with retransmission) send each other chat messages while their sockets are killed
 * at random (RST, no close tag) and resumed after a random pause, for `--minutes`. Strand runs as
 * a separate process (the CLI, memory storage, loopback only), so its RSS is measured alone
 * (/proc/PID/status). At the end every client reconnects, everything is acknowledged, and every
 * message created is counted at its recipient: lost = never received, duplicated = received twice.
 *
 *   npm run build && node bench/soak.mjs                         # 1000 clients, 10 minutes
 *   node bench/soak.mjs --clients 500 --minutes 4 --rate 150 --kills 4
 *
 * Writes bench/.work/soak-<timestamp>.json (with the RSS curve) and prints a summary; exit code 1
 * when a message was lost or duplicated. Only processes it started are stopped (by PID).
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { get } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SoakClient } from './lib/soak-client.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..');
const { values: opts } = parseArgs({
  options: {
    clients: { type: 'string', default: '1000' },
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '200' }, // messages per second, all clients together
    kills: { type: 'string', default: '5' }, // socket kills per second, all clients together
    concurrency: { type: 'string', default: '50' },
    'max-pause': { type: 'string', default: '1500' }, // ms between a kill and the resume attempt
    sample: { type: 'string', default: '5' }, // seconds between RSS samples
  },
});
const N = Number(opts.clients);
const durationMs = Number(opts.minutes) * 60_000;
const rate = Number(opts.rate);
const killRate = Number(opts.kills);
const maxPause = Number(opts['max-pause']);

const cli = join(REPO, 'packages', 'server', 'dist', 'cli.js');
if (!existsSync(cli)) throw new Error('build first: npm run build');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const freePort = () =>
  new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });

// ------------------------------------------------------------------ the server (own process)
const work = join(HERE, '.work', 'soak');
mkdirSync(work, { recursive: true });
const c2s = await freePort();
const http = await freePort();
const accounts = Array.from({ length: N }, (_, i) => `  - { username: soak${i}, password: secret }`).join('\n');
const configFile = join(work, 'soak.yaml');
writeFileSync(
  configFile,
  `domain: localhost
listen: { host: 127.0.0.1, c2s: ${c2s}, c2sTls: null, http: ${http}, component: null }
storage: { kind: memory }
log: { level: warn }
auth: { scramIterations: 4096 }
accounts:
${accounts}
plugins:
  "@strand/stream-management": { resumeTimeout: 300 }
`,
);
const logFile = join(work, 'server.log');
const log = createWriteStream(logFile);
const server = spawn(process.execPath, [cli, 'start', '--config', configFile], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
server.stdout.pipe(log);
server.stderr.pipe(log);
let serverExit;
server.on('exit', (code, signal) => (serverExit = { code, signal }));
const stopServer = async () => {
  if (serverExit || server.pid === undefined) return;
  process.kill(server.pid, 'SIGTERM');
  for (let i = 0; i < 100 && !serverExit; i++) await sleep(100);
  if (!serverExit) process.kill(server.pid, 'SIGKILL');
};
process.on('SIGINT', () => void stopServer().then(() => process.exit(130)));

const portOpen = (port) =>
  new Promise((res) => {
    const s = connect({ port, host: '127.0.0.1' }, () => {
      s.destroy();
      res(true);
    });
    s.on('error', () => res(false));
  });
const t0 = Date.now();
while (!(await portOpen(c2s))) {
  if (serverExit) throw new Error(`the server exited: ${JSON.stringify(serverExit)}; see ${logFile}`);
  if (Date.now() - t0 > 120_000) throw new Error('the server did not start');
  await sleep(200);
}
console.log(`server pid ${server.pid} on c2s ${c2s} (started in ${((Date.now() - t0) / 1000).toFixed(1)} s, ${N} accounts)`);

const rssMB = () => {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 102.4) / 10 : undefined;
  } catch {
    return undefined;
  }
};
const metrics = () =>
  new Promise((res) => {
    get({ host: '127.0.0.1', port: http, path: '/metrics' }, (r) => {
      let body = '';
      r.on('data', (d) => (body += d));
      r.on('end', () => res(body));
    }).on('error', () => res(''));
  });

// ------------------------------------------------------------------ clients
const events = {};
const note = (kind, xml) => {
  const e = (events[kind] ??= { count: 0, samples: [] });
  e.count++;
  if (e.samples.length < 5) e.samples.push(xml.slice(0, 300));
};
const clients = Array.from({ length: N }, (_, i) => new SoakClient(i, c2s, { onEvent: note }));
const started = Date.now();
for (let i = 0; i < N; i += Number(opts.concurrency)) await Promise.all(clients.slice(i, i + Number(opts.concurrency)).map((c) => c.connect()));
const ready = () => clients.filter((c) => c.state === 'ready').length;
console.log(`${ready()}/${N} clients ready in ${((Date.now() - started) / 1000).toFixed(1)} s; soaking for ${opts.minutes} min (${rate} msg/s, ${killRate} kills/s)`);

const rss = [{ t: 0, rssMB: rssMB() }];
const soakStart = Date.now();
let running = true;
const rand = (n) => Math.floor(Math.random() * n);
const reconnect = async (c) => {
  await sleep(50 + rand(maxPause));
  await c.connect();
};
let msgCredit = 0;
let killCredit = 0;
const msgTimer = setInterval(() => {
  msgCredit += rate / 100;
  for (; msgCredit >= 1; msgCredit--) {
    const from = clients[rand(N)];
    let to = clients[rand(N)];
    if (to === from) to = clients[(from.index + 1) % N];
    from.message(to.jid);
  }
}, 10);
const killTimer = setInterval(() => {
  killCredit += killRate / 10;
  for (; killCredit >= 1; killCredit--) {
    const c = clients[rand(N)];
    if (c.state !== 'ready') continue;
    c.kill();
    void reconnect(c);
  }
}, 100);
const sampleTimer = setInterval(() => {
  rss.push({ t: Math.round((Date.now() - soakStart) / 1000), rssMB: rssMB(), ready: ready(), created: clients.reduce((a, c) => a + c.created.length, 0) });
  const last = rss.at(-1);
  if (last.t % 30 < Number(opts.sample)) console.log(`t=${last.t}s rss ${last.rssMB} MB, ${last.ready}/${N} ready, ${last.created} messages created`);
}, Number(opts.sample) * 1000);

await sleep(durationMs);
running = false;
clearInterval(msgTimer);
clearInterval(killTimer);

// ------------------------------------------------------------------ drain and count
console.log('draining: every client reconnects and acknowledges everything…');
const drainStart = Date.now();
const created = clients.reduce((a, c) => a + c.created.length, 0);
for (;;) {
  await Promise.all(clients.filter((c) => c.state === 'offline').map((c) => c.connect()));
  for (const c of clients) c.requestAck();
  await sleep(500);
  const received = clients.reduce((a, c) => a + c.received.length, 0);
  const unacked = clients.reduce((a, c) => a + c.unacked.length + c.pending.length, 0);
  if ((received >= created && unacked === 0 && ready() === N) || Date.now() - drainStart > 120_000) break;
}
clearInterval(sampleTimer);
rss.push({ t: Math.round((Date.now() - soakStart) / 1000), rssMB: rssMB(), ready: ready(), created, phase: 'drained' });
const metricsText = await metrics();

const counts = new Map();
for (const c of clients) for (const id of c.received) counts.set(id, (counts.get(id) ?? 0) + 1);
let lost = 0;
let duplicated = 0;
const lostSamples = [];
const dupSamples = [];
for (const c of clients)
  for (const id of c.created) {
    const n = counts.get(id) ?? 0;
    if (n === 0) {
      lost++;
      if (lostSamples.length < 10) lostSamples.push(id);
    } else if (n > 1) {
      duplicated++;
      if (dupSamples.length < 10) dupSamples.push(`${id}×${n}`);
    }
  }
const unknown = [...counts.keys()].filter((id) => !/^\d+-\d+$/.test(id)).length;
const stats = clients.reduce((a, c) => {
  for (const [k, v] of Object.entries(c.stats)) a[k] = (a[k] ?? 0) + v;
  return a;
}, {});
for (const c of clients) await c.close();
await sleep(500);
const serverErrors = readFileSync(logFile, 'utf8').split('\n').filter((l) => /"level":(50|60)/.test(l));
await stopServer();

// RSS trend after warm-up (the first minute or first third, whichever is shorter)
const warm = Math.min(60, (durationMs / 1000) / 3);
const body = rss.filter((s) => s.t >= warm && s.rssMB !== undefined && s.phase === undefined);
const slope = (() => {
  if (body.length < 3) return undefined;
  const n = body.length;
  const mx = body.reduce((a, s) => a + s.t, 0) / n;
  const my = body.reduce((a, s) => a + s.rssMB, 0) / n;
  const num = body.reduce((a, s) => a + (s.t - mx) * (s.rssMB - my), 0);
  const den = body.reduce((a, s) => a + (s.t - mx) ** 2, 0);
  return (num / den) * 60; // MB per minute
})();
const pick = (name) => metricsText.split('\n').filter((l) => l.startsWith(name)).map((l) => l.trim());
const summary = {
  date: new Date().toISOString(),
  node: process.version,
  clients: N,
  minutes: Number(opts.minutes),
  ratePerSecond: rate,
  killsPerSecond: killRate,
  maxPauseMs: maxPause,
  messagesCreated: created,
  messagesReceived: [...counts.values()].reduce((a, b) => a + b, 0),
  lost,
  duplicated,
  unknownBodies: unknown,
  lostSamples,
  dupSamples,
  drainSeconds: Math.round((Date.now() - drainStart) / 1000),
  clientStats: stats,
  clientEvents: events,
  serverErrorLines: serverErrors.length,
  serverErrorSamples: serverErrors.slice(0, 5),
  serverExit,
  rss: {
    atStartMB: rss[0].rssMB,
    afterWarmupMB: body[0]?.rssMB,
    endMB: body.at(-1)?.rssMB,
    minMB: Math.min(...body.map((s) => s.rssMB)),
    maxMB: Math.max(...body.map((s) => s.rssMB)),
    slopeMBPerMinute: slope === undefined ? undefined : Math.round(slope * 100) / 100,
    samples: rss,
  },
  serverMetrics: [
    ...pick('strand_sm_resumed_total'),
    ...pick('strand_sm_resume_failed_total'),
    ...pick('strand_sm_retransmitted_total'),
    ...pick('strand_sm_expired_total'),
    ...pick('strand_sm_spilled_total'),
    ...pick('strand_sm_hibernating_sessions'),
    ...pick('strand_sm_queue_depth'),
    ...pick('strand_sm_ack_timeouts_total'),
    ...pick('strand_connections_total'),
  ],
};
const out = join(HERE, '.work', `soak-${summary.date.replace(/[:.]/g, '-')}.json`);
writeFileSync(out, JSON.stringify(summary, null, 2));
console.log(`
${N} clients, ${opts.minutes} min, ${rate} msg/s, ${killRate} kills/s
messages created ${created}, received ${summary.messagesReceived}: lost ${lost}, duplicated ${duplicated}
kills ${stats.kills}, resumes ${stats.resumes}, resume failures ${stats.resumeFailures}, fresh sessions ${stats.freshSessions}, stream errors ${stats.streamErrors}, stanzas retransmitted by clients ${stats.retransmittedByUs}
server RSS: start ${summary.rss.atStartMB} MB, after warm-up ${summary.rss.afterWarmupMB} MB, end ${summary.rss.endMB} MB (min ${summary.rss.minMB}, max ${summary.rss.maxMB}, trend ${summary.rss.slopeMBPerMinute} MB/min)
server error log lines ${serverErrors.length}; exit ${JSON.stringify(serverExit)}
report: ${out}`);
process.exit(lost || duplicated ? 1 : 0);
