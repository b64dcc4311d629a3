import { type Message, MessageType, formatId, messageTypeName } from '@raftwire/core';

/** What the demo shows of one Raft message (no payload bytes). */
export interface MessageInfo {
  from: string;
  to: string;
  /** etcd's name: `MsgApp`, `MsgVoteResp`, … */
  type: string;
  term: number;
  /** MsgApp: index of the entry before the ones carried; MsgAppResp: the follower's last index. */
  index: number;
  logTerm: number;
  commit: number;
  entries: number;
  reject: boolean;
  /** MsgSnap: the snapshot's last index. */
  snapshotIndex: number;
}

export function messageInfo(m: Message): MessageInfo {
  return {
    from: formatId(m.from),
    to: formatId(m.to),
    type: messageTypeName(m.type),
    term: m.term,
    index: m.index,
    logTerm: m.logTerm,
    commit: m.commit,
    entries: m.entries.length,
    reject: m.reject,
    snapshotIndex: m.type === MessageType.MsgSnap ? (m.snapshot?.metadata.index ?? 0) : 0,
  };
}

/** Responses are drawn as rings, requests as filled dots. */
export function isResponse(type: string): boolean {
  return type.endsWith('Resp');
}

function range(first: number, n: number): string {
  return n === 1 ? `${first}` : `${first}–${first + n - 1}`;
}

/** A few words saying what the message carries, drawn beside its dot: `vote t3`, `append 5–7`, `yes`. */
export function messageLabel(i: MessageInfo): string {
  switch (i.type) {
    case 'MsgPreVote':
      return `pre-vote t${i.term}?`;
    case 'MsgVote':
      return `vote t${i.term}?`;
    case 'MsgPreVoteResp':
    case 'MsgVoteResp':
      return i.reject ? 'no' : 'yes';
    case 'MsgApp':
      return i.entries > 0 ? `append ${range(i.index + 1, i.entries)}` : `commit ${i.commit}`;
    case 'MsgAppResp':
      return i.reject ? `reject ${i.index}` : `has ${i.index}`;
    case 'MsgHeartbeat':
    case 'MsgHeartbeatResp':
      return '';
    case 'MsgSnap':
      return `snapshot ≤${i.snapshotIndex}`;
    case 'MsgProp':
      return i.entries === 1 ? 'proposal' : `${i.entries} proposals`;
    case 'MsgReadIndex':
      return 'read?';
    case 'MsgReadIndexResp':
      return `read ${i.index}`;
    case 'MsgTransferLeader':
      return 'transfer';
    case 'MsgTimeoutNow':
      return 'campaign now';
    default:
      return '';
  }
}

/** One sentence for the event log and the step report: `MsgVote 3 → 2 (term 3)`. */
export function messageSentence(i: MessageInfo): string {
  // A proposal forwarded to the leader carries no term (0): say only what it is.
  const parts = [i.term > 0 ? `term ${i.term}` : '', messageLabel(i)].filter(Boolean);
  return `${i.type} ${i.from} → ${i.to}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}`;
}
