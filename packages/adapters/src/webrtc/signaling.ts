import { ErrorCode, RaftwireError, decodeError, formatId, tryParseId } from '@raftwire/core';
import type { Id } from '@raftwire/core';
import { type SignalAuth, isSignalAuth } from './identity.js';
import type { PeerSignalData } from './peer-connection-port.js';

/**
 * What a signal is for:
 * - `connect`: the higher member ID asks the lower one to make an offer
 *   (`session` = the last session it saw, `''` if none);
 * - `signal`: an offer, answer or ICE candidate for `session`;
 * - `close`: the sender closed `session`.
 */
export type SignalKind = 'connect' | 'signal' | 'close';

/** One signalling message. IDs are lowercase unpadded hex, as on the HTTP wire. */
export interface SignalMessage {
  clusterId: string;
  from: string;
  to: string;
  kind: SignalKind;
  /** The connection attempt this belongs to; chosen by the member that offers. */
  session: string;
  /** For `signal`: the port's payload (SDP or candidate). */
  data?: PeerSignalData;
  /** For an offer or answer from a member with an identity: its signature over the DTLS fingerprint (see `WebRtcIdentity`). */
  auth?: SignalAuth;
}

/** A member's registration with a signalling service. */
export interface SignalingEndpoint {
  readonly memberId: Id;
  /**
   * Sends a signal. Rejects with a RaftwireError when the service refuses it:
   * ERR_CLUSTER_ID_MISMATCH, ERR_SIGNAL_REJECTED (forged `from`),
   * ERR_MEMBER_NOT_FOUND (unknown `to`), ERR_DECODE (malformed), ERR_LINK (unreachable).
   */
  send(message: SignalMessage, options?: { signal?: AbortSignal }): Promise<void>;
  /** Leaves the service. Idempotent. */
  close(): void;
}

export interface SignalingJoinOptions {
  clusterId: Id;
  memberId: Id;
  /** Receives every signal addressed to this member, already validated by the service. */
  onSignal: (message: SignalMessage) => void;
  signal?: AbortSignal;
}

/** A signalling service: in-page hub, HTTP relay, and later the cluster's own transport. */
export interface Signaling {
  join(options: SignalingJoinOptions): Promise<SignalingEndpoint>;
}

/** Cap on one signalling message's JSON text (an SDP is a few KiB). */
export const MAX_SIGNAL_BYTES = 64 * 1024;
const SESSION_RE = /^[0-9a-z.-]{0,64}$/;
const KINDS: readonly string[] = ['connect', 'signal', 'close'];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Checks the shape of an untrusted signal (parsed JSON or an object handed
 * over in-page). Throws ERR_DECODE naming the bad field; returns a clean copy.
 */
export function parseSignalMessage(raw: unknown): SignalMessage {
  if (!isRecord(raw)) throw decodeError('signal must be a JSON object');
  const { clusterId, from, to, kind, session, data, auth } = raw;
  for (const [name, v] of [
    ['clusterId', clusterId],
    ['from', from],
    ['to', to],
  ] as const) {
    if (typeof v !== 'string' || tryParseId(v) === undefined) throw decodeError(`signal field ${name} must be a lowercase hex ID`);
  }
  if (typeof kind !== 'string' || !KINDS.includes(kind)) throw decodeError('signal field kind must be connect, signal or close');
  if (typeof session !== 'string' || !SESSION_RE.test(session)) throw decodeError('signal field session is malformed');
  if (kind === 'signal' && !isRecord(data)) throw decodeError('signal field data must be an object');
  if (data !== undefined && !isRecord(data)) throw decodeError('signal field data must be an object');
  const msg: SignalMessage = { clusterId: clusterId as string, from: from as string, to: to as string, kind: kind as SignalKind, session };
  if (data !== undefined) msg.data = data as PeerSignalData;
  if (auth !== undefined) {
    if (!isSignalAuth(auth)) throw decodeError('signal field auth is malformed');
    msg.auth = { fp: auth.fp, ts: auth.ts, nonce: auth.nonce, sig: auth.sig };
  }
  return msg;
}

/** Parses a signal from JSON text, bounding its size first. */
export function parseSignalJson(text: string): SignalMessage {
  if (text.length > MAX_SIGNAL_BYTES) throw decodeError(`signal over ${MAX_SIGNAL_BYTES} bytes`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw decodeError('signal is not valid JSON', err);
  }
  return parseSignalMessage(raw);
}

export interface SignalClaimContext {
  clusterId: Id;
  /** The member registered for the session the signal came through. */
  sender: Id;
  /** True when `to` is a member the service can deliver to. */
  isKnown: (to: Id) => boolean;
}

/**
 * Checks what a signal claims against what the service knows. Throws
 * ERR_CLUSTER_ID_MISMATCH, ERR_SIGNAL_REJECTED (forged `from`, or addressed
 * to the sender) or ERR_MEMBER_NOT_FOUND.
 */
export function checkSignalClaim(msg: SignalMessage, ctx: SignalClaimContext): void {
  if (msg.clusterId !== formatId(ctx.clusterId)) {
    throw new RaftwireError(
      ErrorCode.CLUSTER_ID_MISMATCH,
      `signal for cluster ${msg.clusterId}, this is cluster ${formatId(ctx.clusterId)}`,
    );
  }
  if (msg.from !== formatId(ctx.sender)) {
    throw new RaftwireError(
      ErrorCode.SIGNAL_REJECTED,
      `signal claims to be from ${msg.from} but the session belongs to ${formatId(ctx.sender)}`,
    );
  }
  if (msg.to === msg.from) throw new RaftwireError(ErrorCode.SIGNAL_REJECTED, 'signal addressed to its sender');
  const to = tryParseId(msg.to) as Id;
  if (!ctx.isKnown(to)) throw new RaftwireError(ErrorCode.MEMBER_NOT_FOUND, `signal for member ${msg.to}, which is not registered`);
}
