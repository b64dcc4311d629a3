import { decodeError } from './errors.js';
import type { Id } from './ids.js';

/**
 * The largest term or log index a peer may send: 2^53 − 2^20. Decoders refuse anything above
 * it (ERR_DECODE), so a member never adopts a term whose successor cannot be represented
 * exactly or encoded (a term of 2^53 − 1 would make every later vote unencodable), and a log
 * can still grow by 2^20 entries past the largest index accepted.
 */
export const MAX_LOG_POSITION = 2 ** 53 - 2 ** 20;

/** `n` when it is at most {@link MAX_LOG_POSITION}; ERR_DECODE naming `field` otherwise. */
export function logPosition(n: number, field: string): number {
  if (n > MAX_LOG_POSITION) throw decodeError(`${field} ${n} is above the largest term or index accepted (2^53 - 2^20)`);
  return n;
}

/** raftpb.MessageType with etcd's numbers. Names are used verbatim in logs. */
export const MessageType = {
  MsgHup: 0,
  MsgBeat: 1,
  MsgProp: 2,
  MsgApp: 3,
  MsgAppResp: 4,
  MsgVote: 5,
  MsgVoteResp: 6,
  MsgSnap: 7,
  MsgHeartbeat: 8,
  MsgHeartbeatResp: 9,
  MsgUnreachable: 10,
  MsgSnapStatus: 11,
  MsgCheckQuorum: 12,
  MsgTransferLeader: 13,
  MsgTimeoutNow: 14,
  MsgReadIndex: 15,
  MsgReadIndexResp: 16,
  MsgPreVote: 17,
  MsgPreVoteResp: 18,
  MsgStorageAppend: 19,
  MsgStorageAppendResp: 20,
  MsgStorageApply: 21,
  MsgStorageApplyResp: 22,
  MsgForgetLeader: 23,
} as const;

export type MessageType = (typeof MessageType)[keyof typeof MessageType];
export type MessageTypeName = keyof typeof MessageType;

const MESSAGE_TYPE_NAMES: readonly MessageTypeName[] = Object.keys(MessageType) as MessageTypeName[];
const MAX_MESSAGE_TYPE = MESSAGE_TYPE_NAMES.length - 1;

export function isMessageType(n: unknown): n is MessageType {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= MAX_MESSAGE_TYPE;
}

/** `MsgApp` for 3; `MessageType(99)` for an unknown number, as etcd prints it. */
export function messageTypeName(t: number): string {
  return isMessageType(t) ? (MESSAGE_TYPE_NAMES[t] as string) : `MessageType(${t})`;
}

/** raftpb.EntryType. */
export const EntryType = {
  EntryNormal: 0,
  EntryConfChange: 1,
  EntryConfChangeV2: 2,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export function isEntryType(n: unknown): n is EntryType {
  return n === 0 || n === 1 || n === 2;
}

export interface Entry {
  type: EntryType;
  term: number;
  index: number;
  data: Uint8Array;
}

export interface ConfState {
  voters: Id[];
  learners: Id[];
  votersOutgoing: Id[];
  learnersNext: Id[];
  autoLeave: boolean;
}

export interface SnapshotMetadata {
  confState: ConfState;
  index: number;
  term: number;
}

export interface Snapshot {
  data: Uint8Array;
  metadata: SnapshotMetadata;
}

/**
 * raftpb.Message with every field. IDs (`to`, `from`, `vote`) are bigint;
 * terms and indexes are safe integers. `snapshot` is null when absent.
 */
export interface Message {
  type: MessageType;
  to: Id;
  from: Id;
  term: number;
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  vote: Id;
  snapshot: Snapshot | null;
  reject: boolean;
  rejectHint: number;
  context: Uint8Array;
  responses: Message[];
}

const EMPTY_BYTES = new Uint8Array(0);

export function emptyConfState(): ConfState {
  return { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
}

export function createEntry(init: Partial<Entry> = {}): Entry {
  return { type: init.type ?? 0, term: init.term ?? 0, index: init.index ?? 0, data: init.data ?? EMPTY_BYTES };
}

export function createSnapshot(init: { data?: Uint8Array; metadata?: Partial<SnapshotMetadata> } = {}): Snapshot {
  return {
    data: init.data ?? EMPTY_BYTES,
    metadata: {
      confState: init.metadata?.confState ?? emptyConfState(),
      index: init.metadata?.index ?? 0,
      term: init.metadata?.term ?? 0,
    },
  };
}

/** Builds a Message with every unspecified field at its zero value. */
export function createMessage(init: Partial<Message> & { type: MessageType }): Message {
  return {
    type: init.type,
    to: init.to ?? 0n,
    from: init.from ?? 0n,
    term: init.term ?? 0,
    logTerm: init.logTerm ?? 0,
    index: init.index ?? 0,
    entries: init.entries ?? [],
    commit: init.commit ?? 0,
    vote: init.vote ?? 0n,
    snapshot: init.snapshot ?? null,
    reject: init.reject ?? false,
    rejectHint: init.rejectHint ?? 0,
    context: init.context ?? EMPTY_BYTES,
    responses: init.responses ?? [],
  };
}

/**
 * The link heartbeat that keeps an idle stream alive: an empty MsgHeartbeat
 * with From = To = 0. Raft never sends a message without From and To, so
 * readers recognise and drop it.
 */
export const LINK_HEARTBEAT: Readonly<Message> = Object.freeze(createMessage({ type: MessageType.MsgHeartbeat }));

export function isLinkHeartbeat(m: Message): boolean {
  return m.type === MessageType.MsgHeartbeat && m.from === 0n && m.to === 0n;
}

export function isMsgSnap(m: Message): boolean {
  return m.type === MessageType.MsgSnap;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function idsEqual(a: readonly Id[], b: readonly Id[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export function entriesEqual(a: Entry, b: Entry): boolean {
  return a.type === b.type && a.term === b.term && a.index === b.index && bytesEqual(a.data, b.data);
}

export function snapshotsEqual(a: Snapshot | null, b: Snapshot | null): boolean {
  if (a === null || b === null) return a === b;
  const ca = a.metadata.confState;
  const cb = b.metadata.confState;
  return (
    bytesEqual(a.data, b.data) &&
    a.metadata.index === b.metadata.index &&
    a.metadata.term === b.metadata.term &&
    idsEqual(ca.voters, cb.voters) &&
    idsEqual(ca.learners, cb.learners) &&
    idsEqual(ca.votersOutgoing, cb.votersOutgoing) &&
    idsEqual(ca.learnersNext, cb.learnersNext) &&
    ca.autoLeave === cb.autoLeave
  );
}

/** Field-for-field equality, the analogue of proto.Equal. */
export function messagesEqual(a: Message, b: Message): boolean {
  return (
    a.type === b.type &&
    a.to === b.to &&
    a.from === b.from &&
    a.term === b.term &&
    a.logTerm === b.logTerm &&
    a.index === b.index &&
    a.commit === b.commit &&
    a.vote === b.vote &&
    a.reject === b.reject &&
    a.rejectHint === b.rejectHint &&
    bytesEqual(a.context, b.context) &&
    a.entries.length === b.entries.length &&
    a.entries.every((e, i) => entriesEqual(e, b.entries[i] as Entry)) &&
    snapshotsEqual(a.snapshot, b.snapshot) &&
    a.responses.length === b.responses.length &&
    a.responses.every((r, i) => messagesEqual(r, b.responses[i] as Message))
  );
}
