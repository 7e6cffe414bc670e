/**
 * A process that speaks Polygon's handshake and then streams pre-serialized frames as fast as each
 * client reads them (bounded by the socket's send buffer). Run by the ingest benchmarks:
 *   node --import tsx bench/support/frame-server.ts <symbols> <tradesPerFrame> <poolTrades> [all|split]
 * `all` (default): every client gets every symbol's trades, whatever it subscribed to.
 * `split`: each client gets only the symbols it subscribed to (`T.*`: all), from a pool of
 * <poolTrades> trades built for it once its subscriptions stop changing; so several workers of one
 * ring share the feed as they would a provider's.
 * Each frame goes out with its trade times set to the moment it is sent, as a provider's would be:
 * a pool cycled for seconds with fixed times would turn into late trades once their bars complete.
 * It prints its port on stdout, then serves until killed.
 */
import { WebSocketServer, type WebSocket } from 'ws';
import { buildFramePool, TIME_DIGITS, timeOffsets, type FramePool } from './frame-pool.js';

const [symbols = '500', perFrame = '1', poolTrades = '400000', mode = 'all'] = process.argv.slice(2);
const HIGH_WATER = 4 * 1024 * 1024;
/** Subscriptions arrive in several frames; the pool is rebuilt once they have been quiet this long. */
const SETTLE_MS = 100;
const shared =
  mode === 'all' ? buildFramePool(Number(symbols), Number(perFrame), Number(poolTrades)) : undefined;

/** A pool's frames as bytes, with where each trade time is, to be stamped as they are sent. */
interface StampedFrames {
  readonly frames: readonly Buffer[];
  readonly timeOffsets: readonly (readonly number[])[];
}

const stampedPools = new WeakMap<FramePool, StampedFrames>();

function stamped(pool: FramePool): StampedFrames {
  let found = stampedPools.get(pool);
  if (found === undefined) {
    found = {
      frames: pool.frames.map((f) => Buffer.from(f, 'latin1')),
      timeOffsets: pool.frames.map(timeOffsets),
    };
    stampedPools.set(pool, found);
  }
  return found;
}

/**
 * Sets every trade time in `frame` to `time` (its digits). The frame may still be queued in the
 * socket from its last turn only if the whole pool fit under `HIGH_WATER`, which no benchmark's does.
 */
function stamp(frame: Buffer, offsets: readonly number[], time: string): void {
  for (const offset of offsets) frame.write(time, offset, TIME_DIGITS, 'latin1');
}

/** How often a connection without frames yet (its pool still to be built) looks again. */
const IDLE_POLL_MS = 10;

/**
 * Sends frames until `HIGH_WATER` bytes wait in the socket, then sleeps until the last of them is
 * handed to the kernel, whose buffers still hold megabytes for the reader meanwhile. It used to
 * poll with `setImmediate` instead, which kept this process at a full core whatever the reader
 * took: on a 2-core machine that core came out of the reader's share whenever the reader needed
 * help (a worker's Redis, the kernel's loopback work), so the server weighed on the figures it
 * was there to feed.
 */
function stream(socket: WebSocket, pool: () => FramePool | undefined): void {
  let next = 0;
  const pump = (): void => {
    if (socket.readyState !== socket.OPEN) return;
    const current = pool();
    if (current === undefined || current.frames.length === 0) {
      setTimeout(pump, IDLE_POLL_MS);
      return;
    }
    const { frames, timeOffsets: offsets } = stamped(current);
    const time = String(Date.now());
    for (;;) {
      const at = next % frames.length;
      const frame = frames[at]!;
      next = (next + 1) % frames.length;
      stamp(frame, offsets[at]!, time);
      if (socket.bufferedAmount + frame.length < HIGH_WATER) {
        socket.send(frame, { binary: false });
        continue;
      }
      // Called once the frame is written out, or with an error once the socket closed (then the
      // readyState check above ends the stream).
      socket.send(frame, { binary: false }, () => pump());
      return;
    }
  };
  pump();
}

/** The channels of a subscribe/unsubscribe frame's `params`: `T.AAPL,T.MSFT` -> AAPL, MSFT. */
function channels(params: unknown): string[] {
  if (typeof params !== 'string') return [];
  return params
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c.startsWith('T.'))
    .map((c) => c.slice(2));
}

const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
server.on('connection', (socket) => {
  socket.send('[{"ev":"status","status":"connected","message":"Connected Successfully"}]');
  let streaming = false;
  const subscribed = new Set<string>();
  let own: FramePool | undefined;
  let rebuild: NodeJS.Timeout | undefined;
  const start = (): void => {
    if (streaming) return;
    streaming = true;
    stream(socket, () => shared ?? own);
  };
  socket.on('message', (data: Buffer) => {
    const text = data.toString('utf8');
    let message: { action?: unknown; params?: unknown };
    try {
      message = JSON.parse(text) as typeof message;
    } catch {
      return;
    }
    if (message.action === 'auth') {
      socket.send('[{"ev":"status","status":"auth_success","message":"authenticated"}]');
      return;
    }
    if (message.action !== 'subscribe' && message.action !== 'unsubscribe') return;
    if (shared) {
      start();
      return;
    }
    for (const symbol of channels(message.params)) {
      if (message.action === 'subscribe') subscribed.add(symbol);
      else subscribed.delete(symbol);
    }
    own = undefined; // stop sending symbols no longer subscribed at once
    clearTimeout(rebuild);
    rebuild = setTimeout(() => {
      const list = subscribed.has('*') ? Number(symbols) : [...subscribed];
      own = buildFramePool(list, Number(perFrame), Number(poolTrades));
      start();
    }, SETTLE_MS);
  });
  socket.on('close', () => clearTimeout(rebuild));
});
server.on('listening', () => {
  const address = server.address();
  process.stdout.write(`${typeof address === 'object' && address !== null ? address.port : 0}\n`);
});
