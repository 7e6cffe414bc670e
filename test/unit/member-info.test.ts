import { describe, expect, it } from 'vitest';
import { encodeMemberInfo, parseMemberInfo } from '../../src/cluster/member-info.js';

describe('member info', () => {
  it('reads back what a member wrote', () => {
    const info = { address: 'http://10.0.0.7:8080', weight: 2, leaseMs: 5_000, heartbeatMs: 1_000 };
    expect(parseMemberInfo(encodeMemberInfo(info))).toEqual(info);
  });

  it('reads an earlier version without a heartbeat', () => {
    expect(parseMemberInfo('{"address":"http://a:1","weight":1,"leaseMs":3000}')).toEqual({
      address: 'http://a:1',
      weight: 1,
      leaseMs: 3_000,
      heartbeatMs: undefined,
    });
  });

  it.each([
    null,
    undefined,
    '',
    'not json',
    '[1,2]',
    '"text"',
    '{"leaseMs":-5,"heartbeatMs":"1000","weight":0}',
  ])('takes defaults for missing, malformed or hostile info (%s)', (raw) => {
    expect(parseMemberInfo(raw)).toEqual({
      address: '',
      weight: 1,
      leaseMs: undefined,
      heartbeatMs: undefined,
    });
  });
});
