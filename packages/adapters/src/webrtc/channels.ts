import { RaftPath, pathOf, streamEndpoint } from '@raftwire/core';
import { BULK_WINDOW_BYTES, WINDOW_BYTES } from './channel-mux.js';

/**
 * The four data channels of a member pair (docs/design.md §5), one per kind of
 * traffic so SCTP never makes a heartbeat wait behind bulk data. They are
 * negotiated out of band (pre-agreed ids), so neither side depends on the
 * other's `datachannel` event and both have them before SCTP opens.
 */
export const CHANNELS = [
  { label: 'msgapp', id: 100 },
  { label: 'message', id: 102 },
  { label: 'pipeline', id: 104 },
  { label: 'snapshot', id: 106 },
] as const;

/** Flow-control window per channel: the bulk channel gets a small one so it never fills the association (channel-mux.ts). */
export function windowForChannel(label: ChannelLabel): number {
  return label === 'snapshot' ? BULK_WINDOW_BYTES : WINDOW_BYTES;
}

export type ChannelLabel = (typeof CHANNELS)[number]['label'];

const MSGAPP_STREAM = `${streamEndpoint('msgappv2')}/`;
const STREAMS = `${RaftPath.stream}/`;

/** Which channel carries a request to `path` (same routing as the HTTP form's endpoints). */
export function channelForPath(path: string): ChannelLabel {
  const p = pathOf(path);
  if (p.startsWith(MSGAPP_STREAM)) return 'msgapp';
  if (p.startsWith(STREAMS)) return 'message';
  if (p === RaftPath.snapshot) return 'snapshot';
  return 'pipeline';
}
