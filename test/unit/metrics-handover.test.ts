/**
 * The hand-over counters reach Prometheus: read from the worker's own numbers at scrape time, the
 * buffer overflows (trades a full hand-over buffer dropped) among them.
 */
import { describe, expect, it } from 'vitest';
import { fakeMetrics } from '../integration/http-fake-view.js';

describe('hand-over metrics', () => {
  it('expose what the worker counted, at scrape time', async () => {
    const counted = {
      timeouts: 2,
      fallbacks: 1,
      skipped: 40,
      standbySymbols: 0,
      standbyWarming: 0,
      promotions: 0,
      standIns: 0,
      bufferOverflows: 3_000,
    };
    const metrics = fakeMetrics({ handover: () => counted });
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^tickring_handover_buffer_overflows_total 3000$/m);
    expect(text).toMatch(/^tickring_handover_timeouts_total 2$/m);
    counted.bufferOverflows = 4_000;
    expect(await metrics.registry.metrics()).toMatch(/^tickring_handover_buffer_overflows_total 4000$/m);
  });
});
