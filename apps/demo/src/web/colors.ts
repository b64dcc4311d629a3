/**
 * How each Raft message type is drawn. Every type one member can send another has its own
 * colour; a request is a filled dot, its response a ring in a darker shade of the same hue, so
 * pairs read together and no two types look alike.
 */
export interface MessageStyle {
  color: string;
  /** Filled dot (request) or ring (response). */
  shape: 'dot' | 'ring';
  /** Legend text. */
  label: string;
  /** Legend group. */
  group: 'election' | 'replication' | 'forwarding' | 'leadership';
}

export const MESSAGE_STYLES: Record<string, MessageStyle> = {
  MsgPreVote: { color: '#ae3ec9', shape: 'dot', label: 'pre-vote request', group: 'election' },
  MsgPreVoteResp: { color: '#862e9c', shape: 'ring', label: 'pre-vote answer', group: 'election' },
  MsgVote: { color: '#f76707', shape: 'dot', label: 'vote request', group: 'election' },
  MsgVoteResp: { color: '#c2410c', shape: 'ring', label: 'vote answer', group: 'election' },
  MsgApp: { color: '#1c7ed6', shape: 'dot', label: 'append entries', group: 'replication' },
  MsgAppResp: { color: '#1864ab', shape: 'ring', label: 'append answer', group: 'replication' },
  MsgHeartbeat: { color: '#37b24d', shape: 'dot', label: 'heartbeat', group: 'replication' },
  MsgHeartbeatResp: { color: '#2b8a3e', shape: 'ring', label: 'heartbeat answer', group: 'replication' },
  MsgSnap: { color: '#d6336c', shape: 'dot', label: 'snapshot', group: 'replication' },
  MsgProp: { color: '#868e96', shape: 'dot', label: 'proposal forwarded to the leader', group: 'forwarding' },
  MsgReadIndex: { color: '#212529', shape: 'dot', label: 'read-index request', group: 'forwarding' },
  MsgReadIndexResp: { color: '#000000', shape: 'ring', label: 'read-index answer', group: 'forwarding' },
  MsgTransferLeader: { color: '#a0522d', shape: 'dot', label: 'leadership transfer', group: 'leadership' },
  MsgTimeoutNow: { color: '#fcc419', shape: 'dot', label: 'campaign now (transfer)', group: 'leadership' },
};

const UNKNOWN: MessageStyle = { color: '#ced4da', shape: 'dot', label: 'other', group: 'forwarding' };

export function messageStyle(type: string): MessageStyle {
  return MESSAGE_STYLES[type] ?? UNKNOWN;
}

/** Fill of a member by role. */
export const ROLE_COLORS: Record<string, string> = {
  leader: '#ffd43b',
  candidate: '#ff8787',
  precandidate: '#ffc9c9',
  follower: '#d0ebff',
  stopped: '#dee2e6',
  removed: '#dee2e6',
  starting: '#f1f3f5',
};

/** Words for a role, as drawn in a member. */
export const ROLE_NAMES: Record<string, string> = {
  leader: 'leader',
  candidate: 'candidate',
  precandidate: 'pre-candidate',
  follower: 'follower',
  stopped: 'stopped',
  removed: 'removed',
  starting: 'starting…',
};

/** Shorter words for a role, where room is tight (the log strips). */
export const ROLE_SHORT: Record<string, string> = {
  ...ROLE_NAMES,
  precandidate: 'pre-cand.',
  candidate: 'candidate',
  starting: 'starting',
};

/** Log entries are coloured by term: one colour per term, cycling. */
const TERM_COLORS = ['#e9ecef', '#ffe8cc', '#d3f9d8', '#d0ebff', '#f3d9fa', '#fff3bf', '#c5f6fa', '#ffdeeb', '#e5dbff'];

export function termColor(term: number): string {
  return TERM_COLORS[term % TERM_COLORS.length] as string;
}

/** Human names of the transport paths. */
export const PATH_NAMES: Record<string, string> = {
  streamMsgAppV2: 'msgapp stream',
  streamMsg: 'message stream',
  pipeline: 'pipeline',
  snapshot: 'snapshot',
};
