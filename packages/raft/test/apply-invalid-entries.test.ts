/**
 * Nothing a committed entry says can stop the apply loop. Entries no current member would
 * propose (written by an older version, or forged) are committed directly through the
 * leader's Raft, bypassing every proposal-time check; each is skipped (or, when valid but
 * refused by one member's transport, applied) the same way on every member, the members keep
 * running and agree, and they do again after restarting, when they re-apply the same log.
 */
import type { Entry, Id } from '@raftwire/core';
import { createEntry, createMessage, EntryType, MessageType } from '@raftwire/core';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfChangeType, encodeConfChange } from '../src/conf-change.js';
import { encodeConfContext, encodeProposal } from '../src/driver-codec.js';
import type { RaftNode } from '../src/raft-node.js';
import type { RawNode } from '../src/raw-node.js';
import { raftOf } from './helpers/raft-of.js';
import { Cluster, dec, put, three, url } from './helpers/node-cluster.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

const NOBODY = { proposer: 0n, incarnation: 0, seq: 0 };
const confChange = (type: number, nodeId: Id, peerUrl: string) =>
  encodeConfChange({ type: type as ConfChangeType, nodeId, context: encodeConfContext(NOBODY, peerUrl) });

/** Appends `entry` through the leader's Raft as if it had been proposed, skipping RaftNode's checks. */
function commitRaw(leader: RaftNode, entry: Entry): void {
  const rn = (leader as unknown as { rn: RawNode }).rn;
  raftOf(rn).step(createMessage({ type: MessageType.MsgProp, from: leader.id, entries: [entry] }));
}

describe('entries that are invalid when applied', () => {
  it('are skipped the same way on every member, which keeps running and agreeing, also after restarts', async () => {
    const c = new Cluster(21);
    cleanup.push(() => c.stopAll());
    const errors: unknown[] = [];
    // Member 3's transport refuses every new peer (as one configured with fewer URL schemes would).
    for (const m of three()) {
      const node = await c.add(m.id, three());
      node.on('error', (e) => errors.push(e));
      if (m.id === 3n) {
        const t = c.net.transportFor(3n);
        node.setTransport({
          ...t,
          addPeer: () => {
            throw new Error('scheme not allowed here');
          },
        });
      }
    }
    await c.until(() => c.leader() !== undefined);
    const leader = c.leader() as RaftNode;
    await c.run(leader.propose(put('a', '1')));

    const cc = (data: Uint8Array) => createEntry({ type: EntryType.EntryConfChange, data });
    const invalid: [string, Entry][] = [
      ['a conf change too short to decode', cc(Uint8Array.of(0, 1, 2))],
      ['an unknown conf change type', cc(Uint8Array.of(7, 0, 0, 0, 0, 0, 0, 0, 4))],
      ['node ID 0', cc(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0))],
      [
        'a peer URL without a port (http://127.0.0.1:80 used to normalise to it)',
        cc(confChange(ConfChangeType.AddNode, 4n, 'http://127.0.0.1')),
      ],
      ['a peer URL not in normal form', cc(confChange(ConfChangeType.AddNode, 4n, 'HTTP://127.0.0.1:2390/'))],
      ['a peer URL of 600 characters', cc(confChange(ConfChangeType.AddNode, 4n, `http://${'a'.repeat(590)}:1`))],
      ["another member's peer URL", cc(confChange(ConfChangeType.AddNode, 4n, url(2n)))],
      ['an ID that is already a member', cc(confChange(ConfChangeType.AddNode, 2n, 'http://127.0.0.1:2399'))],
      ['the removal of a member that does not exist', cc(confChange(ConfChangeType.RemoveNode, 9n, ''))],
      ['the promotion of a voter', cc(confChange(ConfChangeType.AddNode, 2n, ''))],
      ['a proposal that is not a driver envelope', createEntry({ data: Uint8Array.of(0xff, 1, 2, 3) })],
      ['a key-value command that cannot be decoded', createEntry({ data: encodeProposal(NOBODY, Uint8Array.of(9, 9)) })],
    ];
    for (const [, e] of invalid) {
      commitRaw(leader, e);
      const target = (c.leader() as RaftNode).status().lastIndex;
      await c.until(() => [...c.nodes.values()].every((n) => n.status().applied >= target));
    }
    // A valid change that member 3's transport refuses: applied everywhere, member 3 logs it.
    commitRaw(leader, cc(confChange(ConfChangeType.AddLearnerNode, 6n, 'webrtc://6')));
    const target = leader.status().lastIndex;
    await c.until(() => [...c.nodes.values()].every((n) => n.status().applied >= target));

    const agree = () => {
      const views = [...c.nodes.values()].map((n) =>
        JSON.stringify(n.status().members, (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
      );
      expect(new Set(views).size).toBe(1);
      expect(c.node(1n).status().members).toEqual([
        { id: 1n, url: url(1n), learner: false },
        { id: 2n, url: url(2n), learner: false },
        { id: 3n, url: url(3n), learner: false },
        { id: 6n, url: 'webrtc://6', learner: true },
      ]);
      for (const n of c.nodes.values()) {
        expect(n.status().stopped).toBe(false);
        expect(n.status().learners).toEqual([6n]);
      }
    };
    agree();
    expect(errors).toEqual([]);
    await c.run((c.leader() as RaftNode).propose(put('b', '2')));
    for (const n of c.nodes.values()) expect(dec(await c.run(n.read('b')))).toBe('2');

    // Restart every member from its storage: the same entries are applied (and skipped) again.
    const applied = leader.status().applied;
    for (const id of [1n, 2n, 3n]) {
      await c.node(id).stop();
      c.net.unregister(id);
      const node = await c.add(id, three(), c.storages.get(id));
      node.on('error', (e) => errors.push(e));
    }
    await c.until(() => c.leader() !== undefined && [...c.nodes.values()].every((n) => n.status().applied >= applied));
    agree();
    expect(errors).toEqual([]);
    await c.run((c.leader() as RaftNode).propose(put('c', '3')));
    for (const n of c.nodes.values()) {
      expect(dec(await c.run(n.read('a')))).toBe('1');
      expect(dec(await c.run(n.read('c')))).toBe('3');
    }
  });
});
