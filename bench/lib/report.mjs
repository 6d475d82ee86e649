/** Renders the results as one Markdown table (absolute figures, ratios, Strand's targets). */

export function fmt(x, unit = '') {
  if (x === undefined || x === null || Number.isNaN(x)) return '—';
  if (typeof x === 'string') return x;
  const a = Math.abs(x);
  if (Number.isInteger(x)) return x.toLocaleString('en-US') + unit;
  const s = a >= 100 ? Math.round(x).toLocaleString('en-US') : a >= 10 ? x.toFixed(1) : a >= 1 ? x.toFixed(2) : x.toFixed(3);
  return s + unit;
}

const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && a > 0 && b > 0 ? `${(a / b).toFixed(2)}×` : '—');

export function renderReport(meta, results, cfg) {
  const names = Object.keys(results);
  const peers = names.filter((n) => n !== 'strand');
  const hasStrand = names.includes('strand');
  const rows = [];
  const checks = [];
  const get = (name, f) => {
    try {
      const v = f(results[name]);
      return typeof v === 'number' && Number.isFinite(v) ? v : v === undefined ? undefined : v;
    } catch {
      return undefined;
    }
  };
  /** One row: label, getter, direction ('↑' higher is better, '↓' lower), unit, target text + test. */
  const row = (label, f, dir = '', unit = '', target, { noRatio = false } = {}) => {
    const vals = Object.fromEntries(names.map((n) => [n, get(n, f)]));
    const cells = [`${label}${dir ? ` ${dir}` : ''}`, ...names.map((n) => fmt(vals[n], unit))];
    if (hasStrand) for (const p of peers) cells.push(typeof vals.strand === 'number' && !noRatio ? ratio(vals.strand, vals[p]) : '—');
    if (hasStrand) {
      if (target) {
        const ok = target.test(vals);
        cells.push(`${target.text} ${ok === undefined ? '?' : ok ? '✅' : '❌'}`);
        checks.push({ label, target: target.text, ok });
      } else cells.push('');
    }
    rows.push(cells);
  };
  const best = (vals, keys) => Math.max(...keys.map((k) => vals[k]).filter(Number.isFinite));
  const num = (x) => (Number.isFinite(x) ? x : undefined);
  const cmp = (v, test) => (Number.isFinite(v) ? test(v) : undefined);

  for (const n of cfg.workloads.includes('idle') ? cfg.idleNs : []) {
    row(`idle ${n}: server RSS per SM session (kB)`, (r) => num(r.idle?.[n]?.rssPerSessionKb), '↓', '', {
      text: '≤ 15 kB',
      // ≤ 0 means the growth was below the measurement noise (too few sessions): no verdict
      test: (v) => cmp(v.strand, (x) => (x > 0 ? x <= 15 : undefined)),
    });
    row(
      `idle ${n}: server RSS before → after (MB)`,
      (r) => (r.idle?.[n]?.rssBeforeKb ? `${(r.idle[n].rssBeforeKb / 1024).toFixed(1)} → ${(r.idle[n].rssAfterKb / 1024).toFixed(1)}${r.idle[n].rssAfterForcedGc ? ' (GC)' : ''}` : undefined),
    );
    row(`idle ${n}: logins/s (PLAIN+bind+SM)`, (r) => num(r.idle?.[n]?.loginsPerSec), '↑', '', {
      text: '≥ 1.5× best peer',
      test: (v) => (peers.length ? cmp(v.strand, (x) => x >= 1.5 * best(v, peers)) : undefined),
    });
    row(`idle ${n}: server CPU ms per login`, (r) => num(r.idle?.[n]?.serverCpuMsPerLogin), '↓');
    row(`idle ${n}: sessions up / failed`, (r) => (r.idle?.[n] ? (r.idle[n].error ? `error: ${r.idle[n].error.slice(0, 60)}` : `${r.idle[n].ok} / ${r.idle[n].failed}`) : undefined));
  }
  if (cfg.workloads.includes('throughput')) {
    const tp = (r) => r.throughput;
    row('throughput SM on: msgs/s (median)', (r) => num(tp(r)?.sm?.msgsPerSec), '↑', '', {
      text: '≥ ejabberd',
      test: (v) => (names.includes('ejabberd') ? cmp(v.strand, (x) => x >= v.ejabberd) : undefined),
    });
    row('throughput SM on: msgs per server CPU-s', (r) => num(tp(r)?.sm?.msgsPerCpuSec), '↑', '', {
      text: '≥ 2× Prosody, ≥ 1.2× ejabberd',
      test: (v) => {
        const a = names.includes('prosody') ? cmp(v.strand, (x) => x >= 2 * v.prosody) : true;
        const b = names.includes('ejabberd') ? cmp(v.strand, (x) => x >= 1.2 * v.ejabberd) : true;
        return a === undefined || b === undefined ? undefined : a && b;
      },
    });
    row('throughput SM off: msgs/s (median)', (r) => num(tp(r)?.nosm?.msgsPerSec), '↑');
    row('throughput SM off: msgs per server CPU-s', (r) => num(tp(r)?.nosm?.msgsPerCpuSec), '↑');
    row(
      'SM overhead on msgs/s',
      (r) => num(100 * (1 - tp(r).sm.msgsPerSec / tp(r).nosm.msgsPerSec)),
      '↓',
      ' %',
      { text: '≤ 10 %', test: (v) => cmp(v.strand, (x) => x <= 10) },
      { noRatio: true },
    );
    row('SM overhead on CPU per message', (r) => num(100 * (tp(r).nosm.msgsPerCpuSec / tp(r).sm.msgsPerCpuSec - 1)), '↓', ' %', undefined, { noRatio: true });
    row('server CPU % during throughput (SM on)', (r) => num(tp(r)?.sm?.serverCpuPct), '', ' %', undefined, { noRatio: true });
    row('load-client CPU % during throughput (SM on)', (r) => num(tp(r)?.sm?.clientCpuPct), '', ' %', undefined, { noRatio: true });
    row('throughput runs msgs/s (SM on)', (r) => (tp(r)?.sm?.all ? tp(r).sm.all.join(', ') : r.throughputError ? `error: ${r.throughputError.slice(0, 60)}` : undefined));
    row('throughput runs msgs/s (SM off)', (r) => (tp(r)?.nosm?.all ? tp(r).nosm.all.join(', ') : undefined));
  }
  if (cfg.workloads.includes('resume')) {
    const rs = (r) => r.resume;
    row(`resume (${cfg.rounds} rounds): median ms, connect → <resumed/>`, (r) => num(rs(r)?.medianMs), '↓', '', {
      text: '≤ 2 ms',
      test: (v) => cmp(v.strand, (x) => x <= 2),
    });
    row('resume: p90 ms', (r) => num(rs(r)?.p90Ms), '↓');
    row('resume: lost / duplicated', (r) => (rs(r) ? (rs(r).error ? `error: ${rs(r).error}` : `${rs(r).lost} / ${rs(r).duplicated} of ${rs(r).sent}`) : undefined), '', '', {
      text: '0 / 0',
      test: (v) => (typeof v.strand === 'string' && v.strand.includes(' of ') ? v.strand.startsWith('0 / 0 ') : undefined),
    });
    row('resume: failed resumptions', (r) => (rs(r) && !rs(r).error ? `${rs(r).failedResumes} of ${rs(r).rounds}` : undefined));
  }
  if (cfg.workloads.includes('keepalive')) {
    const ka = (r) => r.keepalive;
    row(`keepalive: idle sessions (XEP-0304 negotiated)`, (r) => (ka(r) ? (ka(r).error ? `error: ${ka(r).error.slice(0, 60)}` : `${ka(r).sessions} (${ka(r).negotiated})`) : undefined));
    row(`keepalive: server CPU over ${cfg.keepaliveWindowS} s idle (% of a core)`, (r) => num(ka(r)?.serverCpuPct), '↓', ' %', {
      text: '< 2 %',
      test: (v) => cmp(v.strand, (x) => x < 2),
    });
    row(
      `keepalive: server CPU during the ${Math.round((cfg.keepaliveSettleMs ?? cfg.settleMs) / 1000)} s settle right after the logins (% of a core)`,
      (r) => num(ka(r)?.settleCpuPct),
      '↓',
      ' %',
    );
    row('keepalive: server → client chars / pings answered in window', (r) => (ka(r) && !ka(r).error ? `${ka(r).charsFromServer} / ${ka(r).pingsAnswered}` : undefined));
    row('keepalive: sessions dropped by the server', (r) => (ka(r) && !ka(r).error ? ka(r).unexpectedClose : undefined), '↓');
  }
  row('SCRAM-SHA-1 iteration count (read from the server)', (r) => r.iterations, '', '', undefined, { noRatio: true });

  const head = ['metric', ...names];
  if (hasStrand) head.push(...peers.map((p) => `strand ÷ ${p}`), 'Strand target');
  const table = [
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');

  const v = meta.versions;
  const notes = names.flatMap((n) => [...new Set(results[n].notes ?? [])].map((x) => `- ${n}: ${x}`));
  const missed = checks.filter((c) => c.ok === false).map((c) => c.label);
  return [
    `## ${meta.date.slice(0, 10)} — ${meta.label || 'full run'}`,
    '',
    `- command: \`${meta.command}\``,
    `- versions: ${Object.entries(v).map(([k, x]) => `${k} ${x}`).join(', ')}; Strand git ${meta.git}`,
    `- machine: ${meta.machine}; load average at the end: ${meta.loadavg}; run took ${meta.durationS} s`,
    `- parameters: idle ${cfg.idleNs.join('/')}; ${cfg.messages} msgs × ${cfg.repeat} (window ${cfg.window}, ${cfg.bodyBytes}-byte bodies, <r/> every ${cfg.ackEvery}); resume ${cfg.rounds} rounds × ${cfg.burst} (+${cfg.gap} sent while cut); keepalive ${cfg.keepaliveSessions} sessions, interval ${cfg.keepaliveInterval} s, window ${cfg.keepaliveWindowS} s; load client: ${cfg.workers} worker processes, ${cfg.concurrency} concurrent logins`,
    '',
    table,
    '',
    '↑ higher is better, ↓ lower is better; ratios are Strand ÷ peer.',
    ...(notes.length ? ['', 'Notes:', ...notes] : []),
    ...(hasStrand && checks.length ? ['', `Strand targets missed: ${missed.length ? missed.join('; ') : 'none'}`] : []),
  ].join('\n');
}
