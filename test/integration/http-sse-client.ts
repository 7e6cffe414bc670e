/**
 * A minimal Server-Sent Events reader for tests: collects parsed `update` events from a stream until
 * the caller has enough or the time is up, then disconnects.
 */
export interface StreamEvent {
  readonly id: string;
  readonly event: string;
  readonly data: {
    symbol: string;
    trades: number;
    volume: number;
    owner: string;
    answeredBy: string;
    forwardedTo?: string;
  };
}

/** Reads an SSE response, collecting parsed events, until `enough` says so or the time is up. */
export async function readEvents(
  url: string,
  enough: (events: readonly StreamEvent[]) => boolean,
  timeoutMs = 5_000,
): Promise<{ status: number; contentType: string | null; events: StreamEvent[] }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const response = await fetch(url, { signal: controller.signal });
  const events: StreamEvent[] = [];
  if (!response.body || response.status !== 200) {
    clearTimeout(timer);
    await response.body?.cancel();
    return { status: response.status, contentType: response.headers.get('content-type'), events };
  }
  const decoder = new TextDecoder();
  let buffered = '';
  try {
    for await (const chunk of response.body) {
      buffered += decoder.decode(chunk as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const fields = new Map<string, string>();
        for (const line of block.split('\n')) {
          if (line.startsWith(':') || line === '') continue;
          const colon = line.indexOf(':');
          fields.set(line.slice(0, colon), line.slice(colon + 1).trimStart());
        }
        const data = fields.get('data');
        if (data !== undefined)
          events.push({
            id: fields.get('id') ?? '',
            event: fields.get('event') ?? '',
            data: JSON.parse(data),
          });
      }
      if (enough(events)) break;
    }
  } catch (err) {
    if (!controller.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return { status: response.status, contentType: response.headers.get('content-type'), events };
}
