/**
 * The three servers under test: private configs on loopback ports, start/stop by PID, account
 * provisioning, the PID to measure (RSS, CPU).
 *
 * Every server gets the same policy: domain `localhost`, c2s without TLS on a loopback port,
 * SASL PLAIN allowed there, salted SCRAM credentials with 4096 PBKDF2 iterations, stream
 * management with resumption (300 s), log level warn, no s2s/HTTP listeners.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync, existsSync, openSync, closeSync, chownSync, copyFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { alive, findDescendant, portFree, portOpen, stopPid, waitFor, sleep } from './proc.mjs';
import { register, scramIterations } from './xmpp.mjs';

export const DOMAIN = 'localhost';
export const PASSWORD = 'bench-password';
export const SCRAM_ITERATIONS = 4096;
export const userName = (i) => `u${i}`;

function dpkgVersion(pkg) {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

/** Common base: spawns a process with stdout/stderr to a log file, stops it by PID. */
class Server {
  constructor(name, opts) {
    this.name = name;
    this.opts = opts;
    this.dir = resolve(opts.workDir, name);
    this.port = opts.ports[name];
    this.proc = undefined;
    this.pid = undefined; // the process measured (RSS/CPU)
    this.launcherPid = undefined; // what we spawned
    this.notes = [];
  }

  log(msg) {
    this.opts.log(`[${this.name}] ${msg}`);
  }

  spawnLogged(cmd, args, { env, cwd } = {}) {
    mkdirSync(this.dir, { recursive: true });
    const out = openSync(join(this.dir, 'stdout.log'), 'a');
    const p = spawn(cmd, args, { cwd: cwd ?? this.dir, env: env ?? process.env, stdio: ['ignore', out, out] });
    closeSync(out);
    p.on('exit', (code, signal) => {
      this.exited = { code, signal };
    });
    this.proc = p;
    this.launcherPid = p.pid;
    this.exited = undefined;
    return p;
  }

  /** Tail of the server's own log files, for error messages. */
  tail(n = 30) {
    const parts = [];
    for (const f of this.logFiles()) {
      if (existsSync(f)) parts.push(`--- ${f}\n${readFileSync(f, 'utf8').split('\n').slice(-n).join('\n')}`);
    }
    return parts.join('\n');
  }

  logFiles() {
    return [join(this.dir, 'stdout.log')];
  }

  async waitListening(timeoutMs) {
    await waitFor(
      async () => {
        if (this.exited) throw new Error(`${this.name} exited during start (${JSON.stringify(this.exited)})\n${this.tail()}`);
        return portOpen(this.port);
      },
      timeoutMs,
      `${this.name} listening on 127.0.0.1:${this.port}`,
      200,
    );
  }

  async ensurePortFree() {
    if (!(await portFree(this.port))) {
      throw new Error(`port ${this.port} for ${this.name} is in use; choose other ports (BENCH_PORT_BASE)`);
    }
  }

  async stop() {
    const pids = [this.pid, this.launcherPid].filter((p, i, a) => p && a.indexOf(p) === i);
    for (const pid of pids) {
      const how = await stopPid(pid, this.stopGraceMs ?? 15000);
      if (how === 'killed') this.log(`PID ${pid} did not stop on SIGTERM; killed`);
    }
    this.pid = undefined;
    this.launcherPid = undefined;
  }

  /** Registers users [0, n) that do not exist yet (XEP-0077), remembering progress in a marker file. */
  async provisionInBand(n) {
    const marker = join(this.dir, 'provisioned.json');
    let done = 0;
    try {
      done = JSON.parse(readFileSync(marker, 'utf8')).users ?? 0;
    } catch {
      /* none yet */
    }
    if (done >= n) return;
    const t0 = Date.now();
    let next = done;
    let created = 0;
    const worker = async () => {
      while (next < n) {
        const i = next++;
        const r = await register({ host: '127.0.0.1', port: this.port, domain: DOMAIN, username: userName(i), password: PASSWORD });
        if (r === 'created') created++;
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    writeFileSync(marker, JSON.stringify({ users: n }));
    this.log(`registered ${created} accounts (of ${n}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }

  async checkIterations() {
    try {
      this.iterations = await scramIterations({ host: '127.0.0.1', port: this.port, domain: DOMAIN, username: userName(0) });
    } catch (err) {
      this.iterations = undefined;
      this.log(`could not read the SCRAM iteration count: ${err.message}`);
    }
    return this.iterations;
  }
}

// ---------------------------------------------------------------------------------------------
// Strand

export class StrandServer extends Server {
  constructor(opts) {
    super('strand', opts);
    this.repo = opts.repo;
    this.cli = join(this.repo, 'packages/server/dist/cli.js');
  }

  version() {
    try {
      return JSON.parse(readFileSync(join(this.repo, 'packages/server/package.json'), 'utf8')).version;
    } catch {
      return '?';
    }
  }

  /** Which optional plugins can be enabled (built and importable). */
  async detectPlugins() {
    const check = (pkg) => {
      try {
        execFileSync(process.execPath, ['--input-type=module', '-e', `const m = await import('${pkg}'); if (typeof m.default?.module !== 'function') process.exit(3);`], {
          cwd: this.repo,
          stdio: 'pipe',
          timeout: 30000,
        });
        return true;
      } catch (err) {
        this.log(`${pkg} is not usable: ${String(err.stderr ?? err.message).split('\n').slice(0, 3).join(' ')}`);
        return false;
      }
    };
    this.plugins = {
      sm: check('@strand/stream-management'),
      keepalive: check('@strand/keepalive'),
    };
    if (!this.plugins.sm) this.notes.push('@strand/stream-management not usable: Strand ran without SM');
    return this.plugins;
  }

  writeConfig(profile) {
    const o = this.opts;
    const users = Array.from({ length: o.users }, (_, i) => `  - { username: ${userName(i)}, password: ${PASSWORD} }`).join('\n');
    const plugins = [];
    if (this.plugins.sm) {
      plugins.push(
        `  "@strand/stream-management":\n    resumeTimeout: 300\n    maxQueue: 1000\n    hardQueueLimit: 5000\n    ackRequestEvery: ${o.ackEvery}`,
      );
    }
    if (profile.keepalive && this.plugins.keepalive) {
      plugins.push(`  "@strand/keepalive":\n    minInterval: ${o.keepaliveInterval}\n    maxInterval: ${Math.max(300, o.keepaliveInterval)}`);
    }
    // `strandStorageYaml` / `strandExtraYaml`: set by bench/cluster.mjs (postgres storage, a
    // `cluster:` section); absent for bench/run.mjs
    const storage = o.strandStorageYaml ?? (o.strandStorage === 'memory' ? '{ kind: memory }' : '{ kind: sqlite, path: ./strand.db }');
    const yaml = `# generated by bench/run.mjs — do not edit
domain: ${DOMAIN}
listen: { host: 127.0.0.1, c2s: ${this.port}, c2sTls: null, http: null, component: null }
timeouts: { preAuth: 60, closeHandshake: 5, read: 300 }
limits: { maxResourcesPerAccount: 10 }
auth: { scramIterations: ${SCRAM_ITERATIONS}, allowPlaintextOnLoopback: true, requireEncryption: true }
storage: ${storage}
log: { level: warn }
${o.strandExtraYaml ? `${o.strandExtraYaml}\n` : ''}accounts:${users ? `\n${users}` : ' []'}
plugins:
${plugins.length ? plugins.join('\n') : '  {}'}
`;
    const file = join(this.dir, `strand-${profile.name}.yaml`);
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(file, yaml);
    return file;
  }

  async start(profile) {
    await this.ensurePortFree();
    if (!this.plugins) await this.detectPlugins();
    const cfg = this.writeConfig(profile);
    this.configFile = cfg;
    this.gcEnabled = !!profile.gcOnSignal;
    const gcArgs = profile.gcOnSignal ? ['--expose-gc', `--import=${join(this.repo, 'bench/lib/gc-on-signal.mjs')}`] : [];
    const args = [...gcArgs, ...(profile.nodeArgs ?? []), this.cli, 'start', '--config', cfg];
    this.spawnLogged(process.execPath, args, { cwd: this.dir });
    this.pid = this.launcherPid;
    // first start with sqlite creates the accounts (2 × PBKDF2 each): allow time for it
    await this.waitListening(this.opts.startTimeoutMs + this.opts.users * 30);
    this.log(`started PID ${this.pid} (${profile.name})`);
  }

  async provision() {
    // accounts come from the generated config (created at start when absent)
  }

  /** Full GC now, when started with the gc-on-signal preload (idle workload); false otherwise. */
  requestGc() {
    if (!this.gcEnabled || !this.pid) return false;
    try {
      process.kill(this.pid, 'SIGUSR2');
      return true;
    } catch {
      return false;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Prosody

export class ProsodyServer extends Server {
  constructor(opts) {
    super('prosody', opts);
    this.stopGraceMs = 10000;
  }

  version() {
    return dpkgVersion('prosody');
  }

  logFiles() {
    return [join(this.dir, 'stdout.log'), join(this.dir, 'prosody.log')];
  }

  writeConfig(profile) {
    const o = this.opts;
    const d = this.dir;
    const lua = `-- generated by bench/run.mjs — do not edit
run_as_root = true
daemonize = false
pidfile = "${d}/prosody.pid"
data_path = "${d}/data"
certificates = "${d}/certs"
log = { { levels = { min = "warn" }, to = "file", filename = "${d}/prosody.log" } }
network_backend = "epoll"
network_settings = { tcp_backlog = 1024 }
c2s_ports = { ${this.port} }
c2s_interfaces = { "127.0.0.1" }
c2s_direct_tls_ports = { }
s2s_ports = { }
http_ports = { }
https_ports = { }
modules_disabled = { "s2s", "s2s_auth_certs" }
modules_enabled = { "roster", "saslauth", "disco", "smacks", "ping", "register" }
authentication = "internal_hashed"
default_iteration_count = ${SCRAM_ITERATIONS}
storage = "internal"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
allow_registration = true
smacks_hibernation_time = 300
smacks_max_unacked_stanzas = ${o.ackEvery}
smacks_max_queue_size = 5000
VirtualHost "${DOMAIN}"
`;
    mkdirSync(join(d, 'data'), { recursive: true });
    mkdirSync(join(d, 'certs'), { recursive: true });
    const file = join(d, `prosody-${profile.name}.cfg.lua`);
    writeFileSync(file, lua);
    return file;
  }

  async start(profile) {
    await this.ensurePortFree();
    const cfg = this.writeConfig(profile);
    this.spawnLogged('prosody', ['-F', '--config', cfg]);
    this.pid = this.launcherPid; // `prosody` is a Lua script: the spawned PID is the lua interpreter
    await this.waitListening(this.opts.startTimeoutMs);
    if (profile.keepalive) this.notes.push('Prosody 0.12 has no XEP-0304 / server keepalive: keepalive row = plain idle sessions');
    this.log(`started PID ${this.pid} (${profile.name})`);
  }

  async provision(n) {
    await this.provisionInBand(n);
  }
}

// ---------------------------------------------------------------------------------------------
// ejabberd

export class EjabberdServer extends Server {
  constructor(opts) {
    super('ejabberd', opts);
    this.stopGraceMs = 20000;
    this.distPort = opts.ports.ejabberdDist;
  }

  version() {
    return dpkgVersion('ejabberd');
  }

  logFiles() {
    return [join(this.dir, 'stdout.log'), join(this.dir, 'logs/ejabberd.log'), join(this.dir, 'logs/error.log')];
  }

  writeConfig(profile) {
    const o = this.opts;
    const d = this.dir;
    for (const sub of ['conf', 'logs', 'spool']) mkdirSync(join(d, sub), { recursive: true });
    const ping = profile.keepalive
      ? `  mod_ping:\n    send_pings: true\n    ping_interval: ${o.keepaliveInterval}\n    timeout_action: none\n`
      : '  mod_ping: {}\n';
    const yml = `# generated by bench/run.mjs — do not edit
hosts:
  - ${DOMAIN}
loglevel: warning
log_rotate_count: 0
hide_sensitive_log_data: true
certfiles: []
registration_timeout: infinity
listen:
  -
    port: ${this.port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    shaper: none
    access: c2s
    starttls: false
    starttls_required: false
    backlog: 1024
auth_method: internal
auth_password_format: scram
auth_scram_hash: sha
acl:
  loopback:
    ip:
      - 127.0.0.0/8
      - ::1/128
access_rules:
  c2s:
    allow: all
  register:
    allow: all
shaper_rules:
  c2s_shaper: none
modules:
  mod_disco: {}
${ping}  mod_register:
    access: register
    ip_access: all
  mod_roster: {}
  mod_offline: {}
  mod_stream_mgmt:
    resume_timeout: 300
    max_ack_queue: 5000
`;
    const file = join(d, 'conf', `ejabberd-${profile.name}.yml`);
    writeFileSync(file, yml);
    // ejabberdctl settings: a fixed distribution port (no epmd at all), raised port limit
    writeFileSync(
      join(d, 'conf', 'ejabberdctl.cfg'),
      `ERL_DIST_PORT=${this.distPort}\nINET_DIST_INTERFACE=127.0.0.1\nERL_MAX_PORTS=65536\nERL_PROCESSES=250000\nERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"\n`,
    );
    if (existsSync('/etc/ejabberd/inetrc')) copyFileSync('/etc/ejabberd/inetrc', join(d, 'conf', 'inetrc'));
    execFileSync('chown', ['-R', 'ejabberd:ejabberd', d]);
    return file;
  }

  async start(profile) {
    await this.ensurePortFree();
    if (!(await portFree(this.distPort))) throw new Error(`ejabberd distribution port ${this.distPort} is in use`);
    const cfg = this.writeConfig(profile);
    const d = this.dir;
    // As the ejabberd user directly (no su, which would drop the open-file limit to 1024):
    // setpriv keeps the raised RLIMIT_NOFILE of this process.
    const args = [
      '--reuid=ejabberd',
      '--regid=ejabberd',
      '--init-groups',
      '/usr/sbin/ejabberdctl',
      '--config-dir', join(d, 'conf'),
      '--config', cfg,
      '--ctl-config', join(d, 'conf', 'ejabberdctl.cfg'),
      '--logs', join(d, 'logs'),
      '--spool', join(d, 'spool'),
      '--node', 'ejabberd-bench@localhost',
      'foreground',
    ];
    const env = { ...process.env, HOME: join(d, 'spool'), EJABBERD_PID_PATH: join(d, 'spool', 'ejabberd.pid') };
    this.spawnLogged('setpriv', args, { env, cwd: join(d, 'spool') });
    await this.waitListening(this.opts.startTimeoutMs + 30000);
    this.pid = await waitFor(() => findDescendant(this.launcherPid, 'beam.smp'), 10000, 'beam.smp PID');
    this.log(`started beam.smp PID ${this.pid} (launcher ${this.launcherPid}, ${profile.name})`);
  }

  async stop() {
    // beam.smp handles SIGTERM as init:stop(); the ejabberdctl shell then exits by itself
    if (this.pid) {
      const how = await stopPid(this.pid, this.stopGraceMs);
      if (how === 'killed') this.log(`beam.smp ${this.pid} did not stop on SIGTERM; killed`);
    }
    if (this.launcherPid) {
      await waitFor(() => !alive(this.launcherPid), 5000, 'ejabberdctl exit').catch(() => stopPid(this.launcherPid, 3000));
    }
    this.pid = undefined;
    this.launcherPid = undefined;
  }

  async provision(n) {
    await this.provisionInBand(n);
  }
}

export function createServers(names, opts) {
  const all = { strand: StrandServer, prosody: ProsodyServer, ejabberd: EjabberdServer };
  return names.map((n) => {
    if (!all[n]) throw new Error(`unknown server ${n} (strand, prosody, ejabberd)`);
    return new all[n](opts);
  });
}

export { sleep, rmSync };
