#!/usr/bin/env node
/**
 * Reproduction (not a test, no timing assertions): a node that joins the cluster is not seen as
 * alive by the nodes already running until their next heartbeat check (every heartbeatTtl/3).
 * Meanwhile those nodes ignore the new node's sessions (`remoteByFull`/`remoteByBare` filter on
 * `alive`), although the directory feed already told them about the sessions: a chat message to
 * the full JID of an online, SM-enabled session on the new node is stored OFFLINE instead of
 * delivered (an iq would bounce with service-unavailable).
 *
 * Steps: start node a, start node b; at once log in the receiver u1 on b and the sender u0 on a;
 * u0 sends one message to u1's full JID; report whether it arrived within 2 s and how many rows
 * the offline table got. Then again after waiting heartbeatTtl/3 + 1 s (expected: delivered).
 *   node bench/cluster-join-repro.mjs [--port-base 16422] [--ttl 10]
 * Processes are stopped by PID at the end; bounded by a 120 s time limit.
 */
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StrandServer, PASSWORD, DOMAIN } from './lib/servers.mjs';
import { XmppConn, attr } from './lib/xmpp.mjs';
import { sleep } from './lib/proc.mjs';
import { startRedis, startPostgres, PG_USER } from './lib/services.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..');
const { values } = parseArgs({ options: { 'port-base': { type: 'string', default: '16422' }, ttl: { type: 'string', default: '10' } } });
const base = Number(values['port-base']);
const ttl = Number(values.ttl);
const log = (m) => process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${m}\n`);
const workDir = join(HERE, '.work', 'cluster-join-repro');
mkdirSync(workDir, { recursive: true });

let redis;
let pg;
const nodes = [];
const cleanup = async () => {
  for (const n of nodes.reverse()) await n.stop().catch(() => undefined);
  await pg?.stop();
  await redis?.stop();
};
setTimeout(() => void cleanup().then(() => process.exit(124)), 120000).unref();
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));
const psql = (sql) => execFileSync('psql', ['-h', '127.0.0.1', '-p', String(pg.port), '-U', PG_USER, '-d', 'strand_bench', '-At', '-c', sql], { encoding: 'utf8' }).trim();

async function attempt(tag) {
  const rcv = new XmppConn({ port: base + 1, timeoutMs: 10000 });
  const snd = new XmppConn({ port: base, timeoutMs: 10000 });
  try {
    await rcv.login({ username: 'u1', password: PASSWORD, resource: `r${tag}`, sm: true, resume: true });
    let got = false;
    rcv.setHandler((name, raw) => {
      if (name === 'message' && attr(raw, 'id') === `x${tag}`) got = true;
    });
    await snd.login({ username: 'u0', password: PASSWORD, resource: `s${tag}`, sm: false });
    snd.setHandler(() => undefined);
    const before = Number(psql('SELECT count(*) FROM offline'));
    snd.write(`<message to='u1@${DOMAIN}/r${tag}' type='chat' id='x${tag}'><body>hello</body></message>`);
    for (let i = 0; i < 20 && !got; i++) await sleep(100);
    const offline = Number(psql('SELECT count(*) FROM offline')) - before;
    log(`${tag}: message to the online receiver on b ${got ? 'DELIVERED' : 'NOT delivered'} within 2 s; offline rows added: ${offline}`);
    return { got, offline };
  } finally {
    await Promise.all([rcv.close(2000).catch(() => rcv.destroy()), snd.close(2000).catch(() => snd.destroy())]);
  }
}

try {
  [redis, pg] = await Promise.all([startRedis({ port: base + 8, log }), startPostgres({ port: base + 9, log })]);
  for (const [i, id] of ['a', 'b'].entries()) {
    const s = new StrandServer({
      workDir: join(workDir, `node-${id}`),
      repo: REPO,
      log,
      users: i === 0 ? 2 : 0,
      ackEvery: 100,
      keepaliveInterval: 60,
      strandStorageYaml: `{ kind: postgres, url: "${pg.url}", poolSize: 4 }`,
      strandExtraYaml: `cluster: { redis: "${redis.url}", nodeId: ${id}, heartbeatTtl: ${ttl}, keyPrefix: repro }`,
      startTimeoutMs: 60000,
      ports: { strand: base + i },
    });
    s.name = `strand-${id}`;
    nodes.push(s);
    await s.start({ name: 'repro', nodeArgs: [] });
  }
  const r1 = await attempt('right-after-b-joined');
  await sleep((ttl / 3 + 1) * 1000);
  const r2 = await attempt(`after-${(ttl / 3 + 1).toFixed(1)}s`);
  console.log(
    r1.got
      ? 'not reproduced: delivered right after node b joined (nodes announce themselves on the directory feed; it used to wait for node a\'s next heartbeat check)'
      : `REPRODUCED: right after node b joined, a message to an online session on b went to offline storage (${r1.offline} row); after the wait: ${r2.got ? 'delivered' : 'still not delivered'}`,
  );
} finally {
  await cleanup();
}
