/**
 * When each worker was down, to tell a failure that a symbol's standby survived from one it shared:
 * with `--replicas 2` a symbol has two copies, and only the first kind is held to losing nothing.
 */
export class DownSpans {
  private readonly spans: { readonly id: string; readonly from: number; to: number }[] = [];

  /** Down from `at` (killed, or stopped) until `up`. */
  down(id: string, at: number): void {
    this.spans.push({ id, from: at, to: Infinity });
  }

  /** Running again, as a copy: restarted, resumed, or rejoined once reaped. */
  up(id: string, at: number): void {
    for (const span of this.spans) if (span.id === id && span.to === Infinity) span.to = at;
  }

  /** Whether `id` was down at any moment from `from` to `to`. */
  wasDown(id: string, from: number, to: number): boolean {
    return this.spans.some((span) => span.id === id && span.from <= to && span.to >= from);
  }
}
