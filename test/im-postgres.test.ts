/**
 * A server on PostgreSQL storage (`storage: { kind: postgres, url }`) over real sockets: accounts
 * from the config and from `strand adduser` (the CLI, built first; `check-config` accepts the
 * section) live in the database, and a
 * message to an offline user survives a server restart and is delivered once, with its XEP-0203
 * delay stamp. A private PostgreSQL 15 is started for this file and stopped by PID.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ServerInfo } from '@strand/core';
import { Proc } from './helpers/process.js';
import { usePostgres } from './helpers/postgres.js';
import { startServer, type RunningServer } from './helpers/server.js';
import { startClient, xml, type TestXmpp } from './helpers/xmpp.js';

const ROOT = process.cwd();
const CLI = join(ROOT, 'packages', 'server', 'dist', 'cli.js');
const settle = (ms = 300) => new Promise((r) => setTimeout(r, ms));

describe('IM on PostgreSQL storage', () => {
  const postgres = usePostgres();
  let dir: string | undefined;
  let srv: RunningServer | undefined;
  const clients: TestXmpp[] = [];
  const procs: Proc[] = [];

  beforeAll(async () => {
    // The CLI runs from dist: never run stale output (incremental, a no-op when up to date).
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-b'], { cwd: ROOT, stdio: 'pipe' });
    dir = mkdtempSync(join(tmpdir(), 'strand-im-pg-'));
  }, 120_000);
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.stop()));
    await Promise.all(procs.splice(0).map((p) => p.kill()));
    await srv?.stop();
    srv = undefined;
  });
  afterAll(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function login(username: string, resource: string, password = 'secret'): Promise<TestXmpp> {
    const c = await startClient({ port: srv!.ports.c2s, username, resource, password });
    clients.push(c);
    return c;
  }

  it('keeps accounts (config and CLI) and offline messages across a restart', async () => {
    const url = await postgres().createDatabase();
    const storage = { kind: 'postgres' as const, url, poolSize: 4 };

    // `strand adduser` on a postgres configuration creates the schema and the account.
    const config = join(dir!, 'strand.yaml');
    writeFileSync(config, [`domain: localhost`, `storage: { kind: postgres, url: ${JSON.stringify(url)}, poolSize: 2 }`, ''].join('\n'));
    // check-config validates the section without connecting.
    const check = Proc.spawn(process.execPath, [CLI, 'check-config', config], { cwd: ROOT });
    procs.push(check);
    expect((await check.waitExit(30_000)).code).toBe(0);
    expect(check.stdout).toBe(`${config}: OK (0 plugins)\n`);
    const adduser = Proc.spawn(process.execPath, [CLI, 'adduser', 'dave', '--password', 'davepw', '--config', config], { cwd: ROOT });
    procs.push(adduser);
    const exit = await adduser.waitExit(30_000);
    expect({ code: exit.code, stdout: adduser.stdout, stderr: adduser.stderr }).toEqual({
      code: 0,
      stdout: 'created dave@localhost\n',
      stderr: '',
    });

    srv = await startServer({ storage });
    const alice = await login('alice', 'a');
    const dave = await login('dave', 'd', 'davepw');
    await dave.stop();
    const sentAt = Date.now();
    for (const body of ['one', 'two']) {
      await alice.xmpp.send(xml('message', { to: 'bob@localhost', type: 'chat' }, xml('body', {}, body)));
    }
    await settle();
    await alice.stop();
    await srv.stop();
    srv = undefined;

    // What the first server left in the database: the accounts and two messages for bob.
    const raw = new pg.Client(url);
    await raw.connect();
    try {
      const accounts = await raw.query<{ username: string }>('SELECT username FROM accounts ORDER BY username');
      expect(accounts.rows.map((r) => r.username)).toEqual(['alice', 'bob', 'carol', 'dave']);
      const offline = await raw.query<{ owner: string }>('SELECT owner FROM offline');
      expect(offline.rows).toEqual([{ owner: 'bob@localhost' }, { owner: 'bob@localhost' }]);
    } finally {
      await raw.end();
    }

    srv = await startServer({ storage });
    const bob = await login('bob', 'b');
    await bob.xmpp.send(xml('presence'));
    await bob.waitFor((el) => el.is('message') && el.getChildText('body') === 'two');
    await settle();
    const messages = bob.inbox.filter((el) => el.is('message'));
    expect(messages.map((m) => m.getChildText('body'))).toEqual(['one', 'two']);
    for (const m of messages) {
      expect(m.attrs.from).toBe('alice@localhost/a');
      const stamp = m.getChild('delay', 'urn:xmpp:delay')?.attrs.stamp as string | undefined;
      expect(stamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      // The original time of the first server, not the time of delivery.
      expect(Date.parse(stamp!)).toBeGreaterThanOrEqual(Math.floor(sentAt / 1000) * 1000);
      expect(Date.parse(stamp!)).toBeLessThan(srv.server.container.get<ServerInfo>(ServerInfo).startedAt);
    }
    // Delivered once: the box is empty now, even for the CLI's account on the new server.
    await bob.stop();
    const bob2 = await login('bob', 'b2');
    await bob2.xmpp.send(xml('presence'));
    await settle();
    expect(bob2.inbox.filter((el) => el.is('message'))).toEqual([]);
    await login('dave', 'd2', 'davepw');
  });
});
