/**
 * Room in shared slabs outside the V8 heap, for packed checkpoints that live through a whole write
 * (`SymbolAggregate.checkpointPacked`: a hand-over's finals, built first and then written batch by
 * batch). Held as strings, such megabytes survived the scavenges meanwhile and were copied and
 * promoted, and the heap climbed by hundreds of MiB between full collections. As bytes they cost
 * the collector one small view object each. (The periodic pass packs straight into its script
 * calls' batches instead, see `CheckpointWriter`.)
 *
 * Slabs rather than a `Buffer` per record: allocating an `ArrayBuffer` per record took more time
 * than encoding it. A slab is freed once every view into it is gone; the records of one checkpoint die
 * together, so slabs do not linger.
 */

/** Bytes per slab; a request for more than an eighth of it gets a buffer of its own. */
const SLAB_BYTES = 256 * 1024;

export class ByteSlab {
  private slab = Buffer.allocUnsafeSlow(0);
  private used = 0;

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

/** The process's slabs for packed checkpoints (one thread writes checkpoints). */
export const CHECKPOINT_SLAB = new ByteSlab();
