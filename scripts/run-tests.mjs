#!/usr/bin/env node
// Runs jest in ESM mode with the test CA trusted (NODE_EXTRA_CA_CERTS is read at process start,
// so it is set here, before jest and its workers start), then prints one plain summary line
// `N passed, N failed` computed from jest's JSON report.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tmp = mkdtempSync(join(tmpdir(), 'strand-jest-'));
const report = join(tmp, 'report.json');
const args = [
  '--experimental-vm-modules',
  join(root, 'node_modules', 'jest', 'bin', 'jest.js'),
  '--json',
  `--outputFile=${report}`,
  ...process.argv.slice(2),
];
const child = spawn(process.execPath, args, {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    NODE_EXTRA_CA_CERTS: join(root, 'test', '.certs', 'ca.crt'),
    NODE_OPTIONS: [process.env.NODE_OPTIONS, '--no-warnings=ExperimentalWarning'].filter(Boolean).join(' '),
  },
});
child.on('exit', (code, signal) => {
  let summary = '';
  try {
    const r = JSON.parse(readFileSync(report, 'utf8'));
    summary = `${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : '');
    if (r.numTotalTests === 0) code = code || 1;
  } catch {
    summary = '0 passed, 1 failed';
    code = code || 1;
  }
  rmSync(tmp, { recursive: true, force: true });
  console.log(summary);
  process.exit(signal ? 1 : (code ?? 1));
});
