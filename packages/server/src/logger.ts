/**
 * pino logger creation for the host.
 */
import { pino } from 'pino';
import type { Logger } from '@strand/core';

/** Creates the root logger (JSON lines on stdout; `level` as in pino). */
export function createLogger(level: string): Logger {
  return pino({ level, base: { name: 'strand' } }) as unknown as Logger;
}
