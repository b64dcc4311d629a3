import { ErrorCode, RaftwireError } from './errors.js';

/** A 64-bit member or cluster ID. */
export type Id = bigint;

export const MAX_ID = (1n << 64n) - 1n;

const HEX_ID = /^(?:0|[1-9a-f][0-9a-f]{0,15})$/;

/** True when `id` is a bigint in [0, 2^64). */
export function isId(id: unknown): id is Id {
  return typeof id === 'bigint' && id >= 0n && id <= MAX_ID;
}

/** Formats an ID the way etcd does: lowercase hex, no padding, no prefix. */
export function formatId(id: Id): string {
  if (!isId(id)) throw new RaftwireError(ErrorCode.INVALID_ID, `not a 64-bit ID: ${String(id)}`);
  return id.toString(16);
}

/**
 * Parses lowercase unpadded hex (etcd's wire form). Rejects uppercase, a `0x`
 * prefix, leading zeros, signs, whitespace, empty strings and values ≥ 2^64.
 */
export function parseId(text: string): Id {
  if (typeof text !== 'string' || !HEX_ID.test(text)) {
    throw new RaftwireError(
      ErrorCode.INVALID_ID,
      `invalid ID ${JSON.stringify(String(text).slice(0, 40))}: want lowercase unpadded hex of at most 16 digits`,
    );
  }
  return BigInt(`0x${text}`);
}

/** Like {@link parseId} but returns undefined instead of throwing. */
export function tryParseId(text: string | null | undefined): Id | undefined {
  if (typeof text !== 'string' || !HEX_ID.test(text)) return undefined;
  return BigInt(`0x${text}`);
}
