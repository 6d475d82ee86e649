/**
 * The workloads. Each takes a started server (`server.pid`, `server.port`) and options, and
 * returns plain numbers. Only loopback; everything bounded by timeouts.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { XmppConn, attr, localName } from './xmpp.mjs';
import { cpuSeconds, rssKb, sleep } from './proc.mjs';
import { PASSWORD, userName, DOMAIN } from './servers.mjs';

const WORKER = fileURLToPath(new URL('./load-worker.mjs', import.meta.url));

export const median = (xs) => {
  const a = xs.filter((x) => Number.isFinite(x)).sort((p, q) => p - q);
  if (!a.length) return undefined;
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
};
export const percentile = (xs, p) => {
  const a = xs.filter((x) => Number.isFinite(x)).sort((q, r) => q - r);
  if (!a.length) return undefined;
  return a[Math.min(a.length - 1, Math.ceil((p / 100) * a.length) - 1)];
};

/**
 * CPU seconds of the measured server: the sum over `server.pids` when set (the nodes of a
 * cluster, bench/cluster.mjs), else `server.pid`.
 */
export function serverCpuSeconds(server) {
  if (!server.pids) return cpuSeconds(server.pid);
  return server.pids.reduce((s, pid) => s + (cpuSeconds(pid) ?? 0), 0);
}

/** CPU seconds of auxiliary processes (`server.auxCpu = { redis: () => s, … }`), reported apart. */
function auxCpu(server) {
  return Object.fromEntries(Object.entries(server.auxCpu ?? {}).map(([k, f]) => [k, f()]));
}
const auxDelta = (a0, a1) => Object.fromEntries(Object.keys(a1).map((k) => [k, a1[k] - a0[k]]));

// ---------------------------------------------------------------------------------------------
// worker pool for many idle sessions

export class WorkerPool {
  constructor(n, log) {
    this.log = log;
    this.workers = Array.from({ length: n }, () => {
      const w = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      w.pending = [];
      w.on('message', (m) => {
        if (m.type === 'error') this.log(`load worker ${w.pid}: ${m.message}`);
        const p = w.pending.shift();
        if (p) p(m);
      });
      w.on('exit', () => {
        for (const p of w.pending.splice(0)) p({ type: 'error', message: 'worker exited' });
      });
      return w;
    });
  }

  ask(w, msg) {
    return new Promise((resolve) => {
      w.pending.push(resolve);
      w.send(msg);
    });
  }

  all(msgFor) {
    return Promise.all(this.workers.map((w, i) => this.ask(w, msgFor(i))));
  }

  async stop() {
    for (const w of this.workers) {
      if (w.connected) w.send({ cmd: 'exit' });
    }
    await sleep(300);
    for (const w of this.workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
  }
}

/** Splits users [from, from+n) over `k` workers. */
function shares(from, n, k) {
  const out = [];
  for (let i = 0; i < k; i++) {
    const a = from + Math.floor((n * i) / k);
    const b = from + Math.floor((n * (i + 1)) / k);
    out.push(Array.from({ length: b - a }, (_, j) => userName(a + j)));
  }
  return out;
}

/**
 * Logs in users [from, from+n) over the pool's workers. With `server.ports` (a cluster) each
 * worker spreads its users round-robin over those ports.
 */
export async function loginSessions(pool, server, { n, from = 0, sm = true, keepalive = 0, concurrency, timeoutMs, resource = 'idle' }) {
  const parts = shares(from, n, pool.workers.length);
  const per = Math.max(1, Math.round(concurrency / pool.workers.length));
  const aux0 = auxCpu(server);
  const cpu0 = serverCpuSeconds(server);
  const replies = await pool.all((i) => ({
    cmd: 'login',
    port: server.port,
    ports: server.ports,
    users: parts[i],
    password: PASSWORD,
    resource,
    sm,
    keepalive,
    concurrency: per,
    timeoutMs,
  }));
  const cpu1 = serverCpuSeconds(server);
  const aux1 = auxCpu(server);
  const bad = replies.find((r) => r.type !== 'loggedIn');
  if (bad) throw new Error(`load worker failed: ${bad.message}`);
  const t0 = replies.reduce((m, r) => (BigInt(r.t0) < m ? BigInt(r.t0) : m), BigInt(replies[0].t0));
  const t1 = replies.reduce((m, r) => (BigInt(r.t1) > m ? BigInt(r.t1) : m), BigInt(replies[0].t1));
  const ok = replies.reduce((s, r) => s + r.ok, 0);
  return {
    ok,
    failed: replies.reduce((s, r) => s + r.failed, 0),
    errors: replies.flatMap((r) => r.errors).slice(0, 5),
    kaAccepted: replies.reduce((s, r) => s + r.kaAccepted, 0),
    seconds: Number(t1 - t0) / 1e9,
    serverCpuS: cpu1 - cpu0,
    auxCpuS: auxDelta(aux0, aux1),
    clientCpuS: replies.reduce((s, r) => s + r.clientCpuS, 0),
  };
}

async function warmUp(server, n = 20) {
  const cs = [];
  for (let i = 0; i < n; i++) {
    const c = new XmppConn({ port: server.port, timeoutMs: 20000 });
    await c.login({ username: userName(i), password: PASSWORD, resource: `warm${i}`, sm: true });
    cs.push(c);
  }
  await Promise.all(cs.map((c) => c.close(3000)));
}

/** `condition: text` of a `<stream:error/>`. */
function streamErrorText(raw) {
  const cond = /<([a-z-]+)\s+xmlns=['"]urn:ietf:params:xml:ns:xmpp-streams['"]/.exec(raw)?.[1] ?? 'stream error';
  const text = /<text[^>]*>([^<]*)<\/text>/.exec(raw)?.[1];
  return `stream error <${cond}/>${text ? ` "${text}"` : ''}`;
}

// ---------------------------------------------------------------------------------------------
// 1. idle sessions: RSS per session and logins per second

/**
 * RSS after `ms` of quiet (sampled each second, the last value counts). With a server that can
 * be asked for a full GC (Strand: `server.requestGc()`, see gc-on-signal.mjs) it is asked at the
 * start and again 2 s before the reading: V8 frees memory lazily (its memory reducer and page
 * unmapper run seconds later, moving tens of MB), which would otherwise be charged against or
 * credited to the sessions at random.
 */
async function settledRss(server, ms) {
  const samples = [];
  const gc = typeof server.requestGc === 'function' && server.requestGc();
  const end = Date.now() + ms;
  let asked = false;
  do {
    await sleep(Math.min(1000, Math.max(0, end - Date.now())));
    if (gc && !asked && end - Date.now() <= 2500) {
      server.requestGc();
      asked = true;
    }
    samples.push(rssKb(server.pid));
  } while (Date.now() < end);
  return { kb: samples.at(-1), min: Math.min(...samples), max: Math.max(...samples), gc: !!gc };
}

export async function idle(server, o, n) {
  await warmUp(server, Math.min(20, n));
  const before = await settledRss(server, o.rssSettleMs);
  const rssBefore = before.kb;
  const pool = new WorkerPool(o.workers, o.log);
  try {
    const r = await loginSessions(pool, server, { n, sm: true, concurrency: o.concurrency, timeoutMs: o.loginTimeoutMs });
    const after = await settledRss(server, o.rssSettleMs);
    const rssAfter = after.kb;
    const stats = await pool.all(() => ({ cmd: 'stats' }));
    const open = stats.reduce((s, x) => s + (x.open ?? 0), 0);
    await pool.all(() => ({ cmd: 'close' }));
    return {
      n,
      ok: r.ok,
      failed: r.failed,
      errors: r.errors,
      stillOpen: open,
      rssBeforeKb: rssBefore,
      rssAfterKb: rssAfter,
      rssPerSessionKb: r.ok ? (rssAfter - rssBefore) / r.ok : undefined,
      rssSamplesKb: { before: [before.min, before.max], after: [after.min, after.max] },
      rssAfterForcedGc: before.gc,
      loginSeconds: r.seconds,
      loginsPerSec: r.ok / r.seconds,
      serverCpuMsPerLogin: r.ok ? (r.serverCpuS * 1000) / r.ok : undefined,
      clientCpuS: r.clientCpuS,
    };
  } finally {
    await pool.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// 2. throughput: one sender → one receiver

/** `ports`: optional `{ sender, receiver }` c2s ports (bench/cluster.mjs: same or different nodes). */
export async function throughput(server, o, { sm, rep, ports }) {
  const resource = `tp${rep}${sm ? 's' : 'n'}`;
  const sender = new XmppConn({ port: ports?.sender ?? server.port, timeoutMs: 20000 });
  const receiver = new XmppConn({ port: ports?.receiver ?? server.port, timeoutMs: 20000 });
  try {
    await receiver.login({ username: userName(1), password: PASSWORD, resource, sm, resume: true });
    await sender.login({ username: userName(0), password: PASSWORD, resource, sm, resume: true });
    const to = `${userName(1)}@${DOMAIN}/${resource}`;
    const body = 'x'.repeat(o.bodyBytes);
    const total = o.messages;
    const window = o.window;
    const ackEvery = o.ackEvery;
    let sent = 0;
    let received = 0;
    let errorsAtSender = 0;
    let scheduled = false;
    let t1 = 0n;
    let finish;
    const done = new Promise((resolve) => (finish = resolve));
    const topUp = () => {
      scheduled = false;
      const room = Math.min(window - (sent - received), total - sent);
      if (room <= 0) return;
      let chunk = '';
      for (let i = 0; i < room; i++) {
        chunk += `<message to='${to}' type='chat' id='m${sent}'><body>${body}</body></message>`;
        sent++;
        if (sm && sent % ackEvery === 0) chunk += "<r xmlns='urn:xmpp:sm:3'/>";
      }
      sender.stanzasOut += room;
      sender.write(chunk);
    };
    let streamProblem;
    const problem = (who, text) => {
      streamProblem ??= `${who}: ${text}`;
      finish();
    };
    receiver.on('close', () => problem('receiver', 'connection closed by the server'));
    sender.on('close', () => problem('sender', 'connection closed by the server'));
    receiver.setHandler((name, raw) => {
      if (name !== 'message') {
        if (localName(name) === 'error') problem('receiver', streamErrorText(raw));
        return;
      }
      received++;
      if (received === total) {
        t1 = process.hrtime.bigint();
        finish();
        return;
      }
      if (!scheduled && sent < total) {
        scheduled = true;
        setImmediate(topUp);
      }
    });
    sender.setHandler((name, raw) => {
      if (localName(name) === 'error') problem('sender', streamErrorText(raw));
      else if (attr(raw, 'type') === 'error') errorsAtSender++;
    });
    const aux0 = auxCpu(server);
    const cpu0 = serverCpuSeconds(server);
    const ccpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    topUp();
    let timer;
    const timeout = new Promise((r) => (timer = setTimeout(() => r('timeout'), o.throughputTimeoutMs)));
    const outcome = await Promise.race([done.then(() => 'done'), timeout]);
    clearTimeout(timer);
    const cpu1 = serverCpuSeconds(server);
    const aux1 = auxCpu(server);
    const ccpu = process.cpuUsage(ccpu0);
    if (outcome !== 'done' || streamProblem || received < total) {
      const note = streamProblem ?? `timed out after ${o.throughputTimeoutMs} ms`;
      return { sm, rep, ok: false, received, sent, errorsAtSender, note: `${note} after ${received} of ${total} messages` };
    }
    const seconds = Number(t1 - t0) / 1e9;
    const cpuS = cpu1 - cpu0;
    return {
      sm,
      rep,
      ok: true,
      messages: total,
      seconds,
      msgsPerSec: total / seconds,
      serverCpuS: cpuS,
      msgsPerCpuSec: cpuS > 0 ? total / cpuS : undefined,
      serverCpuPct: (100 * cpuS) / seconds,
      auxCpuS: auxDelta(aux0, aux1),
      clientCpuPct: (100 * (ccpu.user + ccpu.system)) / 1e6 / seconds,
      errorsAtSender,
      receiverAcksSent: sm ? receiver.hIn : undefined,
      window: [String(t0), String(t1)], // CLOCK_MONOTONIC ns, for cpuprofile-top --windows
    };
  } finally {
    await Promise.all([sender.close(3000).catch(() => sender.destroy()), receiver.close(3000).catch(() => receiver.destroy())]);
  }
}

// ---------------------------------------------------------------------------------------------
// 3. resume: burst, cut, reconnect, PLAIN, <resume/>

/**
 * `o.resumePorts` (bench/cluster.mjs): the receiver logs in on the first port and reconnects in
 * round r to `resumePorts[(r + 1) % length]` (two ports: A→B, B→A, …); `o.resumeSenderPort`: the
 * sender's port. Both default to `server.port`.
 */
export async function resume(server, o) {
  const resource = 'resume';
  const recvUser = userName(1);
  const ports = o.resumePorts?.length ? o.resumePorts : [server.port];
  const sender = new XmppConn({ port: o.resumeSenderPort ?? server.port, timeoutMs: 20000 });
  let receiver = new XmppConn({ port: ports[0], timeoutMs: 20000 });
  const seen = new Map(); // id -> count
  const expected = [];
  const latencies = [];
  let failedResumes = 0;
  let relogins = 0;
  const notes = [];
  let roundWaiter;
  const onStanza = (name, raw) => {
    if (name !== 'message') return;
    const id = attr(raw, 'id');
    if (!id || !id.startsWith('R')) return;
    seen.set(id, (seen.get(id) ?? 0) + 1);
    if (roundWaiter && roundWaiter.check()) {
      const w = roundWaiter;
      roundWaiter = undefined;
      w.resolve();
    }
  };
  const waitFor = (ids, timeoutMs) =>
    new Promise((resolve) => {
      const check = () => ids.every((id) => seen.has(id));
      if (check()) return resolve(true);
      const t = setTimeout(() => {
        roundWaiter = undefined;
        resolve(false);
      }, timeoutMs);
      roundWaiter = {
        check,
        resolve: () => {
          clearTimeout(t);
          resolve(true);
        },
      };
    });
  try {
    await sender.login({ username: userName(0), password: PASSWORD, resource, sm: false });
    sender.setHandler(() => undefined);
    await receiver.login({ username: recvUser, password: PASSWORD, resource, sm: true, resume: true });
    receiver.setHandler(onStanza);
    if (!receiver.smResume) notes.push('server did not offer resumption in <enabled/>');
    const to = `${recvUser}@${DOMAIN}/${resource}`;
    for (let round = 0; round < o.rounds; round++) {
      const burst = Array.from({ length: o.burst }, (_, i) => `R${round}-${i}`);
      const gap = Array.from({ length: o.gap }, (_, i) => `R${round}-g${i}`);
      expected.push(...burst, ...gap);
      sender.write(burst.map((id) => `<message to='${to}' type='chat' id='${id}'><body>burst</body></message>`).join(''));
      const got = await waitFor(burst, 10000);
      if (!got) notes.push(`round ${round}: burst not received within 10 s`);
      const previd = receiver.smId;
      const h = receiver.hIn;
      receiver.cut();
      // messages sent while the receiver is away (the server may not have noticed the cut yet)
      if (gap.length) sender.write(gap.map((id) => `<message to='${to}' type='chat' id='${id}'><body>gap</body></message>`).join(''));
      await sleep(o.resumeGapMs);
      const port = ports[(round + 1) % ports.length];
      const next = new XmppConn({ port, timeoutMs: 20000 });
      const t0 = process.hrtime.bigint();
      let r;
      try {
        r = await next.resume({ username: recvUser, password: PASSWORD, previd, h });
      } catch (err) {
        r = { failed: String(err.message) };
      }
      const t1 = process.hrtime.bigint();
      receiver = next;
      if (r.resumed) {
        latencies.push(Number(t1 - t0) / 1e6);
        receiver.setHandler(onStanza);
      } else {
        failedResumes++;
        if (failedResumes <= 3) notes.push(`round ${round}: resume failed: ${String(r.failed).slice(0, 200)}`);
        // carry on with a fresh session so later rounds still measure something
        next.destroy();
        receiver = new XmppConn({ port, timeoutMs: 20000 });
        await receiver.login({ username: recvUser, password: PASSWORD, resource, sm: true, resume: true });
        receiver.setHandler(onStanza);
        relogins++;
      }
      await waitFor([...burst, ...gap], o.gap ? 5000 : 0);
    }
    await sleep(500); // late duplicates
  } finally {
    await Promise.all([sender.close(3000).catch(() => sender.destroy()), receiver.close(3000).catch(() => receiver.destroy())]);
  }
  const lost = expected.filter((id) => !seen.has(id)).length;
  const duplicated = [...seen.values()].reduce((s, c) => s + (c > 1 ? c - 1 : 0), 0);
  return {
    rounds: o.rounds,
    resumed: latencies.length,
    failedResumes,
    relogins,
    medianMs: median(latencies),
    p90Ms: percentile(latencies, 90),
    minMs: latencies.length ? Math.min(...latencies) : undefined,
    maxMs: latencies.length ? Math.max(...latencies) : undefined,
    sent: expected.length,
    lost,
    duplicated,
    notes,
  };
}

// ---------------------------------------------------------------------------------------------
// 4. keepalive: many idle sessions with a negotiated interval; server CPU while idle

export async function keepalive(server, o) {
  const pool = new WorkerPool(o.workers, o.log);
  try {
    const r = await loginSessions(pool, server, {
      n: o.keepaliveSessions,
      sm: true,
      keepalive: o.keepaliveInterval,
      concurrency: o.concurrency,
      timeoutMs: o.loginTimeoutMs,
      resource: 'ka',
    });
    // The settle after the login burst is measured too: it holds the one-off work the burst left
    // (Strand: V8's memory reducer compacts the heap once, ~45–60 s after the burst).
    const settleCpu0 = cpuSeconds(server.pid);
    const settleT0 = process.hrtime.bigint();
    await sleep(o.keepaliveSettleMs ?? o.settleMs);
    const settleSeconds = Number(process.hrtime.bigint() - settleT0) / 1e9;
    const settleCpuPct = (100 * (cpuSeconds(server.pid) - settleCpu0)) / settleSeconds;
    const s0 = await pool.all(() => ({ cmd: 'stats' }));
    const cpu0 = cpuSeconds(server.pid);
    const t0 = process.hrtime.bigint();
    await sleep(o.keepaliveWindowS * 1000);
    const cpu1 = cpuSeconds(server.pid);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const s1 = await pool.all(() => ({ cmd: 'stats' }));
    const sum = (xs, k) => xs.reduce((s, x) => s + (x[k] ?? 0), 0);
    const rss = rssKb(server.pid);
    await pool.all(() => ({ cmd: 'close' }));
    return {
      sessions: r.ok,
      failed: r.failed,
      errors: r.errors,
      negotiated: r.kaAccepted,
      windowS: seconds,
      serverCpuPct: (100 * (cpu1 - cpu0)) / seconds,
      settleS: settleSeconds,
      settleCpuPct,
      openAtEnd: sum(s1, 'open'),
      unexpectedClose: sum(s1, 'unexpectedClose'),
      pingsAnswered: sum(s1, 'pingsAnswered') - sum(s0, 'pingsAnswered'),
      charsFromServer: sum(s1, 'charsIn') - sum(s0, 'charsIn'),
      rssKb: rss,
      loginsPerSec: r.ok / r.seconds,
    };
  } finally {
    await pool.stop();
  }
}

export { localName };
