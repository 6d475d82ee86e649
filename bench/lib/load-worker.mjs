/**
 * A load-client worker process (forked by run.mjs): logs in a share of the idle sessions and
 * holds them until told to close. Commands arrive over IPC:
 *   { cmd: 'login', port, ports?, users: [name…], password, resource, sm, keepalive, concurrency }
 *   (with `ports`, the users are spread round-robin over them: the nodes of a cluster)
 *   { cmd: 'close' }   graceful close of every session
 *   { cmd: 'stats' }
 * Times are `process.hrtime.bigint()` values (CLOCK_MONOTONIC, comparable across processes).
 */
import { XmppConn, attr } from './xmpp.mjs';

const conns = [];
const timers = [];
let unexpectedClose = 0;
let stanzasIn = 0;

function send(msg) {
  process.send?.(msg);
}

async function loginAll({ port, ports, users, password, resource, sm, keepalive, concurrency, timeoutMs }) {
  let next = 0;
  let ok = 0;
  let failed = 0;
  let kaAccepted = 0;
  const errors = [];
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const one = async (username, k) => {
    const c = new XmppConn({ port: ports?.length ? ports[k % ports.length] : port, timeoutMs });
    try {
      await c.login({ username, password, resource, sm, resume: true });
      if (keepalive > 0) {
        if (c.features.includes('urn:xmpp:keepalive:0')) {
          const r = await c.negotiateKeepalive(keepalive);
          if (attr(r, 'type') === 'result') kaAccepted++;
          else if (errors.length < 5) errors.push(`keepalive refused: ${r.slice(0, 200)}`);
        }
        // the client side of a negotiated interval: a whitespace keepalive every `keepalive` s,
        // staggered so that they do not all fire together
        const t = setTimeout(() => {
          c.write(' ');
          timers.push(setInterval(() => c.write(' '), keepalive * 1000));
        }, Math.random() * keepalive * 1000);
        timers.push(t);
      }
      c.setHandler(() => {
        stanzasIn++;
      });
      c.on('close', () => {
        if (!c.closing) unexpectedClose++;
      });
      conns.push(c);
      ok++;
    } catch (err) {
      failed++;
      if (errors.length < 5) errors.push(`${username}: ${err.message}`);
      c.destroy();
    }
  };
  const worker = async () => {
    while (next < users.length) {
      const k = next++;
      await one(users[k], k);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  const t1 = process.hrtime.bigint();
  const cpu = process.cpuUsage(cpu0);
  return { ok, failed, errors, kaAccepted, t0: String(t0), t1: String(t1), clientCpuS: (cpu.user + cpu.system) / 1e6 };
}

async function closeAll() {
  for (const t of timers) clearTimeout(t), clearInterval(t);
  timers.length = 0;
  let i = 0;
  const worker = async () => {
    while (i < conns.length) {
      const c = conns[i++];
      c.closing = true;
      await c.close(5000).catch(() => c.destroy());
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  conns.length = 0;
}

process.on('message', async (m) => {
  try {
    if (m.cmd === 'login') send({ type: 'loggedIn', ...(await loginAll(m)) });
    else if (m.cmd === 'close') {
      await closeAll();
      send({ type: 'closed' });
    } else if (m.cmd === 'stats') {
      let pings = 0;
      let chars = 0;
      for (const c of conns) {
        pings += c.pingsAnswered;
        chars += c.charsIn;
      }
      send({ type: 'stats', open: conns.filter((c) => !c.closed).length, unexpectedClose, stanzasIn, pingsAnswered: pings, charsIn: chars });
    } else if (m.cmd === 'exit') {
      for (const c of conns) c.destroy();
      process.exit(0);
    }
  } catch (err) {
    send({ type: 'error', message: err.stack ?? String(err) });
  }
});

process.on('disconnect', () => {
  for (const c of conns) c.destroy();
  process.exit(0);
});
