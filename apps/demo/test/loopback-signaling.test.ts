import { InPageSignalingHub, type SignalMessage, type Signaling, type SignalingJoinOptions } from '@raftwire/adapters/webrtc';
import { describe, expect, it } from 'vitest';
import {
  absentMemberBackoff,
  isLoopbackAddress,
  loopbackOnlySignal,
  loopbackOnlySignaling,
  routedSignaling,
} from '../src/shared/loopback-signaling.js';

const base = { clusterId: '1', from: '2', to: '1', session: 's1' } as const;
function candidate(line: string): SignalMessage {
  return { ...base, kind: 'signal', data: { type: 'candidate', candidate: { candidate: line, sdpMLineIndex: 0, sdpMid: '0' } } };
}

// Non-loopback inputs use the documentation ranges of RFC 5737 (192.0.2.0/24, 198.51.100.0/24,
// 203.0.113.0/24): the filter must drop them, and nothing is ever sent to any of them.
describe('loopback-only ICE filter', () => {
  it('knows loopback addresses', () => {
    expect(isLoopbackAddress('127.0.0.1')).toBe(true);
    expect(isLoopbackAddress('::1')).toBe(true);
    expect(isLoopbackAddress('[::1]')).toBe(true);
    for (const a of ['127.0.0.2', '198.51.100.7', '203.0.113.5', 'fe80::1', 'abcd.local', '::', ''])
      expect(isLoopbackAddress(a)).toBe(false);
  });

  it('passes loopback candidates and drops every other one', () => {
    const ok = candidate('candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0');
    expect(loopbackOnlySignal(ok)).toEqual(ok);
    const ok6 = candidate('candidate:1 1 udp 2122260223 ::1 50000 typ host');
    expect(loopbackOnlySignal(ok6)).toEqual(ok6);
    expect(loopbackOnlySignal(candidate('candidate:2 1 udp 2122260223 192.0.2.20 50001 typ host'))).toBeUndefined();
    expect(
      loopbackOnlySignal(candidate('candidate:3 1 udp 1686052607 203.0.113.9 50002 typ srflx raddr 192.0.2.1 rport 0')),
    ).toBeUndefined();
    expect(loopbackOnlySignal(candidate('candidate:4 1 udp 2122260223 3f1c2a.local 50003 typ host'))).toBeUndefined();
    const garbage: SignalMessage = { ...base, kind: 'signal', data: { candidate: { candidate: 42 } } };
    expect(loopbackOnlySignal(garbage)).toBeUndefined();
  });

  it('strips non-loopback candidate lines from an SDP and keeps the rest', () => {
    const sdp = [
      'v=0',
      'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
      'a=candidate:1 1 udp 1 127.0.0.1 5000 typ host',
      'a=candidate:2 1 udp 1 198.51.100.23 5001 typ host',
      'a=mid:0',
      '',
    ].join('\r\n');
    const out = loopbackOnlySignal({ ...base, kind: 'signal', data: { type: 'offer', sdp } });
    const text = String(out?.data?.['sdp']);
    expect(text).toContain('127.0.0.1 5000');
    expect(text).not.toContain('198.51.100.23');
    expect(text).toContain('a=mid:0');
  });

  it('passes connect and close signals untouched', () => {
    const c: SignalMessage = { ...base, kind: 'connect' };
    expect(loopbackOnlySignal(c)).toBe(c);
  });

  it('wraps a signalling service: the member never sees a dropped candidate', async () => {
    let deliver: ((m: SignalMessage) => void) | undefined;
    const inner: Signaling = {
      join: async (o: SignalingJoinOptions) => {
        deliver = o.onSignal;
        return { memberId: o.memberId, send: async () => {}, close: () => {} };
      },
    };
    const stats = { droppedCandidates: 0 };
    const seen: SignalMessage[] = [];
    await loopbackOnlySignaling(inner, stats).join({ clusterId: 1n, memberId: 2n, onSignal: (m) => seen.push(m) });
    deliver?.(candidate('candidate:2 1 udp 2122260223 192.0.2.20 50001 typ host'));
    deliver?.(candidate('candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host'));
    expect(seen).toHaveLength(1);
    expect(stats.droppedCandidates).toBe(1);
  });

  it('routes sends by recipient and closes both endpoints', async () => {
    const log: string[] = [];
    const svc = (name: string): Signaling => ({
      join: async (o) => ({
        memberId: o.memberId,
        send: async (m) => void log.push(`${name}->${m.to}`),
        close: () => void log.push(`${name} closed`),
      }),
    });
    const ep = await routedSignaling(svc('hub'), svc('relay'), (to) => to === '1').join({
      clusterId: 1n,
      memberId: 3n,
      onSignal: () => {},
    });
    await ep.send({ ...base, from: '3', to: '1', kind: 'connect' });
    await ep.send({ ...base, from: '3', to: '2', kind: 'connect' });
    ep.close();
    expect(log).toEqual(['relay->1', 'hub->2', 'hub closed', 'relay closed']);
  });

  it('asks for a member that is not in signalling at most once per backoff window, until it shows up', async () => {
    const hub = new InPageSignalingHub(1n);
    const asked: string[] = [];
    // The hub, counting what reaches it.
    const counted: Signaling = {
      join: async (o) => {
        const ep = await hub.join(o);
        return {
          ...ep,
          send: (m, opts) => {
            asked.push(m.to);
            return ep.send(m, opts);
          },
        };
      },
    };
    let now = 0;
    const ep = await absentMemberBackoff(counted, { minMs: 500, maxMs: 2000, now: () => now }).join({
      clusterId: 1n,
      memberId: 2n,
      onSignal: () => {},
    });
    const connect: SignalMessage = { ...base, from: '2', to: '1', kind: 'connect' };
    const notFound = { code: 'ERR_MEMBER_NOT_FOUND' };
    await expect(ep.send(connect)).rejects.toMatchObject(notFound);
    for (let i = 0; i < 5; i++) await expect(ep.send(connect)).rejects.toMatchObject(notFound);
    expect(asked).toEqual(['1']);
    now = 500;
    await expect(ep.send(connect)).rejects.toMatchObject(notFound);
    expect(asked).toEqual(['1', '1']);
    now = 1499; // the wait doubled to 1 s
    await expect(ep.send(connect)).rejects.toMatchObject(notFound);
    expect(asked).toHaveLength(2);
    // Member 1 joins and signals: the backoff ends at once.
    const one = await hub.join({ clusterId: 1n, memberId: 1n, onSignal: () => {} });
    await one.send({ ...base, from: '1', to: '2', kind: 'connect' });
    await new Promise((r) => setTimeout(r, 0));
    await ep.send(connect);
    expect(asked).toEqual(['1', '1', '1']);
  });
});
