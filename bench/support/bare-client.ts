/**
 * The ingest baseline: a bare `ws` client that only JSON-parses frames and updates a minimal
 * aggregate (count and volume per symbol). Prints trades per second and the CPU it used (cores)
 * over the window.
 *   node --import tsx bench/support/bare-client.ts <url> <warmupMs> <windowMs> [<symbols> <shard> <shards>]
 * With the last three it subscribes to its shard only (symbol i of the first <symbols> when
 * i % shards == shard), for a `split` frame server; without them to `T.*`.
 */
import WebSocket from 'ws';
import { generateSymbols } from '../../src/sim/universe.js';

interface Minimal {
  count: number;
  volume: number;
  last: number;
}

const [url = '', warmup = '2000', window = '5000', symbolCount, shard = '0', shards = '1'] =
  process.argv.slice(2);
const channels =
  symbolCount === undefined
    ? 'T.*'
    : generateSymbols(Number(symbolCount))
        .filter((_, i) => i % Number(shards) === Number(shard))
        .map((s) => `T.${s}`)
        .join(',');
const aggregates = new Map<string, Minimal>();
let trades = 0;
const socket = new WebSocket(url, { perMessageDeflate: false });
socket.on('message', (data: Buffer) => {
  const events = JSON.parse(data.toString()) as { ev: string; sym: string; p: number; s: number }[];
  for (const event of events) {
    if (event.ev === 'status') {
      if ((event as unknown as { status: string }).status === 'connected')
        socket.send('{"action":"auth","params":"k"}');
      if ((event as unknown as { status: string }).status === 'auth_success')
        socket.send(JSON.stringify({ action: 'subscribe', params: channels }));
      continue;
    }
    let aggregate = aggregates.get(event.sym);
    if (!aggregate) aggregates.set(event.sym, (aggregate = { count: 0, volume: 0, last: 0 }));
    aggregate.count++;
    aggregate.volume += event.s;
    aggregate.last = event.p;
    trades++;
  }
});
setTimeout(() => {
  const start = trades;
  const startedAt = performance.now();
  const cpuStart = process.cpuUsage();
  setTimeout(() => {
    const ms = performance.now() - startedAt;
    const cpu = process.cpuUsage(cpuStart);
    const rate = ((trades - start) * 1000) / ms;
    // cores: CPU time over wall time in the window (1.0 = one core all the time).
    const cores = (cpu.user + cpu.system) / 1000 / ms;
    process.stdout.write(`${JSON.stringify({ tradesPerSecond: Math.round(rate), cores })}\n`);
    process.exit(0);
  }, Number(window));
}, Number(warmup));
