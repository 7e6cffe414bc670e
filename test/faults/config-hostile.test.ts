/**
 * Every option of every role, given every hostile value from the environment: each value the option's
 * rule refuses must stop start-up with a problem naming that option's flag, never a crash or a
 * silently accepted value, and secrets are never echoed. Then all the refusable options at once:
 * every one of them is named in the one error.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, resolveOptions, type OptionSpecs } from '../../src/config/option-spec.js';
import { STATUS_OPTIONS } from '../../src/roles/status.js';
import { SIM_OPTIONS } from '../../src/roles/sim.js';
import { UP_OPTIONS } from '../../src/roles/up.js';
import { WORKER_OPTIONS, workerCrossChecks } from '../../src/roles/worker-options.js';
import { EDGE_NUMBERS, EDGE_STRINGS } from './hostile-json.js';
import { faultFigure } from './figures.js';

const HOSTILE_VALUES = [
  ...EDGE_NUMBERS,
  ...EDGE_STRINGS.filter((value) => value !== ''),
  '-1',
  '65536',
  '99999999999999999999',
  'true',
  'yes',
  'x'.repeat(10_000),
  'http://example.com',
  'redis://',
  'rediss://host:port with spaces',
  'ws://',
  'AAPL,$$$',
  '\u0000',
];

const ROLES: [string, OptionSpecs][] = [
  ['worker', WORKER_OPTIONS],
  ['up', UP_OPTIONS],
  ['sim', SIM_OPTIONS],
  ['status', STATUS_OPTIONS],
];

function flagOf(flag: string): string {
  return flag.split(' ')[0] ?? flag;
}

describe('configuration under hostile values', () => {
  for (const [role, specs] of ROLES) {
    it(`${role}: every refused value names its option, and secrets are not echoed`, () => {
      let tried = 0;
      let refused = 0;
      for (const [name, spec] of Object.entries(specs)) {
        const variable = spec.env[0];
        if (variable === undefined) continue;
        for (const value of HOSTILE_VALUES) {
          tried++;
          const accepted = spec.schema.safeParse(value).success;
          let error: unknown;
          try {
            resolveOptions(specs, {}, { [variable]: value });
          } catch (err) {
            error = err;
          }
          // Blank or non-decimal text is never a number, whatever Number() makes of it.
          if (
            typeof spec.default === 'number' &&
            [' ', '\uFEFF', '\u2028\u2029', '0x10', 'Infinity'].includes(value)
          )
            expect(accepted, `${name}=${JSON.stringify(value)}`).toBe(false);
          if (accepted) continue;
          refused++;
          expect(error, `${name}=${value.slice(0, 40)} refused`).toBeInstanceOf(ConfigError);
          const problems = (error as ConfigError).problems;
          expect(
            problems.some((p) => p.includes(flagOf(spec.flag))),
            `${name}: ${problems.join(' / ')}`,
          ).toBe(true);
          if (spec.secret === true && value.length >= 4)
            expect((error as ConfigError).message.includes(value), `${name} echoed`).toBe(false);
        }
      }
      faultFigure(`config.${role}.values-tried`, tried);
      faultFigure(`config.${role}.values-refused`, refused);
      expect(refused).toBeGreaterThan(0);
    });
  }

  it('worker: every refusable option set badly at once is named in the one error', () => {
    const env: Record<string, string> = {};
    const expected: string[] = [];
    for (const spec of Object.values(WORKER_OPTIONS)) {
      const variable = spec.env[0];
      const bad = HOSTILE_VALUES.find((value) => !spec.schema.safeParse(value).success);
      if (variable === undefined || bad === undefined) continue;
      env[variable] = bad;
      expected.push(flagOf(spec.flag));
    }
    let error: unknown;
    try {
      resolveOptions(WORKER_OPTIONS, {}, env, workerCrossChecks);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    for (const flag of expected) expect((error as ConfigError).message, flag).toContain(flag);
    faultFigure('config.worker.options-refused-at-once', expected.length);
  });
});
