/**
 * Child processes for tests (the `strand` CLI, interop peers): output captured, line waits with
 * timeouts, and a kill by PID that is safe to call from `afterAll` whatever state the child is in.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** `Date.now()` at exit. */
  at: number;
}

export class Proc {
  stdout = '';
  stderr = '';
  exit: Exit | undefined;
  readonly exited: Promise<Exit>;
  private waiters: (() => void)[] = [];

  private constructor(readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
      this.notify();
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
      this.notify();
    });
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exit = { code, signal, at: Date.now() };
        resolve(this.exit);
        this.notify();
      });
      child.on('error', (err) => {
        this.stderr += `\n[spawn error] ${err.message}`;
        this.exit ??= { code: null, signal: null, at: Date.now() };
        resolve(this.exit);
        this.notify();
      });
    });
  }

  static spawn(command: string, args: string[], options: SpawnOptions = {}): Proc {
    return new Proc(spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options }));
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`process did not start: ${this.stderr}`);
    return this.child.pid;
  }

  /** Complete stdout lines. */
  lines(): string[] {
    return this.stdout.split('\n').slice(0, -1);
  }

  /** Stdout lines parsed as JSON (lines that are not JSON are skipped). */
  json<T = Record<string, unknown>>(): T[] {
    return this.lines().flatMap((l) => {
      try {
        return [JSON.parse(l) as T];
      } catch {
        return [];
      }
    });
  }

  /**
   * Resolves with the first value `probe` returns that is not undefined, re-checked on every
   * output; rejects if the process exits first or after `timeoutMs`.
   */
  waitFor<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const v = probe();
        if (v !== undefined) {
          done();
          resolve(v);
          return true;
        }
        if (this.exit) {
          done();
          reject(new Error(`process exited (${JSON.stringify(this.exit)}) before ${what}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== listener);
      };
      const listener = () => void check();
      if (!check()) this.waiters.push(listener);
    });
  }

  /** Waits for the exit; rejects after `timeoutMs` (the process is left running: see {@link kill}). */
  waitExit(timeoutMs: number): Promise<Exit> {
    return this.waitFor(() => this.exit, timeoutMs, 'the process to exit');
  }

  /** Sends `signal` to the child's PID if it is still running. */
  signal(signal: NodeJS.Signals): void {
    if (this.exit || this.child.pid === undefined) return;
    try {
      process.kill(this.child.pid, signal);
    } catch {
      /* already gone */
    }
  }

  /**
   * Sends `signal` by PID (a daemon's graceful shutdown), waits up to `graceMs` for the exit, then
   * SIGKILLs it; resolves once it has exited.
   */
  async terminate(signal: NodeJS.Signals, graceMs: number): Promise<void> {
    this.signal(signal);
    try {
      await this.waitExit(graceMs);
    } catch {
      await this.kill();
    }
  }

  /** SIGKILLs the child by PID if it still runs, and waits for its exit. */
  async kill(): Promise<void> {
    if (this.exit || this.child.pid === undefined) return;
    this.signal('SIGKILL');
    await this.exited;
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}
