/**
 * createWebRtcMember in Node: three members over node-datachannel data channels, signalling
 * through one in-process hub, elect, replicate and read back; removal stops a member by itself.
 * Opens RTCPeerConnections, so it runs inside tools/loopback-only.
 */
import { networkInterfaces } from 'node:os';
import { ErrorCode, isRaftwireError, silentLogger } from '@raftwire/core';
import { InPageSignalingHub, generateIdentityKeyPair } from '@raftwire/adapters/webrtc';
import { nodePeerConnectionFactory } from '@raftwire/adapters/webrtc/node';
import { DEFAULT_CLUSTER_ID, type RaftMember } from '@raftwire/member';
import { createWebRtcMember, type WebRtcMemberOptions } from '@raftwire/member/webrtc';
import { encodeKvCommand, MemoryStorage } from '@raftwire/raft';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

beforeAll(() => {
  const others = Object.keys(networkInterfaces()).filter((n) => n !== 'lo');
  if (others.length > 0) throw new Error(`WebRTC tests must run inside tools/loopback-only; this namespace also has ${others.join(', ')}`);
});

const timeout = () => ({ signal: AbortSignal.timeout(20_000) });
const put = (k: string, v: string) => encodeKvCommand({ op: 'put', key: k, value: new TextEncoder().encode(v) });
const running: RaftMember[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((m) => m.close()));
});

async function leaderOf(members: RaftMember[]): Promise<RaftMember> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const l = members.find((m) => !m.node.status().stopped && m.node.status().raftState === 'StateLeader');
    if (l) return l;
    if (Date.now() > deadline) throw new Error('no leader elected');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('createWebRtcMember (Node, node-datachannel)', () => {
  it('runs a 3-member cluster over data channels and stops a removed member by itself', async () => {
    const hub = new InPageSignalingHub(DEFAULT_CLUSTER_ID);
    const ids = [1n, 2n, 3n];
    const keys = new Map(await Promise.all(ids.map(async (id) => [id, await generateIdentityKeyPair()] as const)));
    const publicKeys = new Map([...keys].map(([id, k]) => [id, k.publicKey]));
    const members = await Promise.all(
      ids.map((id) =>
        createWebRtcMember({
          id,
          peers: ids,
          signaling: hub,
          peerConnectionFactory: nodePeerConnectionFactory({ stack: 'node-datachannel' }),
          storage: new MemoryStorage(),
          identity: { privateKey: (keys.get(id) as CryptoKeyPair).privateKey, publicKeys },
          logger: silentLogger,
          raft: { tickMs: 20 },
        }),
      ),
    );
    running.push(...members);
    expect(members.map((m) => m.url)).toEqual(['webrtc://1', 'webrtc://2', 'webrtc://3']);
    const leader = await leaderOf(members);
    const follower = members.find((m) => m !== leader) as RaftMember;
    await follower.node.propose(put('over', 'webrtc'), timeout());
    for (const m of members) expect(new TextDecoder().decode(await m.node.read('over', timeout()))).toBe('webrtc');

    await leader.node.removeMember(follower.id, timeout());
    await expect(follower.stopped).resolves.toEqual({ reason: 'removed' });
  });

  it('needs identity or insecure: true, and in Node a peerConnectionFactory, each with a typed error', async () => {
    const hub = new InPageSignalingHub(DEFAULT_CLUSTER_ID);
    const base = { id: 1n, peers: [1n], signaling: hub, storage: new MemoryStorage(), logger: silentLogger };
    const message = async (o: unknown) =>
      createWebRtcMember(o as WebRtcMemberOptions).then(
        (m) => {
          running.push(m);
          return 'created';
        },
        (e: unknown) => (isRaftwireError(e, ErrorCode.INVALID_ARGUMENT) ? e.message : String(e)),
      );
    expect(await message(base)).toMatch(/pass identity .* or insecure: true to run without authentication/);
    const k = await generateIdentityKeyPair();
    expect(await message({ ...base, insecure: true, identity: { privateKey: k.privateKey, publicKeys: new Map() } })).toMatch(
      /exclude each other/,
    );
    expect(await message({ ...base, peers: [1n, 2n], identity: { privateKey: k.privateKey, publicKeys: new Map() } })).toMatch(
      /identity.publicKeys has no key for peer webrtc:\/\/2/,
    );
    expect(await message({ ...base, insecure: true })).toMatch(
      /this runtime has no WebRTC of its own: pass peerConnectionFactory \(in Node: nodePeerConnectionFactory\(\) from @raftwire\/adapters\/webrtc\/node/,
    );
    expect(await message({ ...base, insecure: true, peers: [0n] })).toMatch(/not a non-zero member ID/);
    expect(hub.joined).toEqual([]);
  });
});
