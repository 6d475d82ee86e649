#!/usr/bin/env node
// Prepares everything the test suite needs on a fresh machine, idempotently:
//  1. a throwaway test CA and a `localhost` certificate signed by it (test/.certs), which the
//     tests trust through NODE_EXTRA_CA_CERTS (set by scripts/run-tests.mjs);
//  2. Debian packages for interop peers (python3-slixmpp, prosody, chromium) and cluster services (redis-server, postgresql). Missing packages are installed with
//     apt-get; if that fails the script fails loudly — interop tests are never skipped.
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from 'selfsigned';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const certs = join(root, 'test', '.certs');

async function makeCerts() {
  if (existsSync(join(certs, 'localhost.crt')) && existsSync(join(certs, 'ca.crt'))) return;
  mkdirSync(certs, { recursive: true });
  const far = new Date(Date.now() + 3650 * 86_400_000);
  const ca = await generate([{ name: 'commonName', value: 'Strand Test CA' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: far,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  const leaf = await generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: far,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 2, value: '*.localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  writeFileSync(join(certs, 'ca.crt'), ca.cert);
  writeFileSync(join(certs, 'ca.key'), ca.private, { mode: 0o600 });
  writeFileSync(join(certs, 'localhost.crt'), leaf.cert);
  writeFileSync(join(certs, 'localhost.key'), leaf.private, { mode: 0o600 });
  console.log('test-setup: generated test CA and localhost certificate in test/.certs');
}

// Debian's interpreter: a pyenv or venv python3 earlier in PATH would not see Debian's modules.
const DEBIAN_PYTHON = '/usr/bin/python3';

function python(code) {
  return spawnSync(DEBIAN_PYTHON, ['-c', code], { stdio: 'ignore' }).status === 0;
}

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function ensureDebianPackages() {
  const wanted = [
    { pkg: 'python3-slixmpp', check: () => python('import slixmpp') },
    // Prosody 0.12 for the XEP-0114 component interop tests (test/component-prosody.test.ts).
    { pkg: 'prosody', check: () => executable('/usr/bin/prosody') && executable('/usr/bin/prosodyctl') },
    // Headless Chromium for the Converse.js-over-WebSocket test (test/websocket/converse.test.ts),
    // driven with playwright-core (which cannot download browsers here).
    { pkg: 'chromium', check: () => executable('/usr/bin/chromium') },
    // Scale-out tests (test/cluster/*): Redis for the cluster registry and routing, PostgreSQL for
    // the persistent stores. Tests start private instances on loopback ports and stop them by PID.
    { pkg: 'redis-server', check: () => executable('/usr/bin/redis-server') },
    { pkg: 'postgresql', check: () => executable('/usr/lib/postgresql/15/bin/postgres') && executable('/usr/lib/postgresql/15/bin/initdb') },
  ];
  const missing = wanted.filter((w) => !w.check()).map((w) => w.pkg);
  if (missing.length === 0) return;
  console.log(`test-setup: installing Debian packages: ${missing.join(' ')}`);
  try {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch (err) {
    console.error(`test-setup: FAILED to install ${missing.join(' ')} (${err.message}). Interop tests need them.`);
    process.exit(1);
  }
  const still = wanted.filter((w) => !w.check()).map((w) => w.pkg);
  if (still.length) {
    console.error(`test-setup: ${still.join(' ')} still unusable after install`);
    process.exit(1);
  }
}

await makeCerts();
ensureDebianPackages();
