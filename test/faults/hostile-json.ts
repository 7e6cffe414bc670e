/**
 * Hostile input for the fuzz runs: fast-check arbitraries of frames that are almost right (a valid
 * frame with one field swapped for something nasty), plainly wrong (random bytes, truncations,
 * random JSON), and at the edges JSON allows or does not (NaN, Infinity, -0, 1e308, integers past
 * 2^53, lone surrogates, deep nesting, huge strings and arrays, `__proto__` and `constructor` keys).
 *
 * JSON.stringify cannot write `NaN` or a 40-digit integer, and a real feed can; so a frame is built
 * from a tree whose leaves may be `Raw` tokens, written verbatim by `writeJson`.
 */
import fc from 'fast-check';

/** A token written into the frame text as is: `NaN`, `1e309`, `"\ud800"`, `[[[[...]]]]`. */
export class Raw {
  constructor(readonly text: string) {}
}

export type Tree = null | boolean | number | string | Raw | Tree[] | { [key: string]: Tree };

/** Like JSON.stringify, with `Raw` leaves verbatim and own keys only (so `__proto__` is a key). */
export function writeJson(value: Tree): string {
  if (value instanceof Raw) return value.text;
  if (Array.isArray(value)) return `[${value.map(writeJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .map((key) => `${JSON.stringify(key)}:${writeJson(value[key] ?? null)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Reads a frame into a tree whose `__proto__` keys stay plain keys (JSON.parse already does that). */
export function readTree(text: string): Tree {
  return JSON.parse(text) as Tree;
}

const DEEP = 20_000;

/** Number tokens at and past the edges, several of which are not JSON at all. */
export const EDGE_NUMBERS: readonly string[] = [
  'NaN',
  'Infinity',
  '-Infinity',
  '-0',
  '0',
  '1e308',
  '-1e308',
  '1e309',
  '-1e309',
  '5e-324',
  '1e-400',
  '1.7976931348623157e308',
  '9007199254740992',
  '9007199254740993',
  '-9007199254740993',
  '123456789012345678901234567890',
  '0.1',
  '1e12',
  '999999999999.99',
  '0x10',
  '1_000',
  '01',
  '.5',
  '+1',
];

/** Strings that tend to break code that trusts them. */
export const EDGE_STRINGS: readonly string[] = [
  '',
  ' ',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'NaN',
  'Infinity',
  '-0',
  '1e309',
  '9007199254740993',
  '\u0000',
  '\u2028\u2029',
  '\uFEFF',
  'AAPL\n{"level":60}',
  '${jndi:ldap://x}',
  '../../etc/passwd',
  '*',
  'T.*',
  'BTC-USD',
  'aapl',
];

/** Values that are trouble wherever a field expects something else. */
export const HOSTILE_RAW: readonly Raw[] = [
  ...EDGE_NUMBERS.map((text) => new Raw(text)),
  ...EDGE_STRINGS.map((text) => new Raw(JSON.stringify(text))),
  new Raw('"\\ud800"'),
  new Raw('"\\udfff\\ud800"'),
  new Raw('{"__proto__":{"polluted":"yes"}}'),
  new Raw('{"constructor":{"prototype":{"polluted":"yes"}}}'),
  new Raw('{"toString":1,"valueOf":1}'),
  new Raw('{"toString":{"toString":1}}'),
  new Raw('[]'),
  new Raw('{}'),
  new Raw('null'),
  new Raw('true'),
  new Raw(`${'['.repeat(DEEP)}${']'.repeat(DEEP)}`),
  new Raw(`${'{"a":'.repeat(DEEP)}1${'}'.repeat(DEEP)}`),
  new Raw(JSON.stringify('x'.repeat(200_000))),
  new Raw(`[${new Array(50_000).fill('0').join(',')}]`),
  new Raw(`[${new Array(2_000).fill('"A"').join(',')}]`),
];

/** One hostile leaf: a fixed nasty token, or something random of any JSON type. */
export const hostileValue: fc.Arbitrary<Tree> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_RAW) },
  { weight: 1, arbitrary: fc.double().map((n) => new Raw(Number.isNaN(n) ? 'NaN' : String(n))) },
  { weight: 1, arbitrary: fc.bigInt().map((n) => new Raw(n.toString())) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Tree> },
);

/** Every path to a node of `tree` (the root is `[]`), in a fixed order. */
function paths(
  tree: Tree,
  prefix: (string | number)[] = [],
  out: (string | number)[][] = [],
): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(tree)) tree.forEach((child, i) => paths(child, [...prefix, i], out));
  else if (tree !== null && typeof tree === 'object' && !(tree instanceof Raw)) {
    for (const key of Object.keys(tree)) paths(tree[key] ?? null, [...prefix, key], out);
  }
  return out;
}

function clone(tree: Tree): Tree {
  if (tree instanceof Raw || tree === null || typeof tree !== 'object') return tree;
  if (Array.isArray(tree)) return tree.map(clone);
  const copy: { [key: string]: Tree } = {};
  for (const key of Object.keys(tree)) {
    // defineProperty: a plain assignment to `__proto__` would set the prototype, not a key.
    Object.defineProperty(copy, key, {
      value: clone(tree[key] ?? null),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return copy;
}

function setKey(target: { [key: string]: Tree }, key: string, value: Tree): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

export type MutationKind = 'replace' | 'delete' | 'add-key' | 'wrap' | 'duplicate';

export interface Mutation {
  readonly kind: MutationKind;
  readonly at: number;
  readonly value: Tree;
  readonly key: string;
}

export const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom<MutationKind>(
    'replace',
    'replace',
    'replace',
    'delete',
    'add-key',
    'wrap',
    'duplicate',
  ),
  at: fc.nat(),
  value: hostileValue,
  key: fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'p', 's', 'x', ''),
});

/** `tree` with the mutation applied at the `at`-th node (modulo the node count). */
export function mutate(tree: Tree, m: Mutation): Tree {
  const root = clone(tree);
  const all = paths(root);
  const path = all[m.at % all.length] ?? [];
  if (path.length === 0) {
    if (m.kind === 'wrap') return [root];
    if (m.kind === 'replace') return m.value;
    return root;
  }
  let parent: Tree = root;
  for (const step of path.slice(0, -1)) parent = (parent as Record<string, Tree>)[step] ?? null;
  const last = path[path.length - 1] ?? 0;
  const container = parent as Tree[] & { [key: string]: Tree };
  const current = container[last as number] ?? null;
  switch (m.kind) {
    case 'replace':
      if (Array.isArray(container)) container[last as number] = m.value;
      else setKey(container, String(last), m.value);
      break;
    case 'delete':
      if (Array.isArray(container)) container.splice(last as number, 1);
      else Reflect.deleteProperty(container, String(last));
      break;
    case 'add-key':
      if (
        current !== null &&
        typeof current === 'object' &&
        !Array.isArray(current) &&
        !(current instanceof Raw)
      )
        setKey(current, m.key, m.value);
      break;
    case 'wrap':
      if (Array.isArray(container)) container[last as number] = [current];
      else setKey(container, String(last), [current]);
      break;
    case 'duplicate':
      if (Array.isArray(container)) container.splice(last as number, 0, clone(current));
      break;
  }
  return root;
}

/** How a hostile frame was made, for the per-kind counts in the report. */
export type FrameKind = 'mutated' | 'truncated' | 'bytes' | 'random-json' | 'spliced' | 'edge';

export interface HostileFrame {
  readonly kind: FrameKind;
  readonly frame: string;
}

/**
 * Hostile frames built from `seeds` (valid frames of the protocol under test): mutated, truncated,
 * spliced together, or random bytes decoded as UTF-8 the way the feed client decodes a socket's
 * frame (invalid sequences become U+FFFD).
 */
export function hostileFrames(seeds: readonly string[]): fc.Arbitrary<HostileFrame> {
  const seed = fc.constantFrom(...seeds);
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc.tuple(seed, fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([text, ms]) => ({
        kind: 'mutated' as const,
        frame: writeJson(ms.reduce<Tree>((tree, m) => mutate(tree, m), readTree(text))),
      })),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(seed, fc.nat()).map(([text, at]) => ({
        kind: 'truncated' as const,
        frame: text.slice(0, at % Math.max(1, text.length)),
      })),
    },
    {
      weight: 2,
      arbitrary: fc
        .uint8Array({ maxLength: 600 })
        .map((bytes) => ({ kind: 'bytes' as const, frame: Buffer.from(bytes).toString('utf8') })),
    },
    {
      weight: 1,
      arbitrary: fc.json({ maxDepth: 4 }).map((frame) => ({ kind: 'random-json' as const, frame })),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(seed, seed, fc.nat(), fc.nat()).map(([a, b, i, j]) => ({
        kind: 'spliced' as const,
        frame: a.slice(0, i % Math.max(1, a.length)) + b.slice(j % Math.max(1, b.length)),
      })),
    },
  );
}

/** Fixed edge frames every decoder meets once: the oversized, the empty, the binary, the deep. */
export function edgeFrames(seeds: readonly string[], maxFrameChars: number): HostileFrame[] {
  const first = seeds[0] ?? '{}';
  const frames = [
    '',
    ' ',
    'null',
    '0',
    '""',
    '[]',
    '{}',
    'binary frame',
    '\uFFFD\uFFFD\uFFFD',
    `${'['.repeat(DEEP * 5)}${']'.repeat(DEEP * 5)}`,
    '['.repeat(DEEP * 5),
    `${' '.repeat(maxFrameChars)}${first}`,
    `[${new Array(200_000).fill(first).join(',')}]`.slice(0, maxFrameChars + 10),
    JSON.stringify({ __proto__: null, constructor: { prototype: { polluted: 'yes' } } }),
    '{"__proto__":{"polluted":"yes"}}',
    '[{"__proto__":{"polluted":"yes"}}]',
  ];
  return frames.map((frame) => ({ kind: 'edge' as const, frame }));
}
