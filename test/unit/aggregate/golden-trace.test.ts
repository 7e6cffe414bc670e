/**
 * Checkpoint text, checkpoint object, snapshot and bars must not change with the layout of the
 * aggregate's state: Redis holds checkpoints written by earlier builds, and a worker restoring one must
 * go on exactly as the writer would have. The digests were recorded by running `goldenTrace` over the
 * tree of `b7fef19` (session and bars as `Ohlcv` objects, before the flat records).
 */
import { describe, expect, it } from 'vitest';
import { goldenTrace } from './golden-trace.js';

const RECORDED: Record<number, string[]> = {
  1: [
    '2c78577f884e18d8',
    'b4dd757df8f02f4a',
    '1498f447f0d43f1d',
    'ca9b1813edaef366',
    '87c1bd2e10924834',
    '128af4794ffc1868',
    '500aee436e8cb842',
    'd4cef915904c10e2',
    '6bae78f446ec2bfd',
    'b1fcac3f3cf7e92b',
    '8efd01a03ea71e55',
    'f5c9c4aee1cfeba2',
    '30ddad4fa422367a',
    'c9c847e188e0c36c',
    'c04e3ab5bf3da439',
    '0b708f9dae446782',
    '9fbbff68f3929cbb',
    '51e2e7b645a2eb12',
    '3e62e4ea48344d63',
    'c8852a103ce33951',
  ],
  2: [
    '64bb6aae2942554c',
    '237dbc0c82006c45',
    '0195391b35a65c23',
    '08087c43de281db8',
    '3c4aba53a338982d',
    'bda7f49868959898',
    'd96bcbe10582f59a',
    '93d704072202eaaa',
    'adc4eae81d467c17',
    '227adff531bfb8e0',
    'c2b794a8bde5a441',
    'e0f19eddff01da24',
    '9555e8d971bdf425',
    'f40b67bc8be5156d',
    '6192df8a1d693112',
    '8852bde97d8817fb',
    'cf1ed68660b80116',
    '4216cdc64fb9e34e',
    '88e3e25fe857a49c',
    '8066dbaf93f487c4',
  ],
  3: [
    'cb0e639baed68bba',
    '3e4987f110e27efe',
    '23050fb180560ebc',
    '637ba7d6c451ac7a',
    'd5fb7e3e71ddcc02',
    '0ccfe5d2afa57961',
    'd787ae9ee54e9465',
    '720c63c9932e267b',
    '3297f1020b0832dc',
    '65e6dfd5da7ed40f',
    '8e40bc40256dc633',
    'f1f6949cbdaa6687',
    '18b0baa8b3509932',
    '9f863c09f58034b3',
    '0da85eea52adbb37',
    'dba2144a6babbe85',
    '378fa3f2cd10b4a0',
    '691de446b981a991',
    '74d6f2c41facb78e',
    '0b5ba96e10b5f64a',
  ],
};

describe('the aggregate over a seeded stream', () => {
  it.each([1, 2, 3])('shows what b7fef19 showed, byte for byte (seed %i)', (seed) => {
    expect(goldenTrace(seed, 100_000, 5_000)).toEqual(RECORDED[seed]);
  });
});
