/**
 * The query API's baseline: a bare node:http handler returning a fixed JSON body, the same bytes a
 * tickring route returned, with the same headers a tickring answer carries.
 *   node --import tsx bench/support/bare-http.ts <bodyFile>
 * It prints its port on stdout, then serves until killed.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const body = readFileSync(process.argv[2] ?? '');
const server = createServer((_req, res) => {
  res.writeHead(200, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': body.length,
    'cache-control': 'no-store',
  });
  res.end(body);
});
server.keepAliveTimeout = 5_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${typeof address === 'object' && address !== null ? address.port : 0}\n`);
});
