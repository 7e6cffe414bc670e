/**
 * The "Chaos" section of bench/RESULTS.md: `npm run chaos -- --write-results` replaces it, and
 * `npm run bench` (which rewrites the file) carries it over, so neither loses the other's figures.
 */
export const CHAOS_HEADING = '## Chaos';

/** Replaces (or appends) the section, leaving every other section alone. */
export function replaceChaosSection(text: string, section: string): string {
  const body = section.endsWith('\n') ? section : `${section}\n`;
  const start = text.indexOf(`\n${CHAOS_HEADING}\n`);
  if (start < 0) return `${text.trimEnd()}\n\n${body}\n`;
  const next = text.indexOf('\n## ', start + CHAOS_HEADING.length + 2);
  return `${text.slice(0, start + 1)}${body}${next < 0 ? '' : text.slice(next)}`;
}

/** The section in `text`, without a trailing blank line; undefined when there is none. */
export function chaosSection(text: string): string | undefined {
  const start = text.indexOf(`\n${CHAOS_HEADING}\n`);
  if (start < 0) return undefined;
  const next = text.indexOf('\n## ', start + CHAOS_HEADING.length + 2);
  return text.slice(start + 1, next < 0 ? undefined : next).trimEnd();
}
