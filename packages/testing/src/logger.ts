/**
 * A pino-compatible logger that keeps every entry in memory, for "a warning was logged" assertions.
 */
import type { Logger } from '@strand/core';

/** Pino's log levels, lowest first. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

const LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

/** One captured log call. */
export interface LogEntry {
  readonly level: LogLevel;
  /** The message (`''` when only an object was logged). */
  readonly msg: string;
  /** The merged child bindings and object argument (e.g. `{ err, listener, hook }`). */
  readonly data: Readonly<Record<string, unknown>>;
}

/** Options of {@link TestLogger}. */
export interface TestLoggerOptions {
  /**
   * Also print entries at or above this level to the console (debugging a test). Default: the
   * `STRAND_TEST_LOG` environment variable (a level name), else nothing is printed.
   */
  echo?: LogLevel | false;
}

/**
 * Captures log entries in {@link TestLogger.entries}. Children share the parent's entry list and
 * add their bindings to each entry's `data`.
 */
export class TestLogger implements Logger {
  /** Every entry logged through this logger or its children, in order. */
  readonly entries: LogEntry[];
  private readonly bindings: Readonly<Record<string, unknown>>;
  private readonly echo: LogLevel | false;

  constructor(options: TestLoggerOptions = {}, shared?: { entries: LogEntry[]; bindings: Record<string, unknown> }) {
    this.entries = shared?.entries ?? [];
    this.bindings = shared?.bindings ?? {};
    const env = typeof process !== 'undefined' ? process.env.STRAND_TEST_LOG : undefined;
    this.echo =
      options.echo !== undefined ? options.echo : env && (LEVELS as string[]).includes(env) ? (env as LogLevel) : false;
  }

  private log(level: LogLevel, a: unknown, b?: string): void {
    let msg = '';
    let data: Record<string, unknown> = { ...this.bindings };
    if (typeof a === 'string') msg = a;
    else {
      if (a && typeof a === 'object') data = { ...data, ...(a as Record<string, unknown>) };
      if (typeof b === 'string') msg = b;
    }
    const entry: LogEntry = { level, msg, data };
    this.entries.push(entry);
    if (this.echo && LEVELS.indexOf(level) >= LEVELS.indexOf(this.echo)) {
      // eslint-disable-next-line no-console
      console.log(`[${level}] ${msg}`, data);
    }
  }

  /** Logs at `trace`. */
  readonly trace: Logger['trace'] = (a: string | object, b?: string) => this.log('trace', a, b);
  /** Logs at `debug`. */
  readonly debug: Logger['debug'] = (a: string | object, b?: string) => this.log('debug', a, b);
  /** Logs at `info`. */
  readonly info: Logger['info'] = (a: string | object, b?: string) => this.log('info', a, b);
  /** Logs at `warn`. */
  readonly warn: Logger['warn'] = (a: string | object, b?: string) => this.log('warn', a, b);
  /** Logs at `error`. */
  readonly error: Logger['error'] = (a: string | object, b?: string) => this.log('error', a, b);
  /** Logs at `fatal`. */
  readonly fatal: Logger['fatal'] = (a: string | object, b?: string) => this.log('fatal', a, b);

  /** A child logger sharing the entry list, with extra bindings. */
  child(bindings: Record<string, unknown>): TestLogger {
    return new TestLogger({ echo: this.echo }, { entries: this.entries, bindings: { ...this.bindings, ...bindings } });
  }

  /** Entries at exactly `level`, or at every level when omitted. */
  at(level?: LogLevel): LogEntry[] {
    return level ? this.entries.filter((e) => e.level === level) : [...this.entries];
  }

  /**
   * Entries at `level` whose message (or, for a RegExp, message or JSON of `data`) matches.
   * A string matches as a substring of the message.
   */
  find(level: LogLevel | undefined, pattern?: string | RegExp): LogEntry[] {
    return this.at(level).filter((e) => matches(e, pattern));
  }

  /** True when {@link TestLogger.find} finds at least one entry. */
  has(level: LogLevel | undefined, pattern?: string | RegExp): boolean {
    return this.find(level, pattern).length > 0;
  }

  /** Forgets every captured entry (children included: the list is shared). */
  clear(): void {
    this.entries.length = 0;
  }
}

function matches(e: LogEntry, pattern: string | RegExp | undefined): boolean {
  if (pattern === undefined) return true;
  if (typeof pattern === 'string') return e.msg.includes(pattern);
  if (pattern.test(e.msg)) return true;
  try {
    return pattern.test(JSON.stringify(e.data, (_k, v: unknown) => (v instanceof Error ? v.message : v)));
  } catch {
    return false;
  }
}
