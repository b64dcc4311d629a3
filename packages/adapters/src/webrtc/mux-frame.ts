import { ByteReader, ByteWriter, ErrorCode, RaftwireError, decodeError } from '@raftwire/core';

/**
 * Frames of the request multiplexer carried in data-channel messages.
 *
 * Layout of one data-channel message (at most {@link MAX_WIRE_FRAME_BYTES} until the peer has said it
 * takes more, never over {@link MAX_NEGOTIATED_FRAME_BYTES}; see {@link encodeCapabilities}):
 *
 * ```
 * byte 0   bits 0-3 type, bit 5 FIN, bit 6 FROM_CLIENT, bit 7 MORE
 * varint   request id (unsigned LEB128, < 2^32)
 * rest     payload
 * ```
 *
 * FROM_CLIENT is set on frames sent by the side that opened the request, so
 * both members can open requests on one channel with independent id spaces.
 * MORE is set on every fragment of a HEAD or DATA message but the last one.
 * FIN on the last fragment of a HEAD or DATA message means the body ends
 * there (an END frame saved: a GET or a 204 is one message each way).
 */
export const FrameType = {
  /** Request head (`{m, p, h}`) or response head (`{s, h}`), UTF-8 JSON. */
  HEAD: 1,
  /** Body bytes. */
  DATA: 2,
  /** End of the body in this direction. */
  END: 3,
  /** Abort the request in both directions. Payload: UTF-8 JSON `{code, message}`. */
  RESET: 4,
  /** Flow-control credit: the receiver consumed `varint` more body bytes. */
  WINDOW: 5,
  /** Connection keepalive (request id 0); answered with PONG. */
  PING: 6,
  /** Answer to PING. */
  PONG: 7,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/**
 * Data-channel messages are at most this until the remote has announced it takes more (every
 * stack and every earlier raftwire version interoperates at this size, feasibility §9).
 */
export const MAX_WIRE_FRAME_BYTES = 16 * 1024;
/** Type byte plus a 5-byte varint request id. */
export const MAX_FRAME_HEADER_BYTES = 6;
/**
 * The largest data-channel message the adapter receives, announced to the peer in its
 * capabilities (PING/PONG payload), and the most it ever sends (when the remote announced as
 * much and the SCTP transport's `maxMessageSize` allows it): a 64 KiB body message plus the
 * frame header, so the multiplexer's 64 KiB messages (the whole message on the bulk channel, a
 * quarter of one on the others) go in one data-channel message each, not in a full frame and a
 * few-byte tail (which doubled the native sends and SCTP messages of a snapshot). A peer of the
 * previous version announces 64 KiB flat and gets that.
 */
export const MAX_NEGOTIATED_FRAME_BYTES = 64 * 1024 + MAX_FRAME_HEADER_BYTES;
/** Payload bytes that fit in one wire frame of {@link MAX_WIRE_FRAME_BYTES}. */
export const MAX_FRAME_PAYLOAD_BYTES = MAX_WIRE_FRAME_BYTES - MAX_FRAME_HEADER_BYTES;
const MAX_NEGOTIATED_PAYLOAD_BYTES = MAX_NEGOTIATED_FRAME_BYTES - MAX_FRAME_HEADER_BYTES;
export const MAX_REQUEST_ID = 0xffff_ffff;

const FIN = 0x20;
const FROM_CLIENT = 0x40;
const MORE = 0x80;

export interface MuxFrame {
  type: FrameType;
  requestId: number;
  fromClient: boolean;
  more: boolean;
  /** The body ends with this frame (HEAD or DATA, last fragment only). */
  fin?: boolean;
  payload: Uint8Array;
}

export function encodeMuxFrame(frame: MuxFrame): Uint8Array {
  const payload = frame.payload;
  if (payload.length > MAX_NEGOTIATED_PAYLOAD_BYTES) {
    throw new RaftwireError(ErrorCode.FRAME_TOO_LARGE, `mux frame payload ${payload.length} over ${MAX_NEGOTIATED_PAYLOAD_BYTES}`);
  }
  let id = frame.requestId;
  if (!(Number.isInteger(id) && id >= 0 && id <= MAX_REQUEST_ID)) throw new RangeError(`request id ${id} out of range`);
  // One exact-size allocation and one copy of the payload per wire frame: this runs for every
  // 16 KiB of every body, so no growable writer here.
  let idBytes = 1;
  for (let v = id; v >= 0x80; v = Math.floor(v / 128)) idBytes++;
  const out = new Uint8Array(1 + idBytes + payload.length);
  out[0] = frame.type | (frame.fromClient ? FROM_CLIENT : 0) | (frame.more ? MORE : 0) | (frame.fin ? FIN : 0);
  let at = 1;
  while (id >= 0x80) {
    out[at++] = (id % 128) | 0x80;
    id = Math.floor(id / 128);
  }
  out[at++] = id;
  out.set(payload, at);
  return out;
}

export function decodeMuxFrame(bytes: Uint8Array): MuxFrame {
  if (bytes.length > MAX_NEGOTIATED_FRAME_BYTES) throw decodeError(`mux frame of ${bytes.length} bytes over ${MAX_NEGOTIATED_FRAME_BYTES}`);
  const r = new ByteReader(bytes);
  const b = r.byte();
  const type = b & 0x0f;
  if (type < FrameType.HEAD || type > FrameType.PONG || (b & 0x10) !== 0)
    throw decodeError(`unknown mux frame type byte 0x${b.toString(16)}`);
  const requestId = r.varint('request id');
  if (requestId > MAX_REQUEST_ID) throw decodeError(`request id ${requestId} out of range`);
  const more = (b & MORE) !== 0;
  const fin = (b & FIN) !== 0;
  if ((more || fin) && type !== FrameType.HEAD && type !== FrameType.DATA)
    throw decodeError(`mux frame type ${type} cannot carry MORE or FIN`);
  if (more && fin) throw decodeError('FIN on a fragment that is not the last');
  const frame: MuxFrame = { type: type as FrameType, requestId, fromClient: (b & FROM_CLIENT) !== 0, more, payload: r.bytes(r.remaining) };
  if (fin) frame.fin = true;
  return frame;
}

/** Splits one logical message into wire frames of at most `frameBytes` (default {@link MAX_WIRE_FRAME_BYTES}). */
export function fragment(
  type: FrameType,
  requestId: number,
  fromClient: boolean,
  message: Uint8Array,
  fin = false,
  frameBytes: number = MAX_WIRE_FRAME_BYTES,
): Uint8Array[] {
  if (!(frameBytes > MAX_FRAME_HEADER_BYTES && frameBytes <= MAX_NEGOTIATED_FRAME_BYTES)) {
    throw new RangeError(`frame size ${frameBytes} out of range`);
  }
  const maxPayload = frameBytes - MAX_FRAME_HEADER_BYTES;
  const out: Uint8Array[] = [];
  let at = 0;
  do {
    const end = Math.min(at + maxPayload, message.length);
    const more = end < message.length;
    out.push(encodeMuxFrame({ type, requestId, fromClient, more, fin: fin && !more, payload: message.subarray(at, end) }));
    at = end;
  } while (at < message.length);
  return out;
}

/**
 * What one end of a connection tells the other, as the payload of a PING or PONG (request id 0).
 * Earlier versions send both with an empty payload and ignore any payload, so a peer that never
 * sends capabilities is an older one and gets what every version takes.
 */
export interface Capabilities {
  /** The largest data-channel message this end receives. */
  maxFrameBytes: number;
}

const CAPABILITIES_V1 = 1;

/** Layout: byte 1 (version), varint maxFrameBytes; later versions may append fields. */
export function encodeCapabilities(caps: Capabilities): Uint8Array {
  const w = new ByteWriter(8);
  w.byte(CAPABILITIES_V1);
  w.varint(caps.maxFrameBytes);
  return w.finish();
}

/** Undefined for an empty payload (an older peer) or one this version does not understand. */
export function decodeCapabilities(bytes: Uint8Array): Capabilities | undefined {
  if (bytes.length === 0) return undefined;
  try {
    const r = new ByteReader(bytes);
    if (r.byte() !== CAPABILITIES_V1) return undefined;
    const maxFrameBytes = r.varint('max frame bytes');
    return maxFrameBytes > MAX_FRAME_HEADER_BYTES ? { maxFrameBytes } : undefined;
  } catch {
    return undefined;
  }
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeJson(value: unknown): Uint8Array {
  return utf8Encoder.encode(JSON.stringify(value));
}

export function decodeJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(utf8Decoder.decode(bytes));
  } catch (err) {
    throw decodeError(`${what} is not valid UTF-8 JSON`, err);
  }
}

export function encodeVarint(n: number): Uint8Array {
  const w = new ByteWriter(8);
  w.varint(n);
  return w.finish();
}

export function decodeVarint(bytes: Uint8Array, what: string): number {
  const r = new ByteReader(bytes);
  const n = r.varint(what);
  if (r.remaining !== 0) throw decodeError(`${what}: trailing bytes`);
  return n;
}
