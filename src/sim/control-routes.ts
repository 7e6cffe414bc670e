/**
 * The simulator's control API, served as JSON on the same port as its WebSocket feed, so a scenario
 * test or an operator can read the truth and inject faults with curl:
 *
 *   GET  /sim/stats            what was generated and sent (SimStats)
 *   POST /sim/pause            stop the rate timer
 *   POST /sim/resume           start it again
 *   POST /sim/emit?count=N     generate and send exactly N trades now (1..1e6)
 *   POST /sim/drop             terminate every client socket (the same as POST /sim/fault/drop)
 *   POST /sim/fault/<name>?count=N   apply a fault (see `faults.ts`): drop, silent, duplicate,
 *                              malformed, connection-limit, correction, cancel
 *
 * `GET /sim/stats?ids=1` adds, per symbol, every trade id that counts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FAULT_NAMES, isFaultName, MAX_FAULT_COUNT, type FaultName } from './faults.js';
import { FaultUnsupportedError } from './fault-state.js';
import type { SimStats } from './sim-stats.js';
import { sendJson } from '../http/respond.js';

export const MAX_EMIT_COUNT = 1_000_000;

/** The narrow view of the simulator the routes need. */
export interface SimControl {
  stats(options?: { ids?: boolean }): SimStats;
  pause(): void;
  resume(): void;
  emit(count: number): void;
  dropConnections(): number;
  fault(name: FaultName, count?: number): number;
}

interface Route {
  readonly method: 'GET' | 'POST';
  handle(control: SimControl, url: URL): { status: number; body: unknown };
}

function error(status: number, code: string, message: string): { status: number; body: unknown } {
  return { status, body: { error: { code, message } } };
}

/** Parses `count` strictly: digits only, so `1e3`, `12abc` and `-1` are refused rather than coerced. */
export function parseEmitCount(raw: string | null): number | undefined {
  if (raw === null || !/^\d{1,7}$/.test(raw)) return undefined;
  const count = Number(raw);
  return count >= 1 && count <= MAX_EMIT_COUNT ? count : undefined;
}

/** `count` of a fault: absent for the fault's default, else digits only, up to `MAX_FAULT_COUNT`. */
export function parseFaultCount(raw: string | null): number | undefined | 'invalid' {
  if (raw === null) return undefined;
  if (!/^\d{1,6}$/.test(raw)) return 'invalid';
  const count = Number(raw);
  return count <= MAX_FAULT_COUNT ? count : 'invalid';
}

function faultRoute(name: FaultName): Route {
  return {
    method: 'POST',
    handle: (control, url) => {
      const count = parseFaultCount(url.searchParams.get('count'));
      if (count === 'invalid') {
        return error(400, 'bad_request', `count must be an integer from 0 to ${MAX_FAULT_COUNT}`);
      }
      try {
        return { status: 200, body: { fault: name, applied: control.fault(name, count) } };
      } catch (err: unknown) {
        if (err instanceof FaultUnsupportedError) return error(400, 'unsupported', err.message);
        throw err;
      }
    },
  };
}

const FAULT_ROUTES: Record<string, Route> = Object.fromEntries(
  FAULT_NAMES.map((name) => [`/sim/fault/${name}`, faultRoute(name)]),
);

const ROUTES: Readonly<Record<string, Route>> = {
  ...FAULT_ROUTES,
  '/sim/stats': {
    method: 'GET',
    handle: (control, url) => ({
      status: 200,
      body: control.stats({ ids: url.searchParams.get('ids') === '1' }),
    }),
  },
  '/sim/pause': {
    method: 'POST',
    handle: (control) => {
      control.pause();
      return { status: 200, body: { running: false } };
    },
  },
  '/sim/resume': {
    method: 'POST',
    handle: (control) => {
      control.resume();
      return { status: 200, body: { running: control.stats().running } };
    },
  },
  '/sim/emit': {
    method: 'POST',
    handle: (control, url) => {
      const raw = url.searchParams.get('count');
      const count = parseEmitCount(raw);
      if (count === undefined) {
        return error(
          400,
          'bad_request',
          `count must be an integer from 1 to ${MAX_EMIT_COUNT}, got ${raw === null ? 'none' : JSON.stringify(raw)}`,
        );
      }
      control.emit(count);
      return { status: 200, body: { emitted: count } };
    },
  },
  '/sim/drop': {
    method: 'POST',
    handle: (control) => ({ status: 200, body: { dropped: control.dropConnections() } }),
  },
};

export function notFound(res: ServerResponse, url: URL): void {
  sendJson(res, 404, { error: { code: 'not_found', message: `no route for ${url.pathname}` } });
}

/** Answers a request under `/sim/`; returns false when the path is not a control route. */
export function handleControlRequest(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  control: SimControl,
): boolean {
  const route = Object.hasOwn(ROUTES, url.pathname) ? ROUTES[url.pathname] : undefined;
  if (route === undefined) {
    const name = url.pathname.startsWith('/sim/fault/') ? url.pathname.slice('/sim/fault/'.length) : '';
    if (name === '' || isFaultName(name)) return false;
    sendJson(res, 404, {
      error: {
        code: 'not_found',
        message: `no fault ${name.slice(0, 40)}; faults are ${FAULT_NAMES.join(', ')}`,
      },
    });
    return true;
  }
  if (req.method !== route.method) {
    const { status, body } = error(405, 'method_not_allowed', `${url.pathname} accepts ${route.method} only`);
    sendJson(res, status, body, { allow: route.method });
    return true;
  }
  try {
    const { status, body } = route.handle(control, url);
    sendJson(res, status, body);
  } catch (err: unknown) {
    const message = err instanceof Error ? err.message : String(err);
    sendJson(res, 500, { error: { code: 'internal', message } });
  }
  return true;
}
