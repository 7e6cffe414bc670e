/**
 * A process that speaks Polygon's handshake and then streams pre-serialized frames as fast as the
 * client reads them (bounded by the socket's send buffer). Run by the ingest benchmark:
 *   node --import tsx bench/support/frame-server.ts <symbols> <tradesPerFrame> <poolTrades>
 * It prints its port on stdout, then serves one client at a time until killed.
 */
import { WebSocketServer, type WebSocket } from 'ws';
import { buildFramePool } from './frame-pool.js';

const [symbols = '500', perFrame = '1', poolTrades = '400000'] = process.argv.slice(2);
const pool = buildFramePool(Number(symbols), Number(perFrame), Number(poolTrades));
const HIGH_WATER = 4 * 1024 * 1024;

function stream(socket: WebSocket): void {
  let next = 0;
  const pump = (): void => {
    if (socket.readyState !== socket.OPEN) return;
    while (socket.bufferedAmount < HIGH_WATER) {
      socket.send(pool.frames[next]!);
      next = (next + 1) % pool.frames.length;
    }
    setImmediate(pump);
  };
  pump();
}

const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
server.on('connection', (socket) => {
  socket.send('[{"ev":"status","status":"connected","message":"Connected Successfully"}]');
  let streaming = false;
  socket.on('message', (data: Buffer) => {
    const text = data.toString('utf8');
    if (text.includes('"auth"'))
      socket.send('[{"ev":"status","status":"auth_success","message":"authenticated"}]');
    else if (text.includes('"subscribe"') && !streaming) {
      streaming = true;
      stream(socket);
    }
  });
});
server.on('listening', () => {
  const address = server.address();
  process.stdout.write(`${typeof address === 'object' && address !== null ? address.port : 0}\n`);
});
