/**
 * Turns SIGTERM, SIGINT and the loss of a parent process into one graceful `close()`, bounded in
 * time: whatever the close does, the process exits within `hardExitMs`.
 */
import type { Logger } from '../log.js';

export function onShutdown(log: Logger, close: () => Promise<void>, hardExitMs = 4_000): void {
  let closing = false;
  const shutdown = (reason: string): void => {
    if (closing) return;
    closing = true;
    log.info({ reason }, 'shutting down');
    const timer = setTimeout(() => {
      log.warn({ hardExitMs }, 'shutdown took too long; exiting');
      process.exit(1);
    }, hardExitMs);
    timer.unref();
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // `on`, not `once`: a second signal during the close (a drain finishing sends one) must not fall
  // through to the default action and kill the process mid-close.
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // Started by `tickring up` with an IPC channel: when that parent dies, so do we.
  if (process.send) process.once('disconnect', () => shutdown('parent exited'));
}

/** Runs every step even when one fails, and reports the first failure. */
export async function closeAll(steps: readonly (() => unknown)[]): Promise<void> {
  const failures: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      failures.push(err);
    }
  }
  if (failures.length > 0) throw new AggregateError(failures, `${failures.length} shutdown step(s) failed`);
}
