import type { Id } from '@raftwire/core';
import { RaftError, RaftErrorCode } from './errors.js';

/**
 * Byte layouts the driver puts inside Raft entries and snapshots:
 * - proposals: version byte, proposer ID (u64), sequence (u64), payload;
 * - conf-change context: proposer ID (u64), sequence (u64), member URL (UTF-8);
 * - snapshots: magic, members (ID + URL), removed IDs, then the state machine's bytes.
 */
const PROPOSAL_VERSION = 1;
const SNAPSHOT_MAGIC = 0x52574e31; // "RWN1"
const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

export interface Envelope {
  proposer: Id;
  seq: number;
  payload: Uint8Array;
}

export function encodeProposal(proposer: Id, seq: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(17 + payload.length);
  const dv = new DataView(out.buffer);
  out[0] = PROPOSAL_VERSION;
  dv.setBigUint64(1, proposer);
  dv.setBigUint64(9, BigInt(seq));
  out.set(payload, 17);
  return out;
}

/** Null when the entry was not written by a driver (e.g. a leader's empty entry). */
export function decodeProposal(data: Uint8Array): Envelope | null {
  if (data.length < 17 || data[0] !== PROPOSAL_VERSION) return null;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return { proposer: dv.getBigUint64(1), seq: Number(dv.getBigUint64(9)), payload: data.subarray(17) };
}

export function encodeConfContext(proposer: Id, seq: number, url: string): Uint8Array {
  const u = utf8.encode(url);
  const out = new Uint8Array(16 + u.length);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, proposer);
  dv.setBigUint64(8, BigInt(seq));
  out.set(u, 16);
  return out;
}

export function decodeConfContext(ctx: Uint8Array): { proposer: Id; seq: number; url: string } {
  if (ctx.length < 16) return { proposer: 0n, seq: 0, url: '' };
  const dv = new DataView(ctx.buffer, ctx.byteOffset, ctx.byteLength);
  return { proposer: dv.getBigUint64(0), seq: Number(dv.getBigUint64(8)), url: utf8d.decode(ctx.subarray(16)) };
}

export interface NodeSnapshot {
  members: Map<Id, string>;
  removed: Set<Id>;
  state: Uint8Array;
}

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

export function decodeNodeSnapshot(b: Uint8Array): NodeSnapshot {
  const bad = (): RaftError => new RaftError(RaftErrorCode.CORRUPT, 'malformed node snapshot');
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
