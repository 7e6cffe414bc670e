/**
 * Figures for `docs/reliability.md`. Each test prints its measurements as `FAULT-FIGURE name value`
 * lines; `npx vitest run test/faults 2>&1 | grep FAULT-FIGURE` collects them.
 */
export function faultFigure(name: string, value: string | number): void {
  console.log(`FAULT-FIGURE ${name} ${value}`);
}

/** A fixed seed for every fuzz run, so a failure reproduces; override with TICKRING_FUZZ_SEED. */
export const FUZZ_SEED = Number(process.env['TICKRING_FUZZ_SEED'] ?? 20_251_125);

/** Scales the number of fuzz runs (TICKRING_FUZZ_SCALE=10 for a long run before a release). */
export function fuzzRuns(base: number): number {
  const scale = Number(process.env['TICKRING_FUZZ_SCALE'] ?? 1);
  return Math.max(1, Math.round(base * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}
