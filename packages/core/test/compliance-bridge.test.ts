/**
 * core's JSON bridge for compliance members: any message survives the trip
 * (IDs, bytes, nested responses), and a member driven through host → JSON →
 * remote behaves as the member itself (the Chromium compliance run depends on
 * both).
 */
import { MessageType, createMessage, messagesEqual } from '@raftwire/core';
import {
  type ComplianceInvoke,
  LocalComplianceMember,
  MemoryNetwork,
  type Wire,
  complianceMemberHost,
  fromWire,
  remoteComplianceMember,
  toWire,
  waitFor,
} from '@raftwire/core/testing';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { arbMessage } from './arbitraries.js';

const overJson = (v: unknown): unknown => fromWire(JSON.parse(JSON.stringify(toWire(v))) as Wire);

describe('compliance bridge', () => {
  const stops: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const s of stops.splice(0)) await s();
  });

  it('carries any message through JSON equal field for field', () => {
    fc.assert(
      fc.property(arbMessage, (m) => {
        const back = overJson([m]) as [typeof m];
        expect(messagesEqual(back[0], m)).toBe(true);
      }),
      { numRuns: 300 },
    );
    expect(overJson({ a: undefined, b: [undefined, 1n, new Uint8Array([0, 255])] })).toEqual({
      b: [undefined, 1n, new Uint8Array([0, 255])],
    });
  });

  it('drives a member through host, JSON and remote as if it were local', async () => {
    const net = new MemoryNetwork();
    const make = (id: bigint) => {
      const url = `memory://m${id}`;
      return LocalComplianceMember.create({
        id,
        clusterId: 9n,
        url,
        link: net.link(url),
        serve: (h) => {
          net.serve(url, h);
        },
      });
    };
    const [a, b] = [await make(1n), await make(2n)];
    stops.push(
      () => a.stop(),
      () => b.stop(),
      async () => net.close(),
    );
    const host = complianceMemberHost(a);
    const invoke: ComplianceInvoke = async (method, args) =>
      JSON.parse(JSON.stringify(await host(method, JSON.parse(JSON.stringify(args)) as Wire[]))) as Wire;
    const remote = remoteComplianceMember(a.id, a.url, invoke);
    await remote.addPeer(b.id, [b.url]);
    await b.addPeer(a.id, [a.url]);
    const m = createMessage({ type: MessageType.MsgHeartbeat, from: a.id, to: b.id, term: 2, commit: 5 });
    expect(typeof (await remote.send([m]))).toBe('number');
    const [got] = await waitFor(async () => {
      const r = await b.received();
      return r.length > 0 ? r : undefined;
    }, 'the heartbeat at member 2');
    expect(got !== undefined && messagesEqual(got, m)).toBe(true);
    await waitFor(async () => (await remote.activeSince(b.id)) > 0, 'member 2 active at member 1');
    expect((await remote.events()).some((e) => e.name === 'peer:active' && e.id === b.id)).toBe(true);
    expect(await remote.raft()).toEqual(await a.raft());
    // A method that is not the member's is refused on the host's side.
    await expect(host('toString' as never, [])).rejects.toThrow(/not a compliance member method/);
  });
});
