/**
 * Bytes copied into shared slabs outside the V8 heap, for checkpoint records that live through a
 * whole checkpoint write. The worker builds every changed symbol's record first, then writes them
 * batch by batch over hundreds of milliseconds: held as strings, those megabytes survived the
 * scavenges meanwhile and were copied and promoted, and the heap climbed by hundreds of MiB between
 * full collections. As bytes they cost the collector one small view object each.
 *
 * Slabs rather than a `Buffer` per record: allocating an `ArrayBuffer` per record took more time
 * than encoding it. A slab is freed once every view into it is gone; the records of one checkpoint die
 * together, so slabs do not linger.
 */

/** Bytes per slab; a text longer than an eighth of it gets a buffer of its own. */
const SLAB_BYTES = 256 * 1024;

export class ByteSlab {
  private slab = Buffer.allocUnsafeSlow(0);
  private used = 0;

  /** `Buffer.from(head + body + tail)`, for `body` bytes made here or anywhere. */
  concat(head: string, body: Uint8Array = EMPTY, tail = ''): Buffer {
    const headBytes = Buffer.byteLength(head);
    const length = headBytes + body.length + Buffer.byteLength(tail);
    const out = this.take(length);
    out.write(head, 0, headBytes);
    out.set(body, headBytes);
    out.write(tail, headBytes + body.length);
    return out;
  }

  /** Room for `length` bytes, uninitialized. */
  take(length: number): Buffer {
    if (length > SLAB_BYTES / 8) return Buffer.allocUnsafeSlow(length);
    if (this.used + length > this.slab.length) {
      this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.used = 0;
    }
    const out = this.slab.subarray(this.used, this.used + length);
    this.used += length;
    return out;
  }
}

const EMPTY = new Uint8Array(0);

/** The process's slabs for checkpoint records (one thread writes checkpoints). */
export const CHECKPOINT_SLAB = new ByteSlab();
