/**
 * Reads a V8 `.cpuprofile` (from `node --cpu-prof`) and ranks functions by self time and by total
 * (inclusive) time, and files by self time: the hot-spot list written down in bench/README.md.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface HotSpot {
  readonly name: string;
  readonly where: string;
  readonly selfPct: number;
  readonly totalPct: number;
}

export interface ProfileSummary {
  readonly durationMs: number;
  readonly functions: HotSpot[];
  readonly files: { where: string; selfPct: number }[];
}

/** `file:///work/main/dist/src/x.js` -> `dist/src/x.js`; node internals stay as they are. */
function shortUrl(url: string): string {
  if (url === '') return '(native)';
  // The run's copy of dist/ (see snapshotDist) reads as dist/.
  const copy = url.indexOf('/node_modules/.cache/tickring-bench/');
  if (copy >= 0) return url.slice(copy + '/node_modules/.cache/tickring-bench/'.length);
  const i = url.indexOf('/node_modules/');
  if (i >= 0) return url.slice(i + 1);
  const dist = url.indexOf('/dist/');
  return dist >= 0 ? url.slice(dist + 1) : url.replace(/^file:\/\//, '');
}

export function summarizeProfile(path: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  // Self time per node from the samples and their time deltas (µs); hitCount when absent.
  const self = new Map<number, number>();
  if (profile.samples && profile.timeDeltas) {
    profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas?.[i] ?? 0)));
  } else {
    for (const n of profile.nodes) self.set(n.id, n.hitCount ?? 0);
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0) || 1;
  const key = (n: ProfileNode): string =>
    `${n.callFrame.functionName || '(anonymous)'}\t${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
  const selfBy = new Map<string, number>();
  const fileBy = new Map<string, number>();
  for (const n of profile.nodes) {
    const t = self.get(n.id) ?? 0;
    selfBy.set(key(n), (selfBy.get(key(n)) ?? 0) + t);
    const file = shortUrl(n.callFrame.url);
    fileBy.set(file, (fileBy.get(file) ?? 0) + t);
  }
  // Inclusive time: a node's self time plus its subtree's, counted once per function per stack.
  const totalBy = new Map<string, number>();
  const walk = (id: number, onStack: Set<string>): number => {
    const n = byId.get(id);
    if (!n) return 0;
    let sum = self.get(id) ?? 0;
    const k = key(n);
    const fresh = !onStack.has(k);
    if (fresh) onStack.add(k);
    for (const child of n.children ?? []) sum += walk(child, onStack);
    if (fresh) {
      onStack.delete(k);
      totalBy.set(k, (totalBy.get(k) ?? 0) + sum);
    }
    return sum;
  };
  const root = profile.nodes[0];
  if (root) walk(root.id, new Set());
  const functions = [...selfBy]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, t]) => {
      const [name = '', where = ''] = k.split('\t');
      return { name, where, selfPct: (100 * t) / total, totalPct: (100 * (totalBy.get(k) ?? t)) / total };
    });
  const files = [...fileBy]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 15)
    .map(([where, t]) => ({ where, selfPct: (100 * t) / total }));
  return { durationMs: (profile.endTime - profile.startTime) / 1000, functions, files };
}

/** Functions ranked by total (inclusive) time, for the call paths that own the self time. */
export function inclusiveTop(path: string, filter: (where: string) => boolean, top = 25): HotSpot[] {
  const summary = summarizeProfile(path, 100_000);
  return summary.functions
    .filter((f) => filter(f.where))
    .sort((a, b) => b.totalPct - a.totalPct)
    .slice(0, top);
}
