/**
 * A Polygon-speaking feed at a fixed trade rate, generated on the fly (fresh ids, current or
 * replayed timestamps), for scenarios that need a steady, chosen rate rather than "as fast as it
 * reads":
 *   node --import tsx bench/support/paced-feed.ts <symbols> <tradesPerSecond> <tradesPerFrame> [<backfillMs> <speed> <liveRate>]
 * Symbols take turns (round robin), so every symbol trades at rate/symbols per second. With
 * <backfillMs>, trade times start that far in the past and run <speed> times faster than the clock
 * until they catch up with it, so bars of every interval fill in a short run; from then on trades
 * come at <liveRate> per second (default: the same rate), stamped with the clock. Each client gets every
 * symbol, whatever it subscribed to. A client that falls 64 MiB behind is not sent more until it
 * catches up (those trades are never generated), so `GET /stats` ({ sent }) tells the rate offered.
 * It prints its port on stdout, then serves until killed.
 */
import { createServer } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { generateSymbols } from '../../src/sim/universe.js';
import { tradeEvent } from './frame-pool.js';

const [count = '1000', rate = '10000', perFrame = '50', backfill = '0', speedArg = '1', live = rate] =
  process.argv.slice(2);
const symbols = generateSymbols(Number(count));
const TICK_MS = 10;
const MAX_BUFFERED = 64 * 1024 * 1024;
let sent = 0;

function pace(socket: WebSocket): void {
  const startedAt = Date.now();
  const speed = Number(speedArg);
  const backfillMs = Number(backfill);
  let seq = 0;
  let owed = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    if (socket.readyState !== socket.OPEN) {
      clearInterval(timer);
      return;
    }
    const now = performance.now();
    const wall = Date.now();
    // Replayed time runs `speed` times faster than the clock until it reaches it.
    const replayed = wall - backfillMs + (wall - startedAt) * (speed - 1);
    const tradeTime = Math.min(wall, replayed);
    owed += ((replayed < wall ? Number(rate) : Number(live)) * (now - last)) / 1000;
    last = now;
    if (socket.bufferedAmount > MAX_BUFFERED) {
      owed = 0;
      return;
    }
    const due = Math.floor(owed);
    owed -= due;
    for (let made = 0; made < due;) {
      const events: string[] = [];
      for (let i = 0; i < Number(perFrame) && made < due; i++, made++) {
        seq++;
        events.push(tradeEvent(symbols[seq % symbols.length]!, seq, tradeTime));
      }
      socket.send(`[${events.join(',')}]`);
    }
    sent += due;
  }, TICK_MS);
}

const http = createServer((req, res) => {
  res.writeHead(req.url === '/stats' ? 200 : 404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ sent }));
});
const server = new WebSocketServer({ server: http, perMessageDeflate: false });
server.on('connection', (socket) => {
  socket.send('[{"ev":"status","status":"connected","message":"Connected Successfully"}]');
  let pacing = false;
  socket.on('message', (data: Buffer) => {
    const text = data.toString('utf8');
    if (text.includes('"auth"'))
      socket.send('[{"ev":"status","status":"auth_success","message":"authenticated"}]');
    else if (text.includes('"subscribe"') && !pacing) {
      pacing = true;
      pace(socket);
    }
  });
});
http.listen(0, '127.0.0.1', () => {
  const address = http.address();
  process.stdout.write(`${typeof address === 'object' && address !== null ? address.port : 0}\n`);
});
