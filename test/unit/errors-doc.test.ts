import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';

describe('docs/errors.md', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const documented = [...doc.matchAll(/`(TICKRING_ERR_[A-Z_]+)`/g)].map((m) => m[1]);

  it('documents every error code the code defines', () => {
    for (const code of Object.keys(ERROR_CODES)) expect(documented).toContain(code);
  });

  it('documents no code the code does not define', () => {
    for (const code of documented) expect(Object.keys(ERROR_CODES)).toContain(code);
  });
});
