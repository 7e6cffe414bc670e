/**
 * The Polygon decoder's fast path (`polygon-scan.ts`) against its general path (`JSON.parse`): for
 * every frame, the session must make exactly the sink calls the general path makes, and the fast
 * path must take the frames it is meant for (or it would be no faster).
 */
import { describe, expect, it } from 'vitest';
import { scanNumber, scanned } from '../../../feeds/json-scan.js';
import { decodeParsed, polygon } from '../../../feeds/polygon.js';
import { NOT_SCANNED, scanPolygonTrades } from '../../../feeds/polygon-scan.js';
import { StringInterner } from '../../../feeds/string-intern.js';
import { makeTrade } from '../../../feeds/trade.js';
import { Prng } from '../../../src/sim/prng.js';
import { decodeAll, loadFixture, mutations, RecordingSink, serverSamples, type Call } from './support.js';

const session = () => polygon.createSession({ key: 'KEY', secret: '' });

function general(frame: string): Call[] {
  const sink = new RecordingSink();
  decodeParsed(frame, sink);
  return sink.calls;
}

function expectSameAsGeneral(frame: string): void {
  expect(decodeAll(session(), frame), frame).toEqual(general(frame));
}

function scans(frame: string): boolean {
  return scanPolygonTrades(frame, []) !== NOT_SCANNED;
}

const random = new Prng(20261125);
const pick = <T>(items: readonly T[]): T => items[random.int(0, items.length - 1)] as T;

function numberText(): string {
  return pick([
    () => String(random.int(1, 100_000)),
    () => (random.next() * 1000).toFixed(random.int(0, 6)),
    () => String(random.next() * 10_000), // up to 17 significant digits
    () => `0.${'0'.repeat(random.int(0, 8))}${random.int(1, 999)}`,
    () => (random.next() * 1e-3).toFixed(18),
    () => '123456789012345.5',
    () => '9007199254740993',
    () => '1e2',
    () => '-5',
    () => '0',
  ])();
}

/** A trade event with its keys in random order, optional fields present or not, odd spacing. */
function tradeEvent(): string {
  const ws = () => pick(['', '', '', ' ', '\n ', '\t']);
  const fields: [string, string][] = [
    ['ev', '"T"'],
    ['sym', `"${pick(['AAPL', 'MSFT', 'BRK.B', 'X', 'GOOGL', 'bad', 'A B', 'SPY'])}"`],
    ['i', `"${pick([String(random.int(1, 1e9)), 'abc', '', 'x'.repeat(65), 'a\\"b', '✓'])}"`],
    ['p', numberText()],
    ['s', numberText()],
    ['t', pick([String(1_700_000_000_000 + random.int(0, 1e9)), '1700000000000.5', '5', '"1"'])],
  ];
  if (random.chance(0.8)) fields.push(['x', pick(['4', '12', '300', '-1', '1.5', '"4"', 'null', 'true'])]);
  if (random.chance(0.8)) fields.push(['q', pick([String(random.int(0, 1e9)), '1.5', 'null', '"7"', '1e3'])]);
  if (random.chance(0.7))
    fields.push([
      'c',
      pick(['[14,41]', '[ 37 ]', '[]', '[1.5]', 'null', '[300, 2, 7]', '[0,0,0,0,0,0,0]', '[-0]']),
    ]);
  if (random.chance(0.5)) fields.push(['z', pick(['3', '"a"', 'false', '{"a":1}', '[1]'])]);
  if (random.chance(0.05)) fields.push(['p', numberText()]); // a repeated key
  for (let i = fields.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    [fields[i], fields[j]] = [fields[j] as [string, string], fields[i] as [string, string]];
  }
  return `{${fields.map(([k, v]) => `${ws()}"${k}"${ws()}:${ws()}${v}${ws()}`).join(',')}}`;
}

function frame(): string {
  const events = Array.from({ length: random.int(0, 5) }, () =>
    random.chance(0.05)
      ? '{"ev":"status","status":"success","message":"subscribed to: T.MSFT"}'
      : tradeEvent(),
  );
  return `${pick(['', ' '])}[${events.join(',')}]${pick(['', '\n'])}`;
}

describe('Polygon fast decode path', () => {
  it('takes plain trade frames without falling back', () => {
    expect(
      scans(
        '[{"ev":"T","sym":"AAPL","i":"1","x":4,"p":100.25,"s":100,"c":[14,41],"t":1700000000000,"q":7,"z":3}]',
      ),
    ).toBe(true);
    expect(scans(' [ ]\n')).toBe(true);
    expect(scans('[{"ev":"T","sym":"AAPL","i":"1","p":1,"s":1,"t":1700000000000}]')).toBe(true);
  });

  it('leaves statuses, invalid trades and unusual JSON to the general path', () => {
    for (const text of [
      '[{"ev":"status","status":"connected","message":"Connected Successfully"}]',
      '[{"ev":"T","sym":"AAPL","i":"1","p":-1,"s":1,"t":1700000000000}]',
      '[{"ev":"T","sym":"AAPL","i":"1","p":1e2,"s":1,"t":1700000000000}]',
      '[{"ev":"T","sym":"A\\u0041","i":"1","p":1,"s":1,"t":1700000000000}]',
      '[{"ev":"T","ev":"T","sym":"AAPL","i":"1","p":1,"s":1,"t":1700000000000}]',
      '[{"ev":"T","sym":"AAPL","i":"1","p":1,"s":1,"t":1700000000000}]x',
      '[{}]',
      '{}',
      '',
    ]) {
      expect(scans(text), text).toBe(false);
      expectSameAsGeneral(text);
    }
  });

  it('decodes every fixture frame exactly as the general path', () => {
    for (const sample of serverSamples(loadFixture('polygon'))) expectSameAsGeneral(sample.raw);
  });

  it('decodes generated frames exactly as the general path, bit for bit', () => {
    let fast = 0;
    for (let n = 0; n < 3_000; n++) {
      const text = frame();
      if (scans(text)) fast++;
      const calls = decodeAll(session(), text);
      expect(calls, text).toEqual(general(text));
      // Bit for bit: prices and sizes compared with Object.is (also tells 0 from -0).
      const twins = general(text);
      calls.forEach((call, index) => {
        const twin = twins[index];
        if (call[0] !== 'trade' || twin?.[0] !== 'trade') return;
        expect(Object.is(twin[1].price, call[1].price) && Object.is(twin[1].size, call[1].size)).toBe(true);
      });
    }
    expect(fast).toBeGreaterThan(100);
  });

  it("gives one session frame after frame the general path's calls, whatever the previous frame left", () => {
    // The session reuses its scratch array of trades and the scanner its condition codes: a frame
    // with fewer trades or codes than the one before must not hand on any of the older ones.
    const base =
      '[{"ev":"T","sym":"AAPL","i":"5096","x":10,"p":161.87,"s":300,"c":[14,41,37],"t":1651684192462,"q":4009402,"z":3},' +
      '{"ev":"T","sym":"MSFT","i":"72815","x":12,"p":0.5,"s":1,"c":[12],"t":1651684192536,"q":4009408}]';
    const frames = [base, ...mutations(base, 500, 11)];
    for (let n = 0; n < 1_500; n++) frames.push(frame());
    // Past the scratch array's bound, and back to small frames.
    const event = (k: number) => `{"ev":"T","sym":"SPY","i":"${k + 1}","p":1.5,"s":100,"t":1700000000000}`;
    frames.push(`[${Array.from({ length: 1_500 }, (_, k) => event(k)).join(',')}]`);
    frames.push('[]', base, '[]');
    const shared = session();
    let expected: Call[] = [];
    let scanned = 0;
    for (const text of frames) {
      if (scans(text)) scanned++;
      expected = expected.concat(general(text));
    }
    expect(scanned).toBeGreaterThan(100);
    expect(decodeAll(shared, ...frames)).toEqual(expected);
  });

  it('writes the trades of a frame from the start of a reused array, and counts them', () => {
    const out = Array.from({ length: 5 }, () => makeTrade({ symbol: 'OLD', price: 1, size: 1, timeMs: 1 }));
    const text =
      '[{"ev":"T","sym":"AAPL","i":"1","x":4,"p":100.25,"s":100,"c":[14],"t":1700000000000,"q":7}]';
    expect(scanPolygonTrades(text, out)).toBe(1);
    expect(out[0]?.symbol).toBe('AAPL');
    expect(out[0]?.conditions).toEqual(['14']);
    expect(out[1]?.symbol).toBe('OLD');
    expect(scanPolygonTrades(' [ ]', out)).toBe(0);
    expect(scanPolygonTrades('[{"ev":"status"}]', out)).toBe(NOT_SCANNED);
  });

  it('decodes mutated frames exactly as the general path', () => {
    const base =
      '[{"ev":"T","sym":"AAPL","i":"5096","x":10,"p":161.87,"s":300,"c":[14,41],"t":1651684192462,"q":4009402,"z":3},' +
      '{"ev":"T","sym":"MSFT","i":"72815","x":12,"p":0.5,"s":1,"t":1651684192536,"q":4009408}]';
    for (const text of mutations(base, 3_000, 7)) expectSameAsGeneral(text);
  });

  it('reads numbers as JSON.parse does', () => {
    const texts = [
      '0',
      '-0',
      '1',
      '0.1',
      '161.87',
      '0.000001',
      '999999999999999',
      '1234567890123456789',
      '3.14159265358979323846',
      '100.50',
      '0.30000000000000004',
    ];
    for (let n = 0; n < 2_000; n++)
      texts.push(String(random.next() * 10 ** random.int(-8, 12)).replace(/e.*$/, ''));
    for (const text of texts) {
      expect(scanNumber(text, 0)).toBe(text.length);
      expect(Object.is(scanned.value, JSON.parse(text) as number), text).toBe(true);
    }
    for (const text of ['', '-', '01', '1.', '.5', '1e5', '+1'])
      expect(scanNumber(text, 0), text).toBeLessThan(text.length === 0 ? 0 : text.length);
  });
});

describe('StringInterner', () => {
  it('hands out one string per text, validated once, and grows', () => {
    let checks = 0;
    const interner = new StringInterner(
      (text) => {
        checks++;
        return /^[A-Z]+$/.test(text);
      },
      10_000,
      2,
    );
    const names = Array.from(
      { length: 500 },
      (_, i) => `S${i.toString(36).toUpperCase().replace(/\d/g, 'Q')}`,
    );
    const first = names.map((name) => interner.get(`[${name}]`, 1, name.length + 1));
    const again = names.map((name) => interner.get(`xx${name}`, 2, name.length + 2));
    for (let i = 0; i < names.length; i++) {
      expect(first[i]).toBe(names[i]);
      expect(again[i]).toBe(first[i]);
    }
    expect(interner.get('a1', 0, 2)).toBeUndefined();
    expect(interner.get('a1', 0, 2)).toBeUndefined();
    expect(checks).toBe(new Set(names).size + 2);
  });

  it('stops remembering past its bound but still answers', () => {
    const interner = new StringInterner(() => true, 3, 2);
    for (const name of ['A', 'B', 'C', 'D', 'E']) expect(interner.get(name, 0, 1)).toBe(name);
    expect(interner.size).toBe(3);
  });

  it('takes a string from elsewhere as the one it hands out, once, and never one it refuses', () => {
    let checks = 0;
    const interner = new StringInterner((text) => {
      checks++;
      return /^[A-Z]+$/.test(text);
    });
    expect(interner.canonical('AAPL')).toBe('AAPL');
    expect(interner.size).toBe(1);
    // The frame's text finds the string held, without validating it again; so does a second call.
    expect(interner.get('["AAPL"]', 2, 6)).toBe('AAPL');
    expect(interner.canonical('AAPL')).toBe('AAPL');
    expect(interner.size).toBe(1);
    expect(checks).toBe(1);
    expect(interner.canonical('a-1')).toBe('a-1');
    expect(interner.size).toBe(1);
  });
});
