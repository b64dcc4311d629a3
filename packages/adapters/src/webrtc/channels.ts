import { RaftPath, pathOf, streamEndpoint } from '@raftwire/core';
import {
  BULK_GRANT_STEP_BYTES,
  BULK_SEND_WINDOW_BYTES,
  BULK_WINDOW_BYTES,
  DEFAULT_MSGAPP_RECEIVE_WINDOW_BYTES,
  WINDOW_BYTES,
} from './channel-mux.js';

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

/**
 * Flow control a channel's multiplexer runs with: the protocol's window (both ends agree), what
 * this end keeps in flight as a sender, and the step it grants credit back in as a receiver. The
 * bulk channel keeps less in flight than its window allows and grants in small steps, so a
 * heartbeat never has more than {@link BULK_SEND_WINDOW_BYTES} of snapshot ahead of it, and
 * lets the event loop turn before each snapshot message, so a heartbeat due now goes first.
 * The msgapp stream's receiver lets `msgappReceiveWindowBytes` stay unread (default
 * {@link DEFAULT_MSGAPP_RECEIVE_WINDOW_BYTES}; granted beyond the protocol window when the
 * exchange starts), so the stream is not window-bound.
 */
export function flowForChannel(
  label: ChannelLabel,
  msgappReceiveWindowBytes: number = DEFAULT_MSGAPP_RECEIVE_WINDOW_BYTES,
): {
  windowBytes: number;
  sendWindowBytes: number;
  grantStepBytes: number;
  yieldPerMessage: boolean;
  receiveWindowBytes?: number;
} {
  const windowBytes = windowForChannel(label);
  if (label === 'snapshot') {
    return { windowBytes, sendWindowBytes: BULK_SEND_WINDOW_BYTES, grantStepBytes: BULK_GRANT_STEP_BYTES, yieldPerMessage: true };
  }
  const receiveWindowBytes = label === 'msgapp' ? msgappReceiveWindowBytes : windowBytes;
  return { windowBytes, sendWindowBytes: windowBytes, grantStepBytes: windowBytes / 4, yieldPerMessage: false, receiveWindowBytes };
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
