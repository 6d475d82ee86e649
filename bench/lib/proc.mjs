/** /proc readers and process helpers (Linux). */
import { readFileSync, readdirSync, existsSync } from 'node:fs';

const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) on Linux x86-64/arm64

/** VmRSS of `pid` in kB (undefined when the process is gone). */
export function rssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * CPU time of `pid` in seconds, all threads. Nanosecond precision from the sum of
 * /proc/PID/task/TID/schedstat (time on CPU) — utime+stime of /proc/PID/stat only has 10 ms
 * ticks, too coarse for short runs; falls back to it when schedstat is unavailable.
 */
export function cpuSeconds(pid) {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        /* thread exited meanwhile */
      }
    }
    if (ns > 0) return ns / 1e9;
  } catch {
    /* fall through */
  }
  return cpuSecondsStat(pid);
}

/** utime+stime of `pid` in seconds (all threads, including exited ones), from /proc/PID/stat. */
export function cpuSecondsStat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); utime = field 14, stime = field 15
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** Parent PID and command name of `pid`. */
export function statOf(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const comm = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { comm, ppid: Number(rest[1]), state: rest[0] };
  } catch {
    return undefined;
  }
}

/** Direct children of `pid` (by scanning /proc). */
export function childrenOf(pid) {
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const st = statOf(d);
    if (st && st.ppid === pid) out.push({ pid: Number(d), comm: st.comm });
  }
  return out;
}

/** Descendants of `pid` whose comm equals `comm` (breadth first). */
export function findDescendant(pid, comm) {
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift();
    for (const c of childrenOf(p)) {
      if (c.comm === comm) return c.pid;
      queue.push(c.pid);
    }
  }
  return undefined;
}

export function alive(pid) {
  if (!pid) return false;
  if (!existsSync(`/proc/${pid}`)) return false;
  const st = statOf(pid);
  return !!st && st.state !== 'Z';
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits until `fn()` is truthy (polling), or throws after `timeoutMs`. */
export async function waitFor(fn, timeoutMs, what = 'condition', everyMs = 100) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** SIGTERM `pid`, wait up to `graceMs`, then SIGKILL. Only ever the PID given. */
export async function stopPid(pid, graceMs = 10000) {
  if (!alive(pid)) return 'gone';
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return 'gone';
  }
  const end = Date.now() + graceMs;
  while (Date.now() < end) {
    if (!alive(pid)) return 'terminated';
    await sleep(100);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  await sleep(200);
  return 'killed';
}

/** Whether a TCP port on 127.0.0.1 is free (nothing listening). */
export async function portFree(port) {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export async function portOpen(port) {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Current soft open-file limit of this process (from /proc/self/limits). */
export function openFileLimit() {
  const m = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m ? { soft: m[1], hard: m[2] } : undefined;
}
