import { Encoder, type Options } from 'cbor-x';

/**
 * The one place cbor-x is configured. Every option that differs between Node
 * and the browser, or between cbor-x versions, is pinned here:
 *
 * - `useRecords: false`, `pack: false`, `bundleStrings: false`: no record
 *   structures or string tables shared across messages; every encoded message
 *   is self-contained, so a reconnect or a lost frame never desynchronises.
 * - `tagUint8Array: false`: bytes are a plain CBOR byte string (major type 2),
 *   never tag 64 (cbor-x turns the tag on in Node by default, kriszyp/cbor-x#90).
 * - `copyBuffers: false`: decoded bytes are views into the frame; the codec
 *   wraps them as plain `Uint8Array` (cbor-x returns `Buffer` in Node when the
 *   input is a Buffer).
 * - `int64AsNumber: false`, `largeBigIntToFloat: false`: 64-bit IDs above 2^53
 *   come back as bigint, never as a rounded double.
 * - `mapsAsObjects: true`, `structuredClone: false`, `useTag259ForMaps: false`:
 *   no JS-specific extensions on the wire.
 */
/** `int64AsNumber` and `useTag259ForMaps` are read by cbor-x but missing from its typings. */
export type CborOptions = Options & { int64AsNumber: boolean; useTag259ForMaps: boolean };

export const CBOR_OPTIONS: Readonly<CborOptions> = Object.freeze({
  useRecords: false,
  pack: false,
  bundleStrings: false,
  sequential: false,
  tagUint8Array: false,
  copyBuffers: false,
  int64AsNumber: false,
  largeBigIntToFloat: false,
  mapsAsObjects: true,
  structuredClone: false,
  useTag259ForMaps: false,
  variableMapSize: true,
  useFloat32: 0,
  encodeUndefinedAsNil: false,
  useToJSON: false,
} satisfies CborOptions);

export function createCborEncoder(): Encoder {
  return new Encoder({ ...CBOR_OPTIONS });
}

/**
 * The decoder for small frames, which are copied into one reused scratch
 * buffer first: cbor-x caches a DataView as a property on each source array,
 * which costs more than the whole decode on a fresh buffer. Because the
 * scratch is reused, decoded bytes must be copies (`copyBuffers: true`).
 */
export function createScratchCborDecoder(): Encoder {
  return new Encoder({ ...CBOR_OPTIONS, copyBuffers: true });
}
