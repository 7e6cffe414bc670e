/**
 * Ports for a `tickring up` under test, which gives its workers (and relays) consecutive ports from
 * `--http-port`. A base of `freePort() + n` lies in Linux's ephemeral range (32768-60999), from which
 * every process on the machine draws the local ports of its outgoing connections: by the time a
 * worker binds its port, a Redis or HTTP client elsewhere may hold it, and the worker exits with
 * EADDRINUSE again and again (seen in test/ha/scale.test.ts). Below that range nothing is handed out
 * on its own, so a range found free there stays free unless someone binds it on purpose.
 */
import { createServer } from 'node:net';

const LOWEST = 20_000;
const BELOW_EPHEMERAL = 32_000;

/** A base port with `count` consecutive ports free on 127.0.0.1, below the ephemeral range. */
export async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = LOWEST + Math.floor(Math.random() * (BELOW_EPHEMERAL - LOWEST - count));
    let free = true;
    for (let port = base; free && port < base + count; port++) free = await isFree(port);
    if (free) return base;
  }
  throw new Error(`no ${count} consecutive free ports between ${LOWEST} and ${BELOW_EPHEMERAL}`);
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
