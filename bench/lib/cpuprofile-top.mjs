#!/usr/bin/env node
/**
 * Prints the top self-time functions of V8 .cpuprofile files (as written by `node --cpu-prof`),
 * plus self time grouped by package/area.
 *
 *   node bench/lib/cpuprofile-top.mjs [--top 30] [--windows last-run.json] FILE.cpuprofile…
 *
 * `--windows` keeps only the samples taken during the measured throughput runs (their
 * CLOCK_MONOTONIC start/end, recorded by run.mjs), so start-up and logins do not blur the picture.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { resolve, relative } from 'node:path';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '30' }, windows: { type: 'string' }, repo: { type: 'string', default: process.cwd() } },
});
if (!positionals.length) {
  process.stderr.write('usage: cpuprofile-top.mjs [--top N] [--windows last-run.json] FILE.cpuprofile…\n');
  process.exit(2);
}
const repo = resolve(values.repo);

/** { 'SM on': [[startUs, endUs]…], 'SM off': […] } from run.mjs's last-run.json (Strand's throughput runs). */
function loadWindows(file) {
  const j = JSON.parse(readFileSync(file, 'utf8'));
  const tp = j.results?.strand?.throughput;
  const us = (runs) => (runs ?? []).map(([a, b]) => [Number(BigInt(a) / 1000n), Number(BigInt(b) / 1000n)]);
  const out = {};
  if (tp?.sm?.windows?.length) out['SM on'] = us(tp.sm.windows);
  if (tp?.nosm?.windows?.length) out['SM off'] = us(tp.nosm.windows);
  return out;
}

function where(cf) {
  const url = cf.url || '';
  if (!url) return '';
  let p = url.startsWith('file://') ? decodeURIComponent(url.slice(7)) : url;
  if (p.startsWith('/')) p = relative(repo, p);
  return `${p}:${cf.lineNumber + 1}`;
}

function area(cf) {
  const url = cf.url || '';
  if (!url) {
    if (cf.functionName.startsWith('(')) return cf.functionName;
    return '(native/V8 builtins)';
  }
  if (url.startsWith('node:')) return 'node: ' + url.slice(5).split('/')[0];
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 14).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const m = /\/packages\/([^/]+)\/(?:dist|src)\/(.*)$/.exec(url);
  if (m) return `@strand/${m[1]} ${m[2].split('/').slice(0, -1).join('/') || '.'}`.trim();
  return url;
}

let groups = { all: undefined };
if (values.windows) {
  try {
    const w = loadWindows(values.windows);
    if (Object.keys(w).length) groups = w;
  } catch (err) {
    process.stderr.write(`cannot read windows from ${values.windows}: ${err.message}\n`);
  }
}
const profiles = positionals.map((f) => JSON.parse(readFileSync(f, 'utf8')));
const top = Number(values.top);
const out = [];
for (const [label, windows] of Object.entries(groups)) analyse(label, windows);
process.stdout.write(out.join('\n') + '\n');

function analyse(label, windows) {
  const selfUs = new Map(); // key -> { us, cf }
  const byArea = new Map();
  let total = 0;
  let totalAll = 0;
  let inWindows = 0;
  for (const prof of profiles) {
    const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
    let t = prof.startTime;
    const { samples, timeDeltas } = prof;
    for (let i = 0; i < samples.length; i++) {
      t += timeDeltas[i];
      const dt = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : timeDeltas[i];
      totalAll += dt;
      if (windows && !windows.some(([a, b]) => t >= a && t <= b)) continue;
      inWindows++;
      const cf = nodes.get(samples[i]).callFrame;
      if (cf.functionName === '(idle)') continue;
      total += dt;
      const key = `${cf.functionName || '(anonymous)'}\t${where(cf)}`;
      const e = selfUs.get(key) ?? { us: 0, cf };
      e.us += dt;
      selfUs.set(key, e);
      const a = area(cf);
      byArea.set(a, (byArea.get(a) ?? 0) + dt);
    }
  }
  if (windows && inWindows === 0) {
    out.push(`${label}: no samples inside the throughput windows (clock mismatch?); rerun without --windows`);
    return;
  }
  const pct = (us) => ((100 * us) / total).toFixed(1).padStart(5);
  const ms = (us) => (us / 1000).toFixed(1).padStart(9);
  out.push(
    `=== ${label === 'all' ? 'whole profile' : `${label}: ${windows.length} measured throughput runs`} — ${(total / 1000).toFixed(0)} ms busy (of ${(totalAll / 1000).toFixed(0)} ms sampled in total)`,
    '',
    `Top ${top} functions by self time:`,
    `  ${'self ms'.padStart(9)}  ${'%'.padStart(5)}  function  (location)`,
  );
  for (const [key, e] of [...selfUs].sort((a, b) => b[1].us - a[1].us).slice(0, top)) {
    const [fn, loc] = key.split('\t');
    out.push(`  ${ms(e.us)}  ${pct(e.us)}  ${fn}${loc ? `  (${loc})` : ''}`);
  }
  out.push('', 'Self time by area:');
  for (const [a, us] of [...byArea].sort((x, y) => y[1] - x[1]).slice(0, 20)) {
    out.push(`  ${ms(us)}  ${pct(us)}  ${a}`);
  }
  out.push('');
}
