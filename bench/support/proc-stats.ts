/**
 * CPU time and resident memory of a process, read from Linux's /proc (the benchmarks run on Linux;
 * elsewhere these return NaN and the figures say so).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`, almost always 100). */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User plus system CPU seconds the process has used so far (utime + stime). */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; fields are counted after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks();
  } catch {
    return NaN;
  }
}

/** Resident set size in bytes (VmRSS). */
export function rssBytes(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Measures CPU used by several processes over a window: cores busy on average, per process. */
export class CpuMeter {
  private readonly start: number[];
  private readonly startedAt = performance.now();

  constructor(private readonly pids: readonly (number | undefined)[]) {
    this.start = pids.map(cpuSeconds);
  }

  /** Average cores each process kept busy since construction (1.0 = one core all the time). */
  cores(): number[] {
    const seconds = (performance.now() - this.startedAt) / 1000;
    return this.pids.map((pid, i) => (cpuSeconds(pid) - (this.start[i] ?? NaN)) / seconds);
  }
}

/** Busy and total jiffies of the whole machine, from the first line of /proc/stat. */
function machineJiffies(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const values = line.trim().split(/\s+/).slice(1).map(Number);
    const total = values.reduce((a, b) => a + b, 0);
    // idle and iowait are fields 4 and 5.
    return { busy: total - (values[3] ?? 0) - (values[4] ?? 0), total };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

/**
 * Cores the whole machine kept busy over a window, whoever used them: beside the benchmark's own
 * processes it shows how much else ran at the same time (this machine is shared).
 */
export class MachineCpu {
  private readonly start = machineJiffies();
  private readonly startedAt = performance.now();

  busyCores(): number {
    const now = machineJiffies();
    return (now.busy - this.start.busy) / clockTicks() / ((performance.now() - this.startedAt) / 1000);
  }
}

/**
 * CPU used by a changing set of processes (workers that join, leave and crash): each is sampled
 * every 500 ms, and its last reading counts once it is gone (at most 500 ms of it is missed).
 */
export class CpuTracker {
  private readonly first = new Map<number, number>();
  private readonly last = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;
  private readonly startedAt = performance.now();

  constructor() {
    this.timer = setInterval(() => this.sample(), 500);
    this.timer.unref();
  }

  track(pid: number | undefined): void {
    if (pid === undefined || this.first.has(pid)) return;
    const now = cpuSeconds(pid);
    if (!Number.isFinite(now)) return;
    this.first.set(pid, now);
    this.last.set(pid, now);
  }

  private sample(): void {
    for (const pid of this.first.keys()) {
      const now = cpuSeconds(pid);
      if (Number.isFinite(now)) this.last.set(pid, now);
    }
  }

  /** Average cores all tracked processes kept busy since construction; stops sampling. */
  stop(): number {
    this.sample();
    clearInterval(this.timer);
    let used = 0;
    for (const [pid, first] of this.first) used += (this.last.get(pid) ?? first) - first;
    return used / ((performance.now() - this.startedAt) / 1000);
  }
}

/**
 * CPU time the process's threads have run so far (ms), from each thread's schedstat (nanoseconds):
 * fine enough for windows of a few hundred milliseconds, where /proc/<pid>/stat counts in 10 ms
 * ticks. The threads that ended meanwhile are missed.
 */
export function threadCpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    let ns = 0;
    for (const thread of readdirSync(`/proc/${pid}/task`))
      ns += Number(readFileSync(`/proc/${pid}/task/${thread}/schedstat`, 'utf8').split(' ')[0]);
    return ns / 1e6;
  } catch {
    return NaN;
  }
}
