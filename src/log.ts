/**
 * One pino root logger per process, with `role` (and `workerId` for workers) bound. Pretty output when
 * writing to a terminal, JSON lines otherwise. Secrets never reach a log: options that hold them are
 * redacted by path, and adapters mask URLs that carry tokens.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

export const REDACTED_PATHS = [
  'feedKey',
  'feedSecret',
  'adminToken',
  '*.feedKey',
  '*.feedSecret',
  '*.adminToken',
  'password',
  '*.password',
  // ioredis attaches the failed command to a reply error: a refused AUTH carries the Redis password.
  'err.command.args',
  'err.cause.command.args',
  '*.err.command.args',
];

export interface LoggerOptions {
  role: string;
  level: LevelWithSilent;
  /** Fields bound to every line, e.g. `{ workerId }`. */
  bindings?: Record<string, string>;
  /** Pretty-print; defaults to whether stdout is a terminal. */
  pretty?: boolean;
}

export function createLogger(options: LoggerOptions): Logger {
  const pretty = options.pretty ?? process.stdout.isTTY;
  return pino({
    level: options.level,
    base: { role: options.role, pid: process.pid, ...options.bindings },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    ...(pretty
      ? { transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname' } } }
      : {}),
  });
}
