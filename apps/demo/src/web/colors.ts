/** Colour of a message type in the diagram and legend. */
export const MESSAGE_COLORS: Record<string, string> = {
  MsgApp: '#1c7ed6',
  MsgAppResp: '#74c0fc',
  MsgHeartbeat: '#2b8a3e',
  MsgHeartbeatResp: '#8ce99a',
  MsgVote: '#e8590c',
  MsgVoteResp: '#ffa94d',
  MsgPreVote: '#f59f00',
  MsgPreVoteResp: '#ffe066',
  MsgSnap: '#ae3ec9',
  MsgProp: '#495057',
};

/** Legend groups (type names → label). */
export const LEGEND: [string, string][] = [
  ['MsgApp', 'append entries'],
  ['MsgAppResp', 'append response'],
  ['MsgHeartbeat', 'heartbeat'],
  ['MsgHeartbeatResp', 'heartbeat response'],
  ['MsgPreVote', 'pre-vote'],
  ['MsgVote', 'vote'],
  ['MsgVoteResp', 'vote response'],
  ['MsgSnap', 'snapshot'],
  ['MsgProp', 'other (proposal forward, …)'],
];

export function messageColor(type: string): string {
  return MESSAGE_COLORS[type] ?? MESSAGE_COLORS['MsgProp'] ?? '#495057';
}

/** Fill of a member by role. */
export const ROLE_COLORS: Record<string, string> = {
  leader: '#ffd43b',
  candidate: '#ff8787',
  precandidate: '#ffc9c9',
  follower: '#d0ebff',
  stopped: '#dee2e6',
  removed: '#dee2e6',
  unknown: '#f1f3f5',
};

/** Human names of the transport paths. */
export const PATH_NAMES: Record<string, string> = {
  streamMsgAppV2: 'msgapp stream',
  streamMsg: 'message stream',
  pipeline: 'pipeline',
  snapshot: 'snapshot',
};
