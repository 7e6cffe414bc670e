/**
 * The relay throughput reader: a bare `ws` client that speaks the relay protocol (hello, subscribe to
 * the first <symbols> symbols), JSON-parses each trades frame and counts. Prints trades per second and
 * the CPU it used (cores) over the window, like `bare-client.ts`.
 *   node --import tsx bench/support/bare-relay-client.ts <url> <warmupMs> <windowMs> <symbols>
 */
import WebSocket from 'ws';
import { generateSymbols } from '../../src/sim/universe.js';

const [url = '', warmup = '2000', window = '5000', symbolCount = '500'] = process.argv.slice(2);
let trades = 0;
let volume = 0;
const socket = new WebSocket(url, { perMessageDeflate: false });
socket.on('open', () => {
  socket.send(JSON.stringify({ op: 'hello', v: 1 }));
  socket.send(JSON.stringify({ op: 'subscribe', s: generateSymbols(Number(symbolCount)) }));
});
socket.on('message', (data: Buffer) => {
  const frame = JSON.parse(data.toString()) as { t: string; d?: [string, number, number][] };
  if (frame.t !== 'trades' || !frame.d) return;
  for (const row of frame.d) volume += row[2];
  trades += frame.d.length;
});
setTimeout(() => {
  const start = trades;
  const startedAt = performance.now();
  const cpuStart = process.cpuUsage();
  setTimeout(() => {
    const ms = performance.now() - startedAt;
    const cpu = process.cpuUsage(cpuStart);
    const rate = ((trades - start) * 1000) / ms;
    const cores = (cpu.user + cpu.system) / 1000 / ms;
    process.stdout.write(`${JSON.stringify({ tradesPerSecond: Math.round(rate), cores, volume })}\n`);
    process.exit(0);
  }, Number(window));
}, Number(warmup));
