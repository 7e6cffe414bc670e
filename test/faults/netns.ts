/**
 * A network namespace joined to this host by two veth pairs, one carrying Redis traffic and one
 * carrying the feed, so the test can cut a worker off from Redis alone (a real partition: the link
 * goes down, packets vanish, no RST tells anyone) and heal it again. Everything stays on this
 * machine: the addresses are private /30s that exist only between the two veth ends.
 *
 * Needs root and `ip` (iproute2); `netnsAvailable()` says whether this machine has both.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Whether this machine lets the test build what it needs: a namespace and a veth pair into it. */
export function netnsAvailable(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    new PartitionableNamespace().remove();
    return true;
  } catch {
    return false;
  }
}

export class PartitionableNamespace {
  readonly name: string;
  /** Host ends of the veth pairs (interface names are at most 15 characters). */
  private readonly redisLink: string;
  private readonly feedLink: string;
  /** The host's address on the Redis link, and on the feed link; the namespace reaches these. */
  readonly redisHost: string;
  readonly feedHost: string;

  constructor() {
    const tag = randomBytes(2).toString('hex');
    const octet = 16 + (parseInt(tag, 16) % 200);
    this.name = `tkr-${tag}`;
    this.redisLink = `tkr${tag}r`;
    this.feedLink = `tkr${tag}f`;
    this.redisHost = `10.231.${octet}.1`;
    this.feedHost = `10.231.${octet}.5`;
    const inside = (args: string[]): string => ip('netns', 'exec', this.name, 'ip', ...args);
    ip('netns', 'add', this.name);
    try {
      inside(['link', 'set', 'lo', 'up']);
      for (const [link, host, peer] of [
        [this.redisLink, this.redisHost, `10.231.${octet}.2`],
        [this.feedLink, this.feedHost, `10.231.${octet}.6`],
      ] as const) {
        const peerName = `${link}n`;
        ip('link', 'add', link, 'type', 'veth', 'peer', 'name', peerName);
        ip('link', 'set', peerName, 'netns', this.name);
        ip('addr', 'add', `${host}/30`, 'dev', link);
        ip('link', 'set', link, 'up');
        inside(['addr', 'add', `${peer}/30`, 'dev', peerName]);
        inside(['link', 'set', peerName, 'up']);
      }
    } catch (err) {
      this.remove();
      throw err;
    }
  }

  /** The command prefix that runs a program inside the namespace. */
  exec(): string[] {
    return ['ip', 'netns', 'exec', this.name];
  }

  /** Cuts the Redis link: nothing crosses it either way until `heal`. */
  partition(): void {
    ip('link', 'set', this.redisLink, 'down');
  }

  heal(): void {
    ip('link', 'set', this.redisLink, 'up');
  }

  remove(): void {
    for (const link of [this.redisLink, this.feedLink]) {
      try {
        ip('link', 'del', link);
      } catch {
        // already gone with the namespace
      }
    }
    try {
      ip('netns', 'del', this.name);
    } catch {
      // never created
    }
  }
}
