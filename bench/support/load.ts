/**
 * HTTP load with autocannon, run as its own process (its CLI with `--json`), so the load generator
 * never shares an event loop with the benchmark and is measured the same way against every target.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';

const AUTOCANNON = createRequire(import.meta.url).resolve('autocannon');

export interface LoadResult {
  /** Successful (2xx) answers per second: fast error answers must not flatter a server. */
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Errors, timeouts and non-2xx answers together. */
  readonly failures: number;
  readonly bytesPerRequest: number;
}

interface AutocannonJson {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; max: number };
  throughput: { total: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
}

/**
 * Requests per connection before autocannon opens a new one, for every target alike: below the
 * worker's `maxRequestsPerSocket` (1,000), after which it asks the client to reconnect, which
 * autocannon would otherwise ignore (it keeps sending and counts the 503s it gets).
 */
const RECONNECT_RATE = 500;

export function autocannonCommand(url: string, connections: number, seconds: number): string {
  return `npx autocannon -c ${connections} -d ${seconds} -D ${RECONNECT_RATE} ${url}`;
}

export function load(url: string, connections: number, seconds: number): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [
        AUTOCANNON,
        '--json',
        '-c',
        String(connections),
        '-d',
        String(seconds),
        '-D',
        String(RECONNECT_RATE),
        url,
      ],
      { maxBuffer: 64 * 1024 * 1024 },
      (err, stdout) => {
        if (err) {
          reject(new Error(`autocannon against ${url} failed`, { cause: err }));
          return;
        }
        const out = JSON.parse(stdout) as AutocannonJson;
        resolve({
          requestsPerSecond:
            out.requests.total > 0 ? (out.requests.average * out['2xx']) / out.requests.total : 0,
          p50Ms: out.latency.p50,
          p99Ms: out.latency.p99,
          maxMs: out.latency.max,
          failures: out.errors + out.timeouts + out.non2xx,
          bytesPerRequest: out.requests.total > 0 ? out.throughput.total / out.requests.total : NaN,
        });
      },
    );
  });
}
