/**
 * The HTTP layer's view of a worker (see `src/http/cluster-view.ts`).
 */
import type { ClusterView, Readiness, SymbolSummary } from '../http/cluster-view.js';
import type { Worker } from './worker.js';

export function workerView(worker: Worker): ClusterView {
  return {
    workerId: worker.id,
    epoch: () => worker.actingEpoch,
    assignment: () => worker.membership.assignment,
    localSnapshot(symbol) {
      const owned = worker.owned.get(symbol);
      return owned?.state === 'live' ? owned.aggregate.snapshot() : undefined;
    },
    ownsAt(symbol, minEpoch) {
      return worker.actingEpoch >= minEpoch && worker.owned.get(symbol)?.state === 'live';
    },
    localSummaries(): SymbolSummary[] {
      const summaries: SymbolSummary[] = [];
      for (const [symbol, owned] of worker.owned.entries()) {
        if (owned.state === 'live')
          summaries.push({ symbol, owner: worker.id, trades: owned.aggregate.snapshot().trades });
      }
      return summaries;
    },
    readCheckpoint: (symbol) => worker.checkpoints.read(symbol),
    refreshRing: () => worker.membership.refreshNow(),
    readiness(): Readiness {
      const reasons: string[] = [];
      if (worker.status !== 'ready') reasons.push(`worker is ${worker.status}`);
      if (!worker.membership.leaseValid) reasons.push('no valid lease in the ring');
      if (worker.feed.status !== 'ready') reasons.push(`feed is ${worker.feed.status}`);
      return { ready: reasons.length === 0, reasons };
    },
  };
}
