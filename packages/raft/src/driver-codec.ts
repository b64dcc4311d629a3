import type { Id } from '@raftwire/core';
import { ErrorCode, RaftwireError } from '@raftwire/core';

/**
 * Byte layouts the driver puts inside Raft entries and snapshots:
 * - proposals: version byte, proposer ID (u64), proposer incarnation (u32), sequence (u64), payload;
 * - conf-change context: proposer ID (u64), incarnation (u32), sequence (u64), member URL (UTF-8);
 * The incarnation is random per start, so a restarted member never mistakes an
 * entry proposed by its previous life for one of its own pending proposals.
 * - snapshots: magic, members (ID + URL), removed IDs, then the state machine's bytes.
 */
const PROPOSAL_VERSION = 1;
const SNAPSHOT_MAGIC = 0x52574e31; // "RWN1"
const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

/** Who proposed an entry: member, incarnation (random per start) and sequence. */
export interface ProposalId {
  proposer: Id;
  incarnation: number;
  seq: number;
}

/** A decoded proposal entry. */
export interface Envelope extends ProposalId {
  payload: Uint8Array;
}

const PID_BYTES = 20;
const SLAB_BYTES = 64 * 1024;
const SLAB_MAX_ENVELOPE = 2048;

// The sequence is written as two u32 halves: same bytes as a u64, without a BigInt per proposal (hot path).
function writePid(dv: DataView, off: number, p: ProposalId): void {
  dv.setBigUint64(off, p.proposer);
  dv.setUint32(off + 8, p.incarnation);
  dv.setUint32(off + 12, Math.floor(p.seq / 0x1_0000_0000));
  dv.setUint32(off + 16, p.seq >>> 0);
}

function readPid(dv: DataView, off: number): ProposalId {
  return {
    proposer: dv.getBigUint64(off),
    incarnation: dv.getUint32(off + 8),
    seq: dv.getUint32(off + 12) * 0x1_0000_0000 + dv.getUint32(off + 16),
  };
}

/** Wraps a state-machine command with its proposal ID. */
export function encodeProposal(pid: ProposalId, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + PID_BYTES + payload.length);
  out[0] = PROPOSAL_VERSION;
  writePid(new DataView(out.buffer), 1, pid);
  out.set(payload, 1 + PID_BYTES);
  return out;
}

/**
 * Encodes and recognises one member life's proposals without a BigInt, a DataView or an
 * object per proposal (the hot path of `propose` and of applying): the version byte,
 * proposer and incarnation are the same 13 bytes for every proposal of this life.
 */
export class ProposalCodec {
  private readonly head: Uint8Array;
  /**
   * Small envelopes are cut from 64 KiB slabs: a typed array over 64 bytes gets its own
   * off-heap buffer, which costs more to allocate and collect than the rest of a proposal.
   * An envelope is never written after encode, and a slab's envelopes are consecutive log
   * entries, released together when the log is compacted past them.
   */
  private slab = new Uint8Array(0);
  private slabPos = 0;

  constructor(proposer: Id, incarnation: number) {
    this.head = new Uint8Array(13);
    this.head[0] = PROPOSAL_VERSION;
    const dv = new DataView(this.head.buffer);
    dv.setBigUint64(1, proposer);
    dv.setUint32(9, incarnation >>> 0);
  }

  /** The same bytes as `encodeProposal({ proposer, incarnation, seq }, payload)`. */
  encode(seq: number, payload: Uint8Array): Uint8Array {
    const n = 1 + PID_BYTES + payload.length;
    let out: Uint8Array;
    if (n > SLAB_MAX_ENVELOPE) {
      out = new Uint8Array(n);
    } else {
      if (this.slabPos + n > this.slab.length) {
        this.slab = new Uint8Array(SLAB_BYTES);
        this.slabPos = 0;
      }
      out = this.slab.subarray(this.slabPos, this.slabPos + n);
      this.slabPos += n;
    }
    out.set(this.head, 0);
    const hi = Math.floor(seq / 0x1_0000_0000);
    const lo = seq >>> 0;
    out[13] = hi >>> 24;
    out[14] = hi >>> 16;
    out[15] = hi >>> 8;
    out[16] = hi;
    out[17] = lo >>> 24;
    out[18] = lo >>> 16;
    out[19] = lo >>> 8;
    out[20] = lo;
    out.set(payload, 1 + PID_BYTES);
    return out;
  }

  /** The sequence of a proposal entry made by this life, or -1 (another member's, another life's, or not a proposal). */
  mineSeq(data: Uint8Array): number {
    if (data.length < 1 + PID_BYTES) return -1;
    const h = this.head;
    for (let i = 0; i < 13; i++) if (data[i] !== h[i]) return -1;
    return u32(data, 13) * 0x1_0000_0000 + u32(data, 17);
  }
}

function u32(b: Uint8Array, off: number): number {
  return (((b[off] as number) << 24) | ((b[off + 1] as number) << 16) | ((b[off + 2] as number) << 8) | (b[off + 3] as number)) >>> 0;
}

/** True when `data` is a proposal envelope (what {@link decodeProposal} decodes). */
export function isProposal(data: Uint8Array): boolean {
  return data.length >= 1 + PID_BYTES && data[0] === PROPOSAL_VERSION;
}

/** Where the state machine's command starts in a proposal envelope. */
export const PROPOSAL_HEADER_BYTES = 1 + PID_BYTES;

/** The state machine's command inside a proposal envelope (a view, no copy); check {@link isProposal} first. */
export function proposalPayload(data: Uint8Array): Uint8Array {
  return data.subarray(PROPOSAL_HEADER_BYTES);
}

/** Null when the entry was not written by a driver (e.g. a leader's empty entry). */
export function decodeProposal(data: Uint8Array): Envelope | null {
  if (data.length < 1 + PID_BYTES || data[0] !== PROPOSAL_VERSION) return null;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return { ...readPid(dv, 1), payload: data.subarray(1 + PID_BYTES) };
}

/** Encodes a conf change's context: proposal ID and the member's URL. */
export function encodeConfContext(pid: ProposalId, url: string): Uint8Array {
  const u = utf8.encode(url);
  const out = new Uint8Array(PID_BYTES + u.length);
  writePid(new DataView(out.buffer), 0, pid);
  out.set(u, PID_BYTES);
  return out;
}

/** Decodes {@link encodeConfContext}; a short context yields a zero proposal ID and an empty URL. */
export function decodeConfContext(ctx: Uint8Array): ProposalId & { url: string } {
  if (ctx.length < PID_BYTES) return { proposer: 0n, incarnation: 0, seq: 0, url: '' };
  const dv = new DataView(ctx.buffer, ctx.byteOffset, ctx.byteLength);
  return { ...readPid(dv, 0), url: utf8d.decode(ctx.subarray(PID_BYTES)) };
}

/** What a driver snapshot holds besides the state machine: members and removed IDs. */
export interface NodeSnapshot {
  members: Map<Id, string>;
  removed: Set<Id>;
  state: Uint8Array;
}

/** Encodes a driver snapshot (members sorted by ID, then removed IDs, then state bytes). */
export function encodeNodeSnapshot(s: NodeSnapshot): Uint8Array {
  const urls = [...s.members].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([id, url]) => [id, utf8.encode(url)] as const);
  const removed = [...s.removed].sort((a, b) => (a < b ? -1 : 1));
  let size = 12 + removed.length * 8 + s.state.length;
  for (const [, u] of urls) size += 12 + u.length;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, SNAPSHOT_MAGIC);
  dv.setUint32(4, urls.length);
  let off = 8;
  for (const [id, u] of urls) {
    dv.setBigUint64(off, id);
    dv.setUint32(off + 8, u.length);
    out.set(u, off + 12);
    off += 12 + u.length;
  }
  dv.setUint32(off, removed.length);
  off += 4;
  for (const id of removed) {
    dv.setBigUint64(off, id);
    off += 8;
  }
  out.set(s.state, off);
  return out;
}

/** Decodes {@link encodeNodeSnapshot}; throws ERR_CORRUPT on malformed bytes. */
export function decodeNodeSnapshot(b: Uint8Array): NodeSnapshot {
  const bad = (): RaftwireError => new RaftwireError(ErrorCode.CORRUPT, 'malformed node snapshot');
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 12 || dv.getUint32(0) !== SNAPSHOT_MAGIC) throw bad();
  const n = dv.getUint32(4);
  let off = 8;
  const members = new Map<Id, string>();
  for (let i = 0; i < n; i++) {
    if (off + 12 > b.length) throw bad();
    const id = dv.getBigUint64(off);
    const len = dv.getUint32(off + 8);
    if (off + 12 + len > b.length) throw bad();
    members.set(id, utf8d.decode(b.subarray(off + 12, off + 12 + len)));
    off += 12 + len;
  }
  if (off + 4 > b.length) throw bad();
  const r = dv.getUint32(off);
  off += 4;
  if (off + r * 8 > b.length) throw bad();
  const removed = new Set<Id>();
  for (let i = 0; i < r; i++) removed.add(dv.getBigUint64(off + i * 8));
  off += r * 8;
  return { members, removed, state: b.slice(off) };
}
