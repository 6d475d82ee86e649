/**
 * A private Prosody 0.12 (Debian package `prosody`) for interop tests: its own config, data and
 * pidfile in a temp directory, loopback ports, an XEP-0114 component entry, users registered with
 * `prosodyctl`; stopped by PID.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { client, xml, type Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import { freePort } from './ports.js';
import { Proc } from './process.js';
import { watchClient, type TestXmpp } from './xmpp.js';

export const PROSODY = '/usr/bin/prosody';
export const PROSODYCTL = '/usr/bin/prosodyctl';

export interface ProsodyOptions {
  /** Component domain → secret. */
  components?: Record<string, string>;
  /** Users of `localhost` to register: username → password. */
  users?: Record<string, string>;
}

export interface Prosody {
  proc: Proc;
  pid: number;
  dir: string;
  c2sPort: number;
  componentPort: number;
  /** The log file's content (for failure messages). */
  log(): string;
  /** SIGTERM by PID, SIGKILL after 5 s; removes the temp directory. */
  stop(): Promise<void>;
}

/** Starts Prosody in the foreground from a private config and waits until the component port listens. */
export async function startProsody(options: ProsodyOptions = {}): Promise<Prosody> {
  const dir = mkdtempSync(join(tmpdir(), 'strand-prosody-'));
  mkdirSync(join(dir, 'data'));
  mkdirSync(join(dir, 'certs'));
  const c2sPort = await freePort();
  let componentPort = await freePort();
  // Two consecutive ephemeral binds may return the same, just released, port.
  while (componentPort === c2sPort) componentPort = await freePort();
  const components = options.components ?? { 'component.localhost': 'secret' };
  const lua = (s: string) => JSON.stringify(s);
  const cfg = [
    'run_as_root = true',
    'daemonize = false',
    `pidfile = ${lua(join(dir, 'prosody.pid'))}`,
    `data_path = ${lua(join(dir, 'data'))}`,
    `certificates = ${lua(join(dir, 'certs'))}`,
    `log = { { levels = { min = "info" }, to = "console" }, { levels = { min = "debug" }, to = "file", filename = ${lua(join(dir, 'prosody.log'))} } }`,
    'interfaces = { "127.0.0.1" }',
    'local_interfaces = { "127.0.0.1" }',
    `c2s_ports = { ${c2sPort} }`,
    'c2s_direct_tls_ports = { }',
    'legacy_ssl_ports = { }',
    `component_ports = { ${componentPort} }`,
    'component_interfaces = { "127.0.0.1" }',
    'modules_enabled = { "roster", "saslauth", "disco", "ping", "posix" }',
    'modules_disabled = { "s2s" }',
    'authentication = "internal_plain"',
    'storage = "internal"',
    'c2s_require_encryption = false',
    'allow_unencrypted_plain_auth = true',
    'VirtualHost "localhost"',
    ...Object.entries(components).flatMap(([domain, secret]) => [`Component ${lua(domain)}`, `  component_secret = ${lua(secret)}`]),
    '',
  ].join('\n');
  const config = join(dir, 'prosody.cfg.lua');
  writeFileSync(config, cfg);
  for (const [user, password] of Object.entries(options.users ?? {})) {
    const r = spawnSync(PROSODYCTL, ['--config', config, 'register', user, 'localhost', password], { encoding: 'utf8', timeout: 20_000 });
    if (r.status !== 0) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`prosodyctl register ${user} failed (${r.status}): ${r.stdout}${r.stderr}`);
    }
  }
  const proc = Proc.spawn(PROSODY, ['--config', config], { cwd: dir });
  const log = () => {
    try {
      return readFileSync(join(dir, 'prosody.log'), 'utf8');
    } catch {
      return '';
    }
  };
  const stop = async () => {
    await proc.terminate('SIGTERM', 5000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await proc.waitFor(
      () =>
        /Activated service 'component' on \[127\.0\.0\.1\]/.test(proc.stdout) &&
        /Activated service 'c2s' on \[127\.0\.0\.1\]/.test(proc.stdout)
          ? true
          : undefined,
      15_000,
      'Prosody to listen for clients and components',
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { proc, pid: proc.pid, dir, c2sPort, componentPort, log, stop };
}

/** An @xmpp/client 0.14 session on Prosody (SASL PLAIN over loopback plaintext), with an inbox. */
export type ProsodyUser = TestXmpp;

export async function prosodyUser(port: number, username: string, password: string, resource = 'test'): Promise<ProsodyUser> {
  const xmpp = client({
    service: `xmpp://127.0.0.1:${port}`,
    domain: 'localhost',
    resource,
    // @xmpp/client refuses PLAIN on a non-TLS socket when given username/password (TOOLCHAIN.md).
    credentials: (auth: (creds: { username: string; password: string }, mechanism: string) => Promise<void>) =>
      auth({ username, password }, 'PLAIN'),
  } as unknown as Parameters<typeof client>[0]);
  return watchClient(xmpp, () => (xmpp as unknown as { socket?: { destroy?: () => void } }).socket?.destroy?.());
}

export { xml };
