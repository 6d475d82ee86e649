import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { HostConfig } from '@strand/core';
import { ConfigError, loadConfig, parseConfig, validatePluginSection, type LoadedConfig } from '../../src/config/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'strand-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = join(dir, name);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, text);
  return file;
}

/** Loads `text` as a YAML file and returns the ConfigError's message lines. */
async function errorsOf(text: string, name = 'strand.yaml'): Promise<string[]> {
  const err = await loadConfig(write(name, text)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  const e = err as ConfigError;
  expect(e.message.split('\n').slice(1)).toEqual(e.issues.map((i) => `  ${i.path}: ${i.message}`));
  return e.issues.map((i) => `${i.path}: ${i.message}`);
}

const FULL_YAML = `
domain: example.org
listen: { host: 0.0.0.0, c2s: 5222, c2sTls: false, http: 0, component: null }
tls: { cert: ./certs/cert.pem, key: /etc/strand/key.pem, selfSigned: false }
timeouts: { preAuth: 30, closeHandshake: 2.5, read: 0 }
limits: { maxStanzaBytes: 65536, maxDepth: 32, maxAttributes: 16, maxHeaderBytes: 2048, maxResourcesPerAccount: 3, maxSaslFailures: 5, offlinePerUser: 0 }
auth: { scramIterations: 10000, allowPlaintextOnLoopback: false, requireEncryption: true }
storage: { kind: sqlite, path: ./data/strand.db }
accounts:
  - { username: alice, password: secret }
  - { username: bob, password: "p@ss: word" }
components: [ { domain: component.example.org, secret: s3cret } ]
log: { level: debug }
plugins:
  "@strand/keepalive": { minInterval: 60, maxInterval: 300 }
  "@strand/presence-probe":
overrides: [ ./my-overrides.js, /abs/other.js ]
`;

describe('loadConfig: valid files', () => {
  it('applies every default to an empty file', async () => {
    const file = write('empty.yaml', '# nothing here\n');
    const config = await loadConfig(file);
    expect(config).toEqual({
      configFile: file,
      domain: 'localhost',
      listen: { host: '127.0.0.1', c2s: 5222, c2sTls: 5223, http: 5280, component: 5347 },
      tls: { selfSigned: true },
      timeouts: { preAuth: 60, closeHandshake: 5, read: 300, stanza: 60 },
      limits: {
        maxStanzaBytes: 262144,
        maxDepth: 64,
        maxAttributes: 64,
        maxHeaderBytes: 4096,
        maxResourcesPerAccount: 10,
        maxSaslFailures: 3,
        offlinePerUser: 1000,
        exemptAddresses: ['127.0.0.0/8', '::1'],
        connectionsPerSecond: 20,
        saslFailuresPerMinute: 10,
      },
      auth: { scramIterations: 4096, allowPlaintextOnLoopback: true, requireEncryption: true },
      storage: { kind: 'sqlite', path: join(dir, 'data', 'strand.db') },
      accounts: [],
      components: [],
      log: { level: 'info' },
      plugins: {},
      overrides: [],
    } satisfies LoadedConfig);
    // the result is what core's HostConfig promises plugins
    const host: HostConfig = config;
    expect(host.timeouts.read).toBe(300);
  });

  it("validates the repository's embedded config/default.yaml", async () => {
    const file = fileURLToPath(new URL('../../../../config/default.yaml', import.meta.url));
    const config = await loadConfig(file);
    expect(config.domain).toBe('localhost');
    // relative paths resolve against config/, where the file lives: ../data/strand.db → <repo>/data
    expect(config.storage).toEqual({ kind: 'sqlite', path: join(dirname(file), '..', 'data', 'strand.db') });
  });

  it('applies inner defaults of a partially given section', async () => {
    const config = await loadConfig(write('partial.yaml', 'limits: { maxDepth: 10 }\nlisten: { c2s: 0 }\n'));
    expect(config.limits.maxDepth).toBe(10);
    expect(config.limits.maxStanzaBytes).toBe(262144);
    expect(config.listen).toEqual({ host: '127.0.0.1', c2s: 0, c2sTls: 5223, http: 5280, component: 5347 });
  });

  it('reads a full YAML file, normalising disabled ports to null', async () => {
    const config = await loadConfig(write('strand.yml', FULL_YAML));
    expect(config.domain).toBe('example.org');
    expect(config.listen).toEqual({ host: '0.0.0.0', c2s: 5222, c2sTls: null, http: 0, component: null });
    expect(config.timeouts).toEqual({ preAuth: 30, closeHandshake: 2.5, read: 0, stanza: 60 });
    expect(config.limits.offlinePerUser).toBe(0);
    expect(config.auth.scramIterations).toBe(10000);
    expect(config.accounts).toEqual([
      { username: 'alice', password: 'secret' },
      { username: 'bob', password: 'p@ss: word' },
    ]);
    expect(config.components).toEqual([{ domain: 'component.example.org', secret: 's3cret' }]);
    expect(config.log.level).toBe('debug');
    expect(config.plugins).toEqual({ '@strand/keepalive': { minInterval: 60, maxInterval: 300 }, '@strand/presence-probe': null });
  });

  it('reads the same configuration from JSON', async () => {
    const yaml = await loadConfig(write('a/strand.yaml', FULL_YAML));
    const { parse } = await import('yaml');
    const json = await loadConfig(write('a/strand.json', JSON.stringify(parse(FULL_YAML))));
    expect({ ...json, configFile: '' }).toEqual({ ...yaml, configFile: '' });
  });

  it('resolves relative paths against the directory of the file, not the working directory', async () => {
    const file = write('conf/sub/strand.yaml', FULL_YAML);
    const config = await loadConfig(relative(process.cwd(), file));
    const base = join(dir, 'conf', 'sub');
    expect(config.configFile).toBe(file);
    expect(config.tls.cert).toBe(join(base, 'certs', 'cert.pem'));
    expect(config.tls.key).toBe('/etc/strand/key.pem');
    expect(config.storage).toEqual({ kind: 'sqlite', path: join(base, 'data', 'strand.db') });
    expect(config.overrides).toEqual([join(base, 'my-overrides.js'), '/abs/other.js']);
  });

  it('keeps :memory: and non-file storage as they are', async () => {
    expect((await loadConfig(write('m.yaml', 'storage: { kind: sqlite, path: ":memory:" }'))).storage).toEqual({
      kind: 'sqlite',
      path: ':memory:',
    });
    expect((await loadConfig(write('n.yaml', 'storage: { kind: memory }'))).storage).toEqual({ kind: 'memory' });
    expect((await loadConfig(write('p.json', '{"storage":{"kind":"postgres","url":"postgres://u@h/db"}}'))).storage).toEqual({
      kind: 'postgres',
      url: 'postgres://u@h/db',
      poolSize: 10,
    });
    expect((await loadConfig(write('q.yaml', 'storage: { kind: postgres, url: "postgresql://u:p@h:5433/db", poolSize: 25 }'))).storage).toEqual({
      kind: 'postgres',
      url: 'postgresql://u:p@h:5433/db',
      poolSize: 25,
    });
  });

  it('applies the cluster defaults (absent: a single node)', async () => {
    expect((await loadConfig(write('one.yaml', 'domain: localhost'))).cluster).toBeUndefined();
    const c = await loadConfig(write('c.yaml', 'storage: { kind: postgres, url: "postgres://h/db" }\ncluster: { redis: "redis://h:6379", nodeId: n-1 }'));
    expect(c.cluster).toEqual({ redis: 'redis://h:6379', nodeId: 'n-1', heartbeatTtl: 10, handoverTimeout: 5, keyPrefix: 'strand', inboxMaxLen: 100_000 });
  });

  it('parseConfig validates data that did not come from a file', () => {
    expect(parseConfig(undefined, '/srv/strand').storage).toEqual({ kind: 'sqlite', path: '/srv/strand/data/strand.db' });
    expect(() => parseConfig({ domain: '' }, '/', 'embedded defaults')).toThrow(/^Invalid configuration \(embedded defaults\):/);
  });
});

describe('loadConfig: errors name the exact path', () => {
  it.each([
    ['limits: { maxDepth: 0 }', 'limits.maxDepth: Too small: expected number to be >=1'],
    ['limits: { maxStanzaBytes: 5000 }', 'limits.maxStanzaBytes: Too small: expected number to be >=10000'],
    ['limits: { maxDepth: 1.5 }', 'limits.maxDepth: Invalid input: expected int, received number'],
    ['bogus: 1', 'bogus: Unrecognized key'],
    ['listen: { c2s: 5222, websocket: 5443 }', 'listen.websocket: Unrecognized key'],
    ['listen: { c2s: "5222" }', 'listen.c2s: Invalid input: expected number, received string'],
    ['listen: { c2s: 70000 }', 'listen.c2s: Too big: expected number to be <=65535'],
    ['listen: { c2s: true }', 'listen.c2s: Invalid input: expected number, received boolean'],
    ['timeouts: { preAuth: 0 }', 'timeouts.preAuth: Too small: expected number to be >0'],
    ['timeouts: { read: -1 }', 'timeouts.read: Too small: expected number to be >=0'],
    ['auth: { scramIterations: 1000 }', 'auth.scramIterations: Too small: expected number to be >=4096'],
    ['storage: { kind: redis }', "storage.kind: Invalid discriminator value. Expected 'memory' | 'sqlite' | 'postgres'"],
    ['storage: { kind: postgres }', 'storage.url: Invalid input: expected string, received undefined'],
    ['storage: { kind: postgres, url: "mysql://x" }', 'storage.url: expected a postgres:// or postgresql:// URL'],
    ['storage: { kind: postgres, url: "postgres://x/db", poolSize: 0 }', 'storage.poolSize: Too small: expected number to be >=1'],
    ['storage: { kind: postgres, url: "postgres://x/db", poolSize: 101 }', 'storage.poolSize: Too big: expected number to be <=100'],
    ['storage: { kind: postgres, url: "postgres://x/db", path: x.db }', 'storage.path: Unrecognized key'],
    ['storage: { kind: memory, path: x.db }', 'storage.path: Unrecognized key'],
    ['accounts: [ { username: alice, password: a }, { username: bob, password: "" } ]', 'accounts.1.password: Too small: expected string to have >=1 characters'],
    ['accounts: [ { username: "al ice", password: a } ]', 'accounts.0.username: username must not contain whitespace, "@" or "/"'],
    ['components: [ { domain: c.localhost } ]', 'components.0.secret: Invalid input: expected string, received undefined'],
    ['log: { level: verbose }', 'log.level: Invalid option: expected one of "fatal"|"error"|"warn"|"info"|"debug"|"trace"|"silent"'],
    ['cluster: { nodeId: a }', 'cluster.redis: Invalid input: expected string, received undefined'],
    ['cluster: { redis: "http://x", nodeId: a }', 'cluster.redis: expected a redis:// or rediss:// URL'],
    ['cluster: { redis: "redis://x", nodeId: "a b" }', 'cluster.nodeId: expected 1–64 characters of A–Z a–z 0–9 _ . -'],
    ['cluster: { redis: "redis://x", nodeId: a, heartbeatTtl: 1 }', 'cluster.heartbeatTtl: Too small: expected number to be >=2'],
    ['cluster: { redis: "redis://x", nodeId: a, handoverTimeout: 61 }', 'cluster.handoverTimeout: Too big: expected number to be <=60'],
    ['cluster: { redis: "redis://x", nodeId: a, gossip: true }', 'cluster.gossip: Unrecognized key'],
    ['plugins: [ a, b ]', 'plugins: Invalid input: expected record, received array'],
    ['overrides: ./x.js', 'overrides: Invalid input: expected array, received string'],
    ['- just\n- a list', '(root): Invalid input: expected object, received array'],
  ])('%s', async (yaml, expected) => {
    expect(await errorsOf(yaml)).toEqual([expected]);
  });

  it.each([
    ['tls: { cert: c.pem }', 'tls.key: tls.cert and tls.key must be set together'],
    ['tls: { key: k.pem }', 'tls.cert: tls.cert and tls.key must be set together'],
    ['tls: { selfSigned: false }', 'listen.c2sTls: direct TLS needs a certificate: set tls.cert and tls.key, or tls.selfSigned: true'],
    [
      'tls: { selfSigned: false }\nlisten: { c2sTls: null }\nauth: { allowPlaintextOnLoopback: false }',
      'auth.requireEncryption: no client could authenticate: encryption is required but TLS has no certificate',
    ],
    ['listen: { http: 5222 }', 'listen.http: port 5222 is already used by listen.c2s'],
    ['accounts: [ { username: alice, password: a }, { username: Alice, password: b } ]', 'accounts.1.username: duplicate account "Alice"'],
    ['components: [ { domain: localhost, secret: s } ]', 'components.0.domain: domain "localhost" is already served'],
    [
      'storage: { kind: memory }\ncluster: { redis: "redis://x", nodeId: a }',
      'storage.kind: a cluster node needs storage shared by all nodes: postgres (or a SQLite file on one machine)',
    ],
  ])('cross-field: %s', async (yaml, expected) => {
    expect(await errorsOf(yaml)).toEqual([expected]);
  });

  it('allows several listeners on port 0 and disabled ones', async () => {
    const c = await loadConfig(write('z.yaml', 'listen: { c2s: 0, c2sTls: 0, http: null, component: false }'));
    expect(c.listen).toMatchObject({ c2s: 0, c2sTls: 0, http: null, component: null });
  });

  it('lists every issue at once, in the message too', async () => {
    const file = write('many.yaml', 'limits: { maxDepth: 0, maxAttributes: -1, extra: 1 }\ndomain: "a b"\n');
    const err = (await loadConfig(file).catch((e: unknown) => e)) as ConfigError;
    expect(err.issues.map((i) => i.path).sort()).toEqual(['domain', 'limits.extra', 'limits.maxAttributes', 'limits.maxDepth']);
    expect(err.message).toContain(`Invalid configuration (${file}):`);
    expect(err.message).toContain('  limits.maxDepth: Too small: expected number to be >=1');
    expect(err.message).toContain('  domain: domain must not contain whitespace, "@" or "/"');
  });

  it('reports YAML syntax errors and duplicate keys with their position', async () => {
    const [syntax] = await errorsOf('listen: { c2s: 5222\nfoo: [');
    expect(syntax).toMatch(/^\(syntax\): .* at line \d+, column \d+/);
    const [dup] = await errorsOf('domain: a\ndomain: b\n');
    expect(dup).toMatch(/^\(syntax\): Map keys must be unique at line 2, column 1/);
  });

  it('reports JSON syntax errors', async () => {
    const [e] = await errorsOf('{ "domain": ', 'bad.json');
    expect(e).toMatch(/^\(syntax\): /);
  });

  it('reports unreadable files and unsupported extensions', async () => {
    await expect(loadConfig(join(dir, 'missing.yaml'))).rejects.toThrow(/\(file\): cannot read: ENOENT/);
    expect(await errorsOf('domain: x', 'strand.toml')).toEqual(['(file): unsupported extension ".toml": use .yaml, .yml or .json']);
  });
});

describe('validatePluginSection', () => {
  const KeepaliveSchema = z
    .object({
      minInterval: z.number().positive().default(60),
      maxInterval: z.number().positive().default(300),
      defaultInterval: z.number().positive().default(120),
    })
    .strict()
    .superRefine((c, ctx) => {
      if (c.maxInterval < c.minInterval) {
        ctx.addIssue({ code: 'custom', path: ['maxInterval'], message: 'must be ≥ minInterval' });
      }
    });

  it('applies defaults to a missing or empty section', () => {
    const defaults = { minInterval: 60, maxInterval: 300, defaultInterval: 120 };
    expect(validatePluginSection('@strand/keepalive', KeepaliveSchema, undefined)).toEqual(defaults);
    expect(validatePluginSection('@strand/keepalive', KeepaliveSchema, null)).toEqual(defaults);
    expect(validatePluginSection('@strand/keepalive', KeepaliveSchema, { minInterval: 30 })).toEqual({ ...defaults, minInterval: 30 });
  });

  it('reports issues under plugins.<name>', () => {
    const issues = (raw: unknown) => {
      try {
        validatePluginSection('@strand/keepalive', KeepaliveSchema, raw);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        expect((e as ConfigError).message).toMatch(/^Invalid configuration \(plugin @strand\/keepalive\):/);
        return (e as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
      }
      throw new Error('expected a ConfigError');
    };
    expect(issues({ minInterval: 100, maxInterval: 50 })).toEqual(['plugins.@strand/keepalive.maxInterval: must be ≥ minInterval']);
    expect(issues({ minInterval: -1, bogus: true }).sort()).toEqual([
      'plugins.@strand/keepalive.bogus: Unrecognized key',
      'plugins.@strand/keepalive.minInterval: Too small: expected number to be >0',
    ]);
    expect(issues('fast')).toEqual(['plugins.@strand/keepalive: Invalid input: expected object, received string']);
  });
});
