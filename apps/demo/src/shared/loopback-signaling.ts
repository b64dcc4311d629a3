import type { PeerSignalData, SignalMessage, Signaling, SignalingEndpoint, SignalingJoinOptions } from '@raftwire/adapters/webrtc';
import { ErrorCode, RaftwireError, isRaftwireError } from '@raftwire/core';

/** True for an address that stays on this machine: 127.0.0.1 or ::1. */
export function isLoopbackAddress(address: string): boolean {
  const a = address
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  return a === '127.0.0.1' || a === '::1';
}

/** The connection address of an ICE candidate line (`candidate:<f> <c> <proto> <prio> <address> <port> typ …`). */
export function candidateAddress(candidate: string): string | undefined {
  const parts = candidate.replace(/^a=/, '').trim().split(/\s+/);
  return parts[4];
}

function loopbackSdp(sdp: string): string {
  return sdp
    .split(/\r\n/)
    .filter((line) => {
      if (!line.startsWith('a=candidate:')) return true;
      const addr = candidateAddress(line);
      return addr !== undefined && isLoopbackAddress(addr);
    })
    .join('\r\n');
}

/**
 * Cleans one received signal: drops a remote ICE candidate whose address is
 * not 127.0.0.1 or ::1 (returns undefined), and strips such candidates from
 * an SDP. Everything else passes unchanged.
 */
export function loopbackOnlySignal(msg: SignalMessage): SignalMessage | undefined {
  if (msg.kind !== 'signal' || msg.data === undefined) return msg;
  const data: PeerSignalData = msg.data;
  const cand = data['candidate'];
  if (typeof cand === 'object' && cand !== null) {
    const line = (cand as Record<string, unknown>)['candidate'];
    if (typeof line !== 'string') return undefined;
    if (line === '') return msg; // end-of-candidates
    const addr = candidateAddress(line);
    return addr !== undefined && isLoopbackAddress(addr) ? msg : undefined;
  }
  const sdp = data['sdp'];
  if (typeof sdp === 'string') return { ...msg, data: { ...data, sdp: loopbackSdp(sdp) } };
  return msg;
}

/** Counts what {@link loopbackOnlySignaling} dropped (shown by the demo). */
export interface LoopbackFilterStats {
  droppedCandidates: number;
}

/**
 * Wraps a signalling service so every member that joins through it only
 * ever hands loopback ICE candidates to its peer connection: remote
 * candidates whose address is not 127.0.0.1 or ::1 are dropped on receipt.
 */
export function loopbackOnlySignaling(inner: Signaling, stats: LoopbackFilterStats = { droppedCandidates: 0 }): Signaling {
  return {
    join(options: SignalingJoinOptions): Promise<SignalingEndpoint> {
      return inner.join({
        ...options,
        onSignal: (msg) => {
          const clean = loopbackOnlySignal(msg);
          if (clean === undefined) {
            stats.droppedCandidates++;
            return;
          }
          options.onSignal(clean);
        },
      });
    },
  };
}

/**
 * Routes a member's signals by recipient: members in `routeTo` through
 * `remote`, everyone else through `local`. Incoming signals from both reach
 * the member. (A page's members talk to each other in-page and to the Node
 * member over the HTTP relay.)
 */
export function routedSignaling(local: Signaling, remote: Signaling, routeTo: (memberHex: string) => boolean): Signaling {
  return {
    async join(options: SignalingJoinOptions): Promise<SignalingEndpoint> {
      const a = await local.join(options);
      let b: SignalingEndpoint;
      try {
        b = await remote.join(options);
      } catch (err) {
        a.close();
        throw err;
      }
      return {
        memberId: options.memberId,
        send: (message, opts) => (routeTo(message.to) ? b.send(message, opts) : a.send(message, opts)),
        close: () => {
          a.close();
          b.close();
        },
      };
    },
  };
}

/** How long signals to a member that is not in signalling are refused without asking again. */
export interface AbsentBackoff {
  /** First wait after the service said the member is not there. Default 500 ms. */
  minMs?: number;
  /** Longest wait (it doubles while the member stays away). Default 4 s. */
  maxMs?: number;
  now?: () => number;
}

/**
 * Wraps a signalling service so a member that is not there (a stopped
 * member: the service answers ERR_MEMBER_NOT_FOUND) is asked again at most
 * once per backoff window, doubling while it stays away; meanwhile sends to it
 * fail at once with the same error. A signal from that member ends its
 * backoff. Without this, each member that keeps redialling a stopped peer asks
 * the relay several times a second (and the browser logs every refusal).
 */
export function absentMemberBackoff(inner: Signaling, options: AbsentBackoff = {}): Signaling {
  const minMs = options.minMs ?? 500;
  const maxMs = options.maxMs ?? 4000;
  const now = options.now ?? (() => Date.now());
  return {
    async join(opts: SignalingJoinOptions): Promise<SignalingEndpoint> {
      const away = new Map<string, { until: number; wait: number }>();
      const ep = await inner.join({
        ...opts,
        onSignal: (msg) => {
          away.delete(msg.from);
          opts.onSignal(msg);
        },
      });
      // Sends to one recipient go one after another, so a burst of redials waits for the first answer.
      const last = new Map<string, Promise<unknown>>();
      const sendNow = async (message: SignalMessage, sendOpts?: { signal?: AbortSignal }): Promise<void> => {
        const a = away.get(message.to);
        if (a && now() < a.until) {
          throw new RaftwireError(
            ErrorCode.MEMBER_NOT_FOUND,
            `member ${message.to} is not in signalling; asking again in ${Math.ceil(a.until - now())} ms`,
          );
        }
        try {
          await ep.send(message, sendOpts);
          away.delete(message.to);
        } catch (err) {
          if (isRaftwireError(err, ErrorCode.MEMBER_NOT_FOUND)) {
            const wait = a ? Math.min(maxMs, a.wait * 2) : minMs;
            away.set(message.to, { until: now() + wait, wait });
          }
          throw err;
        }
      };
      return {
        memberId: ep.memberId,
        send: (message, sendOpts) => {
          const p = (last.get(message.to) ?? Promise.resolve()).then(() => sendNow(message, sendOpts));
          const settled = p.catch(() => {});
          last.set(message.to, settled);
          void settled.then(() => {
            if (last.get(message.to) === settled) last.delete(message.to);
          });
          return p;
        },
        close: () => ep.close(),
      };
    },
  };
}
