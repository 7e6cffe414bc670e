import { describe, expect, it } from 'vitest';
import { ByteSlab } from '../../../src/aggregate/byte-slab.js';

describe('ByteSlab', () => {
  it('gives room of the length asked, an empty one included', () => {
    const slab = new ByteSlab();
    const text = '{"id":"Ł€😀"';
    const room = slab.take(Buffer.byteLength(text));
    expect(room.write(text)).toBe(Buffer.byteLength(text));
    expect(room.toString('utf8')).toBe(text);
    expect(slab.take(0).length).toBe(0);
  });

  it('never lets one text overwrite another, across slabs and for texts too long for a slab', () => {
    const slab = new ByteSlab();
    const texts = Array.from({ length: 400 }, (_, i) => `${i}:`.padEnd(1 + ((i * 7_919) % 40_000), 'x'));
    texts.push('y'.repeat(300_000));
    const made = texts.map((text) => {
      const room = slab.take(text.length);
      room.write(text, 'latin1');
      return room;
    });
    made.forEach((bytes, i) => expect(bytes.toString('latin1')).toBe(texts[i]));
  });
});
