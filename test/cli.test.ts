/**
 * Foundation acceptance for the `strand` command (packages/server/dist/cli.js, built first):
 * `--help`, `check-config` (valid and invalid files), `adduser` into SQLite, and `start` with a
 * graceful SIGTERM: clients get `<system-shutdown/>` and the process exits 0 within the close
 * handshake timeout, even when a peer never answers with its close tag.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { Element } from '@xmpp/xml';
import { freePort } from './helpers/ports.js';
import { Proc } from './helpers/process.js';
import { startClient, xml, type TestXmpp } from './helpers/xmpp.js';
import { CLOSE_TAG, streamErrorAtEnd, WireClient } from './helpers/wire-client.js';

const ROOT = process.cwd();
const CLI = join(ROOT, 'packages', 'server', 'dist', 'cli.js');
const CERTS = join(ROOT, 'test', '.certs');
const NS_STREAM = 'http://etherx.jabber.org/streams';
const NS_STREAMS = 'urn:ietf:params:xml:ns:xmpp-streams';
/** timeouts.closeHandshake of the test configuration, seconds. */
const CLOSE_HANDSHAKE_S = 2;

interface Ports {
  c2s: number;
  c2sTls: number;
  http: number;
}

/** Runs the CLI to completion. */
function cli(args: string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = Proc.spawn(process.execPath, [CLI, ...args], { cwd: ROOT });
  procs.push(p);
  return p.waitExit(timeoutMs).then((e) => ({ code: e.code, stdout: p.stdout, stderr: p.stderr }));
}

const procs: Proc[] = [];

describe('strand CLI', () => {
  let dir: string;
  let config: string;
  let ports: Ports;
  const clients: TestXmpp[] = [];
  const wires: WireClient[] = [];

  beforeAll(() => {
    // Never run stale output: build (incremental, a no-op when up to date).
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-b'], { cwd: ROOT, stdio: 'pipe' });
    dir = mkdtempSync(join(tmpdir(), 'strand-cli-'));
  }, 120_000);
  afterEach(async () => {
    for (const w of wires.splice(0)) w.destroy();
    await Promise.all(clients.splice(0).map((c) => c.stop()));
    // Every child is killed by PID, whatever state a failed test left it in.
    await Promise.all(procs.splice(0).map((p) => p.kill()));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A configuration on free loopback ports with SQLite storage in the temp dir. */
  async function writeConfig(): Promise<void> {
    ports = { c2s: await freePort(), c2sTls: await freePort(), http: await freePort() };
    config = join(dir, 'strand.yaml');
    writeFileSync(
      config,
      [
        'domain: localhost',
        `listen: { host: 127.0.0.1, c2s: ${ports.c2s}, c2sTls: ${ports.c2sTls}, http: ${ports.http}, component: null }`,
        `tls: { cert: ${JSON.stringify(join(CERTS, 'localhost.crt'))}, key: ${JSON.stringify(join(CERTS, 'localhost.key'))}, selfSigned: false }`,
        `timeouts: { preAuth: 60, closeHandshake: ${CLOSE_HANDSHAKE_S}, read: 300 }`,
        `storage: { kind: sqlite, path: ${JSON.stringify(join(dir, 'strand.db'))} }`,
        'accounts:',
        '  - { username: alice, password: secret }',
        'log: { level: info }',
        '',
      ].join('\n'),
    );
  }

  /** `strand start` on the test configuration, resolved once it logged that it listens. */
  async function startCli(): Promise<Proc> {
    const p = Proc.spawn(process.execPath, [CLI, 'start', '--config', config], { cwd: ROOT });
    procs.push(p);
    const listening = await p.waitFor(
      () => p.json<{ msg?: string; ports?: Partial<Ports> }>().find((l) => l.msg === 'Strand is listening'),
      20_000,
      'the "Strand is listening" log line',
    );
    expect(listening.ports).toMatchObject(ports);
    return p;
  }

  it('--help prints the usage', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^Usage: strand <command> \[options\]\n/);
    for (const cmd of ['start [--config FILE]', 'adduser JID [--password P] [--config FILE]', 'check-config FILE', '--help']) {
      expect(r.stdout).toContain(`  ${cmd}`);
    }
  });

  it('check-config accepts config/default.yaml', async () => {
    const r = await cli(['check-config', 'config/default.yaml']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    // Only the verdict on stdout (no log lines), counting the plugin sections it validated.
    expect(r.stdout).toMatch(/^config\/default\.yaml: OK \(\d+ plugins\)\n$/);
  });

  it('check-config rejects a bad file, naming the file and the exact path of each error', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      ['limits:', '  maxDepth: 0', 'listen:', '  c2ss: 5222', 'accounts:', '  - { username: ok, password: x }', '  - { username: "a b", password: x }', ''].join('\n'),
    );
    const r = await cli(['check-config', bad]);
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`Invalid configuration (${bad}):`);
    const issues = r.stderr.split('\n').filter((l) => l.startsWith('  ')).map((l) => l.trim().split(':')[0]).sort();
    expect(issues).toEqual(['accounts.1.username', 'limits.maxDepth', 'listen.c2ss']);

    // A plugin section is validated by the plugin's own schema, with the full path too.
    const badPlugin = join(dir, 'bad-plugin.yaml');
    writeFileSync(badPlugin, 'plugins:\n  "@strand/stream-management":\n    resumeTimeout: soon\n');
    const p = await cli(['check-config', badPlugin]);
    expect(p.code).not.toBe(0);
    expect(p.stderr).toMatch(/^\s+plugins\.@strand\/stream-management\.resumeTimeout: /m);

    // An unreadable file.
    const missing = join(dir, 'missing.yaml');
    const m = await cli(['check-config', missing]);
    expect(m.code).not.toBe(0);
    expect(m.stderr).toContain(`Invalid configuration (${missing}):`);
  });

  it('adduser creates an account in SQLite that can then log in', async () => {
    await writeConfig();
    const r = await cli(['adduser', 'dave@localhost', '--password', 'pw', '--config', config]);
    expect(r).toMatchObject({ code: 0, stdout: 'created dave@localhost\n' });

    await startCli();
    const dave = await startClient({ port: ports.c2s, username: 'dave', password: 'pw', resource: 'cli' });
    clients.push(dave);
    expect(dave.jid).toBe('dave@localhost/cli');
    const pong = await dave.xmpp.iqCaller.request(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
    expect(pong.attrs.type).toBe('result');
    // The password really is `pw`.
    await expect(startClient({ port: ports.c2s, username: 'dave', password: 'wrong' })).rejects.toThrow(/not-authorized/);
  });

  it(`start: SIGTERM sends <system-shutdown/> and exits 0 within the close handshake (${CLOSE_HANDSHAKE_S} s)`, async () => {
    await writeConfig();
    const server = await startCli();

    // A real client, which answers the stream error with its close tag…
    const alice = await startClient({ port: ports.c2s, username: 'alice', resource: 'sigterm' });
    clients.push(alice);
    const shutdown = new Promise<Element>((resolve) =>
      alice.xmpp.on('element', (el: Element) => {
        if (el.is('error', NS_STREAM)) resolve(el);
      }),
    );
    // …and a raw peer that never does: shutdown must not wait for it longer than the timeout.
    const silent = await WireClient.connect(ports.c2s);
    wires.push(silent);
    await silent.login('alice', 'secret', 'silent');

    const killedAt = Date.now();
    process.kill(server.pid, 'SIGTERM');

    const err = await Promise.race([
      shutdown,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no stream error within 3 s')), 3000)),
    ]);
    expect(err.getChildElements().map((c) => `${c.name} ${c.attrs.xmlns}`)).toEqual([`system-shutdown ${NS_STREAMS}`]);

    await silent.waitFor(CLOSE_TAG, 3000);
    expect(silent.text).toMatch(streamErrorAtEnd('system-shutdown'));

    const exit = await server.waitExit((CLOSE_HANDSHAKE_S + 3) * 1000);
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
    // Bounded by the close handshake timeout (plus the exit path: storage closed, process exit).
    expect(exit.at - killedAt).toBeLessThan(CLOSE_HANDSHAKE_S * 1000 + 4000);
    // The silent peer held shutdown until the deadline: it was not cut early.
    expect(exit.at - killedAt).toBeGreaterThanOrEqual(CLOSE_HANDSHAKE_S * 1000 - 100);
    await silent.waitClosed(2000);
    expect(silent.text).toMatch(streamErrorAtEnd('system-shutdown')); // nothing after the close tag
    expect(server.json<{ msg?: string }>().map((l) => l.msg)).toEqual(expect.arrayContaining(['shutting down', 'Strand stopped']));
  });
});
