/**
 * Long loops of a hand-over (building final checkpoints, loading them) give the event loop a turn
 * every so often, so the feed and the other hand-over loops are not held up behind them.
 */
import { setImmediate as nextMacrotask } from 'node:timers/promises';

/** Lets timers, sockets and other promises run before the caller goes on. */
export function yieldToEventLoop(): Promise<void> {
  return nextMacrotask();
}

/** A loop's running time since it last yielded, against a budget of `sliceMs`. */
export class TimeSlice {
  private started = performance.now();

  constructor(private readonly sliceMs: number) {}

  /** The budget is used up: the loop should yield (`yield`) before it goes on. */
  get spent(): boolean {
    return performance.now() - this.started >= this.sliceMs;
  }

  /** Yields to the event loop and starts a new slice. */
  async yield(): Promise<void> {
    await yieldToEventLoop();
    this.started = performance.now();
  }
}
