// @ts-check
/**
 * Talking to the worker that served this page: same origin only (the page's CSP forbids anything
 * else). Every call has a timeout; the caller decides what a failure means.
 */

/** @typedef {import('./types.js').Cluster} Cluster */

export class HttpError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * `JSON.parse` typed as what it is: anything, to be checked or cast by the caller.
 * @param {string} text
 * @returns {unknown}
 */
export function parseJson(text) {
  return JSON.parse(text);
}

/**
 * GETs JSON from this origin.
 * @param {string} path
 * @param {number} [timeoutMs]
 * @returns {Promise<unknown>}
 */
export async function getJson(path, timeoutMs = 4_000) {
  const response = await fetch(path, {
    headers: { accept: 'application/json' },
    cache: 'no-store',
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!response.ok) {
    let message = `${path} answered ${response.status}`;
    try {
      const body = /** @type {{ error?: { message?: string } }} */ (parseJson(await response.text()));
      if (body.error?.message) message = body.error.message;
    } catch {
      // not JSON
    }
    throw new HttpError(response.status, message);
  }
  return parseJson(await response.text());
}

/**
 * Follows how fresh the data is: `ok()` after every good answer, `fail()` after a failed one. The
 * page shows "live" while answers keep coming, and says how old its data is once they stop.
 */
export class Freshness {
  constructor() {
    /** `Date.now()` of the last good answer; 0 before the first. */
    this.lastOkAt = 0;
    /** Consecutive failures. */
    this.failures = 0;
    /** @type {string} */
    this.lastError = '';
  }

  ok() {
    this.lastOkAt = Date.now();
    this.failures = 0;
    this.lastError = '';
  }

  /** @param {unknown} err */
  fail(err) {
    this.failures++;
    this.lastError = err instanceof Error ? err.message : String(err);
  }

  /** Milliseconds since the last good answer (Infinity before the first). */
  age() {
    return this.lastOkAt === 0 ? Infinity : Date.now() - this.lastOkAt;
  }
}

/**
 * Runs `task` every `periodMs` (never two at once), backing off to `maxMs` while it fails.
 * @param {() => Promise<void>} task
 * @param {{ periodMs: number, maxMs: number, freshness: Freshness }} options
 * @returns {{ stop(): void, now(): void }}
 */
export function poll(task, { periodMs, maxMs, freshness }) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const state = { stopped: false };
  // Read through a call: `stop()` may flip it while the task awaits.
  const isStopped = () => state.stopped;
  let running = false;
  const run = async () => {
    if (state.stopped || running) return;
    running = true;
    clearTimeout(timer);
    try {
      await task();
      freshness.ok();
    } catch (err) {
      freshness.fail(err);
    } finally {
      running = false;
    }
    if (isStopped()) return;
    const delay = freshness.failures === 0 ? periodMs : Math.min(maxMs, periodMs * 2 ** freshness.failures);
    timer = setTimeout(() => void run(), delay);
  };
  void run();
  return {
    stop() {
      state.stopped = true;
      clearTimeout(timer);
    },
    now() {
      void run();
    },
  };
}
