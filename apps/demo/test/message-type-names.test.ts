/**
 * The demo names message types in its traces and event log exactly as core
 * does (`MsgApp`, and etcd's `MessageType(99)` for a number this build does
 * not know), through a real DemoMember over a real Transport.
 */
import { InPageSignalingHub, generateIdentityKeyPair, webrtcUrl } from '@raftwire/adapters/webrtc';
import { nodePeerConnectionFactory } from '@raftwire/adapters/webrtc/node';
import { type MessageType, messageTypeName } from '@raftwire/core';
import { MemoryStorage } from '@raftwire/raft';
import { afterEach, describe, expect, it } from 'vitest';
import { DemoMember, type TransportTrace } from '../src/shared/demo-member.js';
import { DemoTime } from '../src/shared/demo-time.js';

describe('message type names in the demo', () => {
  let member: DemoMember | undefined;
  const time = new DemoTime();
  afterEach(async () => {
    await member?.stop();
    member = undefined;
    time.close();
  });

  it("are core's, unknown numbers included", async () => {
    const events: TransportTrace[] = [];
    const m = new DemoMember({
      id: 1n,
      clusterId: 0x5n,
      identity: { privateKey: (await generateIdentityKeyPair()).privateKey, publicKeys: new Map() },
      signaling: new InPageSignalingHub(0x5n),
      factory: nodePeerConnectionFactory({ stack: 'node-datachannel' }),
      storage: new MemoryStorage(),
      peers: [{ id: 1n, url: webrtcUrl(1n) }],
      time,
      onTransportEvent: (e) => events.push(e),
    });
    member = m;
    await m.start();
    // A drop the transport reports, once for a known type and once for a number from a newer peer.
    for (const type of [3, 99]) m.transport.emit('message:dropped', { to: 2n, type: type as MessageType, reason: 'buffer-full' });
    expect(events.filter((e) => e.event === 'message:dropped').map((e) => e.detail)).toEqual([
      `${messageTypeName(3)} (buffer-full)`,
      'MessageType(99) (buffer-full)',
    ]);
    expect(messageTypeName(3)).toBe('MsgApp');
  });
});
