/**
 * The market simulator (`tickring sim`, the built CLI) as a child process, driven through its
 * control API. A separate process, so generating trades never stalls the benchmark's own clock and
 * polling, and its CPU is measured apart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { SimStats } from '../../src/sim/sim-stats.js';
import { CLI, json, stop, until } from './processes.js';

export interface SimProcess {
  readonly child: ChildProcess;
  /** `ws://127.0.0.1:PORT/stocks` */
  readonly wsUrl: string;
  readonly httpUrl: string;
  stats(): Promise<SimStats>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  close(): Promise<void>;
}

export interface SimSpec {
  readonly symbols: number;
  /** Trades per second over all symbols. */
  readonly rate: number;
  /** Zipf exponent of per-symbol rates (0: uniform). Default 1, the simulator's. */
  readonly skew?: number;
  readonly seed?: number;
  readonly paused?: boolean;
  /** Provider protocol to speak. Default `polygon`, the simulator's. */
  readonly protocol?: string;
}

export async function startSim(spec: SimSpec): Promise<SimProcess> {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'sim',
      '--protocol',
      spec.protocol ?? 'polygon',
      '--port',
      '0',
      '--symbols',
      String(spec.symbols),
      '--rate',
      String(spec.rate),
      '--skew',
      String(spec.skew ?? 1),
      '--seed',
      String(spec.seed ?? 1),
      '--log-level',
      'info',
      ...(spec.paused ? ['--paused'] : []),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    // Only the start-up lines are needed; later ones (slow consumers) go to stderr for the reader.
    if (output.length < 10_000) output += chunk.toString('utf8');
    else if (chunk.includes('"level":40') || chunk.includes('"level":50'))
      process.stderr.write(`[sim] ${chunk.toString()}`);
  });
  const wsUrl = await until(
    'the simulator to listen',
    () => {
      if (child.exitCode !== null) throw new Error(`simulator exited with ${child.exitCode}`);
      return /"url":"(ws:\/\/[^"]+)"/.exec(output)?.[1];
    },
    30_000,
    20,
  );
  const httpUrl = wsUrl.replace(/^ws:/, 'http:').replace(/\/[^/]*$/, '');
  return {
    child,
    wsUrl,
    httpUrl,
    stats: () => json<SimStats>(`${httpUrl}/sim/stats`),
    pause: async () => {
      await json(`${httpUrl}/sim/pause`, { method: 'POST' });
    },
    resume: async () => {
      await json(`${httpUrl}/sim/resume`, { method: 'POST' });
    },
    close: () => stop(child),
  };
}
