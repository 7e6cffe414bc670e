/**
 * The ring-change channel's subscription against a real Redis. ioredis sends a SUBSCRIBE made while a
 * client is still connecting ahead of that client's ready check, which then fails in subscriber mode
 * (redis/ioredis#2037): the client errors and reconnects. `subscribeToChannel` waits for the ready
 * check first.
 */
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { subscribeToChannel } from '../../src/redis/events.js';
import { REDIS_URL, testRedis } from '../support/redis.js';
import { eventually } from '../support/eventually.js';

describe('subscribing to the ring-change channel', () => {
  const opened: Redis[] = [];
  const channel = `tickring-test:events:${process.pid}`;

  afterEach(() => {
    for (const redis of opened.splice(0)) redis.disconnect();
  });

  it('waits for a connecting client to be ready, so its ready check does not fail', async () => {
    const publisher = testRedis();
    opened.push(publisher);
    for (let attempt = 0; attempt < 5; attempt++) {
      const subscriber = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
      opened.push(subscriber);
      const errors: Error[] = [];
      subscriber.on('error', (err: Error) => errors.push(err));
      // Connected, its ready check not yet answered: where a raw SUBSCRIBE breaks the connection.
      await once(subscriber, 'connect');
      const received: string[] = [];
      await subscribeToChannel(subscriber, channel, (message) => received.push(message));
      await publisher.publish(channel, String(attempt));
      await eventually('the message', () => (received.length > 0 ? received : undefined), 5_000, 10);
      expect(received).toEqual([String(attempt)]);
      expect(errors.map((e) => e.message)).toEqual([]);
      expect(subscriber.status).toBe('ready');
    }
  });

  it('connects a lazy client itself', async () => {
    const subscriber = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    opened.push(subscriber);
    const publisher = testRedis();
    opened.push(publisher);
    const received: string[] = [];
    await subscribeToChannel(subscriber, channel, (message) => received.push(message));
    await publisher.publish(channel, 'lazy');
    await eventually('the message', () => (received.length > 0 ? received : undefined), 5_000, 10);
    expect(received).toEqual(['lazy']);
  });
});
