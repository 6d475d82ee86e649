/**
 * Runs the slixmpp prober (test/fixtures/slixmpp_probe.py) on Debian's /usr/bin/python3 with a hard
 * timeout; the child is killed by its PID if it overruns or the test gives up.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** Debian's interpreter (python3-slixmpp); the `python3` in PATH is a pyenv one without it. */
export const DEBIAN_PYTHON = '/usr/bin/python3';
const SCRIPT = join(process.cwd(), 'test', 'fixtures', 'slixmpp_probe.py');
const CA = join(process.cwd(), 'test', '.certs', 'ca.crt');

/** One presence as slixmpp parsed it. */
export interface SlixPresence {
  xml: string;
  from: string;
  to: string;
  type: string | null;
  id: string | null;
  status: string | null;
  show: string | null;
  delay_from: string | null;
  delay_stamp: string | null;
  delay_epoch_ms: number | null;
  error: { type: string; condition: string } | null;
}

export interface SlixResult {
  jid: string | null;
  error?: string;
  results: { target: string; presences: SlixPresence[] }[];
}

/**
 * Logs in as `jid` over STARTTLS and probes each target in turn.
 * @param hardTimeoutMs the child is killed (SIGKILL, by PID) after this long; the script's own
 *   limit is 5 s shorter so that it normally reports first
 */
export function slixmppProbe(port: number, jid: string, targets: string[], hardTimeoutMs = 30_000): Promise<SlixResult> {
  const args = [SCRIPT, '--port', String(port), '--jid', jid, '--ca', CA, '--timeout', String(Math.max(1, hardTimeoutMs / 1000 - 5))];
  for (const t of targets) args.push('--probe', t);
  const child = spawn(DEBIAN_PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid;
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  return new Promise((resolve, reject) => {
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }, hardTimeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (killed) return reject(new Error(`slixmpp prober killed after ${hardTimeoutMs} ms; stderr: ${stderr.slice(-2000)}`));
      let parsed: SlixResult;
      try {
        parsed = JSON.parse(stdout.trim().split('\n').pop() ?? '') as SlixResult;
      } catch {
        return reject(new Error(`slixmpp prober exited ${code} without JSON; stdout: ${stdout}; stderr: ${stderr.slice(-2000)}`));
      }
      if (code !== 0 || parsed.error) {
        return reject(new Error(`slixmpp prober failed (exit ${code}): ${parsed.error}; stderr: ${stderr.slice(-2000)}`));
      }
      resolve(parsed);
    });
  });
}
