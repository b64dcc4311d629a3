import { ErrorCode, RaftwireError, decodeError } from '@raftwire/core';
import type { LinkHeaders } from '@raftwire/core';
import { decodeJson, encodeJson } from './mux-frame.js';

/** The header frame that opens a request: the HTTP form's method, path and headers. */
export interface RequestHead {
  method: string;
  path: string;
  headers: LinkHeaders;
}

/** The header frame that opens a response: the HTTP form's status and headers. */
export interface ResponseHead {
  status: number;
  headers: LinkHeaders;
}

/** Why an exchange was reset, as carried in a RESET frame. */
export interface ResetReason {
  code: string;
  message: string;
}

const MAX_METHOD_LENGTH = 16;
const MAX_PATH_LENGTH = 4096;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkHeaders(h: unknown): LinkHeaders {
  if (!isRecord(h)) throw decodeError('head: headers must be an object');
  const out: LinkHeaders = {};
  for (const [k, v] of Object.entries(h)) {
    if (typeof v !== 'string') throw decodeError(`head: header ${JSON.stringify(k.slice(0, 40))} must be a string`);
    out[k.toLowerCase()] = v;
  }
  return out;
}

export function encodeRequestHead(head: RequestHead): Uint8Array {
  return encodeJson({ m: head.method, p: head.path, h: head.headers });
}

export function decodeRequestHead(bytes: Uint8Array): RequestHead {
  const v = decodeJson(bytes, 'request head');
  if (!isRecord(v)) throw decodeError('request head must be an object');
  const { m, p, h } = v;
  if (typeof m !== 'string' || m.length === 0 || m.length > MAX_METHOD_LENGTH) throw decodeError('request head: bad method');
  if (typeof p !== 'string' || !p.startsWith('/') || p.length > MAX_PATH_LENGTH) throw decodeError('request head: bad path');
  return { method: m, path: p, headers: checkHeaders(h) };
}

export function encodeResponseHead(head: ResponseHead): Uint8Array {
  return encodeJson({ s: head.status, h: head.headers });
}

export function decodeResponseHead(bytes: Uint8Array): ResponseHead {
  const v = decodeJson(bytes, 'response head');
  if (!isRecord(v)) throw decodeError('response head must be an object');
  const { s, h } = v;
  if (typeof s !== 'number' || !Number.isInteger(s) || s < 100 || s > 599) throw decodeError('response head: bad status');
  return { status: s, headers: checkHeaders(h) };
}

export function encodeReset(reason: ResetReason): Uint8Array {
  return encodeJson({ code: reason.code, message: reason.message.slice(0, 1000) });
}

export function decodeReset(bytes: Uint8Array): ResetReason {
  try {
    const v = decodeJson(bytes, 'reset');
    if (isRecord(v) && typeof v.code === 'string' && typeof v.message === 'string') return { code: v.code, message: v.message };
  } catch {
    // fall through: a reset is honoured even when its reason is unreadable
  }
  return { code: ErrorCode.LINK, message: 'reset (reason unreadable)' };
}

/** A RaftwireError for a reset the remote sent: ERR_LINK, with the remote's reason in message and cause. */
export function remoteResetError(reason: ResetReason): RaftwireError {
  const known = (Object.values(ErrorCode) as string[]).includes(reason.code);
  const cause = known ? new RaftwireError(reason.code as ErrorCode, reason.message) : undefined;
  return new RaftwireError(ErrorCode.LINK, `remote reset the exchange: ${reason.code}: ${reason.message}`, cause ? { cause } : undefined);
}
