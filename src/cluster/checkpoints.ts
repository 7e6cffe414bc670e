/**
 * Aggregate checkpoints in Redis, fenced per symbol by epoch (see `lua/checkpoint-3.lua` and
 * `lua/claim-4.lua`): a worker writes only while its lease is live, and never over a symbol that a
 * newer epoch has claimed, so a paused or partitioned zombie cannot overwrite its successor.
 *
 * A checkpoint record carries the aggregate, the epoch and owner that wrote it, Redis-independent
 * wall time for staleness display, and the watermark: the de-duplication key of the last trade
 * applied, so a new owner replays only what came after it.
 */
import { PackedCheckpoint, unpackCheckpoint } from '../aggregate/index.js';
import type { RedisClient as Redis } from '../redis/client.js';
import { TickringError } from '../errors.js';
import type { ClusterKeys } from '../redis/keys.js';
import { scriptError, SCRIPT_CODES } from '../redis/scripts.js';
import { parseStreamPosition, START_OF_STREAM, type StreamPosition } from '../ingest/stream-position.js';

export interface CheckpointRecord<A = unknown> {
  readonly v: 1;
  readonly owner: string;
  readonly epoch: number;
  /** Writer's wall-clock time (ms), to tell readers how old the data is. */
  readonly writtenAt: number;
  /** De-duplication key of the last trade applied; `''` when unknown. */
  readonly watermark: string;
  /** True when written by an owner handing the symbol over. */
  readonly final: boolean;
  /**
   * Where the aggregate stands in the symbol's trade stream (see `StreamPosition`); absent in
   * records of older versions, which carry only `watermark`.
   */
  readonly position?: StreamPosition;
  /**
   * A final record whose writer kept applying until its stream passed the new owner's first
   * buffered trade: the position is in the new owner's stream, ahead if not buffered yet.
   */
  readonly overlapped?: boolean;
  readonly aggregate: A;
}

/** What `claim-4.lua` answers for a symbol fenced at a newer epoch than the claim's. */
const CLAIMED_AT_NEWER_EPOCH = 0;

export interface ClaimResult {
  /** Each claimed symbol's last checkpoint; `null` where it has none (or it was unreadable). */
  readonly records: Map<string, CheckpointRecord | null>;
  /** Symbols not claimed: fenced at a newer epoch already (see `CheckpointStore.claim`). */
  readonly newer: string[];
}

/** Where a checkpoint's aggregate stands; records without a position carry only the last key. */
export function checkpointPosition(record: CheckpointRecord): StreamPosition {
  return record.position ?? { ...START_OF_STREAM, key: record.watermark };
}

/**
 * Ends a record's JSON where a packed aggregate follows (see `recordParts`); JSON text never holds a
 * raw NUL.
 */
const PACKED_AGGREGATE_FOLLOWS = 0;

function corruptRecord(symbol: string, problem: string, cause?: unknown): TickringError {
  return new TickringError(
    'TICKRING_ERR_CORRUPT_STATE',
    `checkpoint of ${symbol} ${problem}`,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * A record as Redis holds it (see `recordParts`); the aggregate is left for `parseCheckpoint` to check.
 * `unpack: false` leaves a packed aggregate as its bytes (a `PackedCheckpoint`, which
 * `parseCheckpoint` unpacks), for a reader that may restore it later or never (see `claim`).
 */
export function parseCheckpointRecord(
  raw: string | Buffer,
  symbol: string,
  { unpack = true }: { unpack?: boolean } = {},
): CheckpointRecord {
  const packedAt = typeof raw === 'string' ? -1 : raw.indexOf(PACKED_AGGREGATE_FOLLOWS);
  let value: unknown;
  try {
    value = JSON.parse(packedAt < 0 ? raw.toString() : raw.toString('utf8', 0, packedAt));
  } catch (err) {
    throw corruptRecord(symbol, 'is not JSON', err);
  }
  if (typeof value !== 'object' || value === null) throw corruptRecord(symbol, 'is not an object');
  const record = value as Record<string, unknown>;
  let aggregate = record['aggregate'];
  if (packedAt >= 0) {
    const bytes = (raw as Buffer).subarray(packedAt + 1);
    try {
      // Kept packed, the bytes are copied: a reply that spanned socket reads sits in the Redis
      // parser's shared buffer pool, which later replies overwrite (a restore from there read
      // another reply's bytes, and `test/ha/scale.test.ts` lost trades).
      aggregate = unpack ? unpackCheckpoint(bytes) : new PackedCheckpoint(Buffer.from(bytes));
    } catch (err) {
      throw corruptRecord(symbol, `has an unreadable aggregate: ${(err as Error).message}`, err);
    }
  }
  if (
    record['v'] !== 1 ||
    typeof record['owner'] !== 'string' ||
    typeof record['epoch'] !== 'number' ||
    typeof record['writtenAt'] !== 'number' ||
    typeof record['watermark'] !== 'string' ||
    typeof aggregate !== 'object'
  ) {
    throw corruptRecord(symbol, 'has an unknown shape');
  }
  const position = parseStreamPosition(record['position']);
  return {
    v: 1,
    owner: record['owner'],
    epoch: record['epoch'],
    writtenAt: record['writtenAt'],
    watermark: record['watermark'],
    final: record['final'] === true,
    aggregate,
    ...(position ? { position } : {}),
    overlapped: record['overlapped'] === true,
  };
}

/** A record but its aggregate. */
export type RecordHead = Omit<CheckpointRecord, 'aggregate'>;

/** An aggregate that packs its checkpoint straight into a buffer (`SymbolAggregate`). */
export interface PackingAggregate {
  packedCheckpointLength(): number;
  packCheckpointInto(out: Buffer, at: number): void;
}

const NUL = String.fromCharCode(PACKED_AGGREGATE_FOLLOWS);

/** A number as `JSON.stringify` writes it (`null` where not finite). */
function jsonNumber(value: number): string {
  return Number.isFinite(value) ? String(value) : 'null';
}

/**
 * The JSON a packed aggregate follows in a record (see `recordParts`): `JSON.stringify(head)`,
 * written out by hand for a periodic record's usual head (a position without an identity), since
 * the checkpoint pass makes one per symbol and second and `JSON.stringify` of the nested object
 * was an eighth of the pass. `test/unit/cluster-record-head.test.ts` holds both to the same text.
 */
export function packedHead(head: RecordHead): string {
  const p = head.position;
  if (p === undefined || p.identity !== undefined || head.overlapped === undefined)
    return JSON.stringify(head) + NUL;
  const key = JSON.stringify(p.key);
  const watermark = head.watermark === p.key ? key : JSON.stringify(head.watermark);
  const seq = p.seq === null ? 'null' : jsonNumber(p.seq);
  return (
    `{"v":1,"owner":${JSON.stringify(head.owner)},"epoch":${jsonNumber(head.epoch)},` +
    `"writtenAt":${jsonNumber(head.writtenAt)},"watermark":${watermark},"final":${head.final},` +
    `"position":{"key":${key},"seq":${seq},"timeMs":${jsonNumber(p.timeMs)},"atTime":${jsonNumber(p.atTime)}},` +
    `"overlapped":${head.overlapped}}${NUL}`
  );
}

/**
 * A record as Redis keeps it, in two parts: a packed aggregate (`PackedCheckpoint`, from
 * `SymbolAggregate.checkpointPacked()`) follows the rest of the record's JSON after a NUL byte, as
 * bytes off the V8 heap (see `byte-slab.ts`); any other aggregate is written into the JSON, and
 * there are no bytes.
 */
function recordParts(record: CheckpointRecord): [head: string, packed: Uint8Array | undefined] {
  const { aggregate, ...rest } = record;
  if (!(aggregate instanceof PackedCheckpoint)) return [JSON.stringify(record), undefined];
  return [packedHead(rest), aggregate.bytes];
}

/** Bytes before each record of a batch: the symbol's length and the record's (see `lua/checkpoint-3.lua`). */
const LENGTHS_BYTES = 8;

/** How large the next batch will be: the mean record of the last one sent, per writer's store. */
export interface BatchSizes {
  recordBytes: number;
}

/**
 * One script call's records, as its single argument: per symbol, the two lengths, the symbol and
 * the record (see `lua/checkpoint-3.lua`). Records are written in as they are added, a packing
 * aggregate's straight from its state: one copy, and no object per record.
 */
class RecordBatch {
  size = 0;
  private out: Buffer;
  private used = 0;

  /** Room for `SYMBOLS_PER_WRITE` records of the last batch's mean size, and a quarter more. */
  constructor(private readonly sizes: BatchSizes) {
    this.out = Buffer.allocUnsafe(Math.ceil(1.25 * sizes.recordBytes * SYMBOLS_PER_WRITE));
  }

  add(symbol: string, record: CheckpointRecord): void {
    const [head, packed] = recordParts(record);
    const at = this.begin(symbol, head, packed?.length ?? 0);
    if (packed !== undefined) this.out.set(packed, at);
  }

  addPacking(symbol: string, head: RecordHead, aggregate: PackingAggregate): void {
    const at = this.begin(symbol, packedHead(head), aggregate.packedCheckpointLength());
    aggregate.packCheckpointInto(this.out, at);
  }

  /** The records, to send; their mean size sets the room of the next batch. */
  records(): Buffer {
    this.sizes.recordBytes = Math.ceil(this.used / this.size);
    return this.out.subarray(0, this.used);
  }

  /** Writes a record's lengths, symbol and head; returns where its `packedBytes` go. */
  private begin(symbol: string, head: string, packedBytes: number): number {
    const symbolBytes = Buffer.byteLength(symbol);
    const headBytes = Buffer.byteLength(head);
    const end = this.used + LENGTHS_BYTES + symbolBytes + headBytes + packedBytes;
    if (end > this.out.length) {
      const grown = Buffer.allocUnsafe(Math.max(end, 2 * this.out.length));
      this.out.copy(grown, 0, 0, this.used);
      this.out = grown;
    }
    const out = this.out;
    const at = this.used + LENGTHS_BYTES;
    out.writeUInt32LE(symbolBytes, this.used);
    out.writeUInt32LE(headBytes + packedBytes, this.used + 4);
    out.write(symbol, at);
    out.write(head, at + symbolBytes);
    this.used = end;
    this.size++;
    return end - packedBytes;
  }
}

/**
 * Symbols per checkpoint script call. Redis runs one script at a time: one call carrying 8,000
 * symbols (about 15 MB) held every other client, heartbeats included, long enough for leases to
 * lapse under load. Batches keep each call to a few milliseconds.
 */
const SYMBOLS_PER_WRITE = 200;

/**
 * Writes checkpoints as they are made, `SYMBOLS_PER_WRITE` to a script call (see `CheckpointStore.writer`).
 * Every batch is sent as soon as it is full, not after the previous one's reply: on one connection
 * they still run in order, but without a round trip between each, and Redis runs the first while
 * the next is made. A worker's ~1,000 periodic checkpoints, or a draining worker's ~800 finals, took
 * five round trips in a row, and hand-over commands queued behind.
 */
export class CheckpointWriter {
  private readonly sent: Promise<string[]>[] = [];
  /** Made at the first record, so a writer given none holds no buffer. */
  private batch: RecordBatch | undefined;

  constructor(
    private readonly send: (records: Buffer) => Promise<string[]>,
    private readonly sizes: BatchSizes,
  ) {}

  /** Adds a record; a packed aggregate is copied now. */
  add(symbol: string, record: CheckpointRecord): void {
    (this.batch ??= new RecordBatch(this.sizes)).add(symbol, record);
    this.sendIfFull();
  }

  /** Adds a record whose aggregate is packed now, straight into the batch. */
  addPacking(symbol: string, head: RecordHead, aggregate: PackingAggregate): void {
    (this.batch ??= new RecordBatch(this.sizes)).addPacking(symbol, head, aggregate);
    this.sendIfFull();
  }

  /** Sends the records added so far now, in a batch of their own if it is not full. */
  sendPacked(): void {
    if (this.batch !== undefined) this.sendBatch(this.batch);
  }

  /**
   * Sends what is left; resolves to the symbols refused because a newer epoch owns them, or rejects
   * with `TICKRING_ERR_LEASE_LOST` when this worker holds no live lease.
   */
  async done(): Promise<string[]> {
    this.sendPacked();
    return (await Promise.all(this.sent)).flat();
  }

  private sendIfFull(): void {
    if (this.batch !== undefined && this.batch.size >= SYMBOLS_PER_WRITE) this.sendBatch(this.batch);
  }

  private sendBatch(batch: RecordBatch): void {
    const sending = this.send(batch.records());
    // Rejections reach `done`; this only keeps one that comes before `done` is called from
    // counting as unhandled.
    sending.catch(() => undefined);
    this.sent.push(sending);
    this.batch = undefined;
  }
}

export class CheckpointStore {
  /** Redis commands issued, for the cost figures. */
  writes = 0;
  private readonly sizes: BatchSizes = { recordBytes: 2_048 };

  constructor(
    private readonly redis: Redis,
    private readonly keys: ClusterKeys,
    private readonly workerId: string,
  ) {}

  /**
   * Writes the given checkpoints in fenced script calls. Returns the symbols refused because a
   * newer epoch owns them; throws `TICKRING_ERR_LEASE_LOST` when this worker holds no live lease.
   * `handOver`: final checkpoints of a hand-over (the old owner's, or a standby's standing in for
   * it), refused also where the symbol was fenced at `epoch` already (see `lua/checkpoint-3.lua`).
   */
  async write(
    epoch: number,
    entries: ReadonlyMap<string, CheckpointRecord>,
    handOver = false,
  ): Promise<string[]> {
    const writer = this.writer(epoch, handOver);
    for (const [symbol, record] of entries) writer.add(symbol, record);
    return writer.done();
  }

  /** As `write`, for records added one by one (see `CheckpointWriter`). */
  writer(epoch: number, handOver = false): CheckpointWriter {
    return new CheckpointWriter((records) => this.writeBatch(epoch, records, handOver), this.sizes);
  }

  private async writeBatch(epoch: number, records: Buffer, handOver: boolean): Promise<string[]> {
    this.writes++;
    const reply = await this.redis.tickringCheckpoint(
      this.keys.leases,
      this.keys.checkpointEpochs,
      this.keys.checkpoints,
      this.workerId,
      epoch,
      handOver ? '1' : '0',
      records,
    );
    const [code, ...refused] = reply;
    if (code === SCRIPT_CODES.LEASE_LOST) throw scriptError(SCRIPT_CODES.LEASE_LOST, 'checkpoint');
    return refused.map(String);
  }

  /**
   * Counts one periodic checkpoint pass of this worker as completed: every checkpoint it wrote in
   * the pass is in Redis (sent before, on the same connection).
   */
  async passCompleted(): Promise<void> {
    await this.redis.hincrby(this.keys.checkpointPasses, this.workerId, 1);
  }

  /** How many periodic checkpoint passes each of `workers` completed (`null`: none known). */
  async passes(workers: readonly string[]): Promise<(number | null)[]> {
    if (workers.length === 0) return [];
    const counts = await this.redis.hmget(this.keys.checkpointPasses, ...workers);
    return counts.map((count) => (count === null ? null : Number(count)));
  }

  /**
   * Fences the symbols at `epoch` and returns their last checkpoints (`null`: none). A symbol
   * already fenced at a newer epoch is left alone and listed in `newer`: this worker is behind, and
   * must not go live from what it would read. Corrupt values are reported through `onCorrupt` and
   * treated as absent. Packed aggregates stay packed (see `parseCheckpointRecord`): a new owner
   * restores a quiet symbol's only when first needed, off its go-live path (see `OwnedSymbol`).
   */
  async claim(
    epoch: number,
    symbols: readonly string[],
    onCorrupt: (symbol: string, err: unknown) => void,
  ): Promise<ClaimResult> {
    const records = new Map<string, CheckpointRecord | null>();
    const newer: string[] = [];
    if (symbols.length === 0) return { records, newer };
    const reply = await this.redis.tickringClaimBuffer(
      this.keys.leases,
      this.keys.checkpointEpochs,
      this.keys.checkpoints,
      this.keys.holders,
      this.workerId,
      epoch,
      ...symbols,
    );
    const [code, ...values] = reply;
    if (code === SCRIPT_CODES.LEASE_LOST) throw scriptError(SCRIPT_CODES.LEASE_LOST, 'claim');
    symbols.forEach((symbol, i) => {
      const raw = values[i];
      if (raw === CLAIMED_AT_NEWER_EPOCH) {
        newer.push(symbol);
        return;
      }
      if (!Buffer.isBuffer(raw)) {
        records.set(symbol, null);
        return;
      }
      try {
        records.set(symbol, parseCheckpointRecord(raw, symbol, { unpack: false }));
      } catch (err) {
        onCorrupt(symbol, err);
        records.set(symbol, null);
      }
    });
    return { records, newer };
  }

  /**
   * The symbols whose fence is still below `epoch` (or the symbol's own, `sinceOf`): their previous
   * owner has not written its final checkpoint at that epoch or later yet.
   */
  async unfenced(
    epoch: number,
    symbols: readonly string[],
    sinceOf: (symbol: string) => number = () => epoch,
  ): Promise<string[]> {
    const fences = await this.fences(symbols);
    return symbols.filter((symbol, i) => (fences[i] ?? 0) < sinceOf(symbol));
  }

  /** The worker that claimed each symbol last, in order; `null` where none did. */
  async holders(symbols: readonly string[]): Promise<(string | null)[]> {
    if (symbols.length === 0) return [];
    return this.redis.hmget(this.keys.holders, ...symbols);
  }

  /** Each symbol's fence, in order: the epoch it was last claimed or handed over at; `null` if never. */
  async fences(symbols: readonly string[]): Promise<(number | null)[]> {
    if (symbols.length === 0) return [];
    const fences = await this.redis.hmget(this.keys.checkpointEpochs, ...symbols);
    return fences.map((fence) => (fence === null ? null : Number(fence)));
  }

  /**
   * Reads checkpoints without fencing, in order; `null` where none or unreadable. `unpack: false`
   * leaves packed aggregates as their bytes, for a reader after the heads only.
   */
  async readMany(
    symbols: readonly string[],
    { unpack = true }: { unpack?: boolean } = {},
  ): Promise<(CheckpointRecord | null)[]> {
    if (symbols.length === 0) return [];
    const raws = await this.redis.hmgetBuffer(this.keys.checkpoints, ...symbols);
    return raws.map((raw, i) => {
      if (raw === null) return null;
      try {
        return parseCheckpointRecord(raw, symbols[i] ?? '', { unpack });
      } catch {
        return null;
      }
    });
  }

  /** Reads one symbol's checkpoint without fencing (for answering queries). */
  async read(symbol: string): Promise<CheckpointRecord | null> {
    const raw = await this.redis.hgetBuffer(this.keys.checkpoints, symbol);
    return raw === null ? null : parseCheckpointRecord(raw, symbol);
  }
}
