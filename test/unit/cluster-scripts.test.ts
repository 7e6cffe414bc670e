import { describe, expect, it } from 'vitest';
import { membershipOptionProblems, DEFAULT_MEMBERSHIP_OPTIONS } from '../../src/cluster/membership.js';
import { SCRIPT_CODES, scriptError } from '../../src/redis/scripts.js';

describe('script refusal codes', () => {
  it('maps each code to a typed error whose message says what was attempted', () => {
    expect(scriptError(SCRIPT_CODES.LEASE_LOST, 'checkpoint')).toMatchObject({
      code: 'TICKRING_ERR_LEASE_LOST',
      message: 'checkpoint: the lease had lapsed',
    });
    expect(scriptError(SCRIPT_CODES.NOT_MEMBER, 'drain w9')).toMatchObject({
      code: 'TICKRING_ERR_NOT_MEMBER',
    });
    expect(scriptError(SCRIPT_CODES.UNKNOWN_SYMBOL, 'pin X to w1').message).toContain('not in the universe');
    expect(scriptError(SCRIPT_CODES.LAST_MEMBER, 'drain w1').message).toContain('only active worker');
    expect(scriptError(-99, 'join')).toMatchObject({ code: 'TICKRING_ERR_UNKNOWN_SCRIPT_CODE' });
  });
});

describe('membership options', () => {
  const valid = { ...DEFAULT_MEMBERSHIP_OPTIONS, id: 'w1', address: '' };

  it('accepts the defaults', () => {
    expect(membershipOptionProblems(valid)).toEqual([]);
  });

  it('names each broken rule', () => {
    const problems = membershipOptionProblems({ ...valid, heartbeatMs: 2_000, settleMaxMs: 10, weight: 0 });
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).toMatch(/weight 0/);
    expect(problems.join('\n')).toMatch(/heartbeatMs 2000/);
    expect(problems.join('\n')).toMatch(/settleMaxMs 10/);
  });
});
