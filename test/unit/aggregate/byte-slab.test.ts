import { describe, expect, it } from 'vitest';
import { ByteSlab } from '../../../src/aggregate/byte-slab.js';

describe('ByteSlab', () => {
  it('encodes head, body and tail as UTF-8, multi-byte characters included', () => {
    const slab = new ByteSlab();
    const body = slab.concat('{"id":"Ł€😀"');
    expect(body.toString('utf8')).toBe('{"id":"Ł€😀"');
    expect(body.length).toBe(Buffer.byteLength('{"id":"Ł€😀"'));
    expect(slab.concat('[', body, ']').toString('utf8')).toBe('[{"id":"Ł€😀"]');
    expect(slab.concat('').length).toBe(0);
  });

  it('never lets one text overwrite another, across slabs and for texts too long for a slab', () => {
    const slab = new ByteSlab();
    const texts = Array.from({ length: 400 }, (_, i) => `${i}:`.padEnd(1 + ((i * 7_919) % 40_000), 'x'));
    texts.push('y'.repeat(300_000));
    const made = texts.map((text) => slab.concat(text));
    made.forEach((bytes, i) => expect(bytes.toString('latin1')).toBe(texts[i]));
  });
});
