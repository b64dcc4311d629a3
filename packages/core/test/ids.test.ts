import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ErrorCode, formatId, isRaftwireError, parseId, tryParseId } from '../src/index.js';

describe('IDs', () => {
  it('format as lowercase unpadded hex, like etcd types.ID', () => {
    expect(formatId(0n)).toBe('0');
    expect(formatId(2n)).toBe('2');
    expect(formatId(0xbab38e47324729d5n)).toBe('bab38e47324729d5');
    expect(formatId((1n << 64n) - 1n)).toBe('ffffffffffffffff');
  });

  it('round-trip every 64-bit value', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (id) => parseId(formatId(id)) === id));
  });

  it.each(['', 'A', 'ABC', '0x1', '01', '00', ' 1', '1 ', '-1', '+1', 'g', '1'.repeat(17), '10000000000000000', '1\n'])(
    'rejects %j with ERR_INVALID_ID',
    (text) => {
      let caught: unknown;
      try {
        parseId(text);
      } catch (err) {
        caught = err;
      }
      expect(isRaftwireError(caught, ErrorCode.INVALID_ID)).toBe(true);
      expect(tryParseId(text)).toBeUndefined();
    },
  );

  it('formatId rejects values outside [0, 2^64)', () => {
    expect(() => formatId(-1n)).toThrow(/not a 64-bit ID/);
    expect(() => formatId(1n << 64n)).toThrow(/not a 64-bit ID/);
  });
});
