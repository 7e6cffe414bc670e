/**
 * The ingest baseline: a bare `ws` client that only JSON-parses frames and updates a minimal
 * aggregate (count and volume per symbol). Prints trades per second measured over the window.
 *   node --import tsx bench/support/bare-client.ts <url> <warmupMs> <windowMs>
 */
import WebSocket from 'ws';

interface Minimal {
  count: number;
  volume: number;
  last: number;
}

const [url = '', warmup = '2000', window = '5000'] = process.argv.slice(2);
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
        socket.send('{"action":"subscribe","params":"T.*"}');
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
  setTimeout(() => {
    const rate = ((trades - start) * 1000) / (performance.now() - startedAt);
    process.stdout.write(`${JSON.stringify({ tradesPerSecond: Math.round(rate) })}\n`);
    process.exit(0);
  }, Number(window));
}, Number(warmup));
