import { ErrorCode, RaftwireError } from '@raftwire/core';
import { describe, expect, it } from 'vitest';
import { ProposalBatch, type ProposalSink } from '../src/proposal-batch.js';

function sink(opts: { looping: boolean; fail?: unknown }) {
  const calls = { kicks: 0, proposed: [] as Uint8Array[][], dropped: [] as number[][], failed: [] as [number[], unknown][] };
  const s: ProposalSink & { looping(): boolean } = {
    looping: () => opts.looping,
    kick: () => {
      calls.kicks++;
    },
    propose: (envelopes) => {
      if (opts.fail !== undefined) throw opts.fail;
      calls.proposed.push(envelopes);
    },
    dropped: (seqs) => {
      calls.dropped.push(seqs);
    },
    failed: (seqs, err) => {
      calls.failed.push([seqs, err]);
    },
  };
  return { s, calls };
}

const env = (i: number) => new Uint8Array([i]);

describe('ProposalBatch', () => {
  it('steps every proposal queued while the loop is busy as one MsgProp, in order, at the next flush', () => {
    const { s, calls } = sink({ looping: true });
    const b = new ProposalBatch(s);
    for (let i = 1; i <= 1000; i++) b.enqueue(i, env(i));
    expect(b.size).toBe(1000);
    expect(calls.proposed).toEqual([]);
    b.flush();
    expect(calls.proposed.length).toBe(1);
    expect(calls.proposed[0]?.map((e) => e[0])).toEqual(Array.from({ length: 1000 }, (_, i) => (i + 1) & 0xff));
    expect(b.pending).toBe(false);
    b.flush(); // nothing queued: no empty MsgProp
    expect(calls.proposed.length).toBe(1);
  });

  it('flushes the proposals of one task together when the loop is idle', async () => {
    const { s, calls } = sink({ looping: false });
    const b = new ProposalBatch(s);
    for (let i = 1; i <= 10; i++) b.enqueue(i, env(i));
    expect(calls.proposed).toEqual([]);
    await Promise.resolve();
    expect(calls.kicks).toBe(1);
    expect(calls.proposed.map((p) => p.length)).toEqual([10]);
  });

  it('hands a dropped batch back with its sequences, and fails every proposal of a batch on any other error', () => {
    const dropped = sink({ looping: true, fail: new RaftwireError(ErrorCode.PROPOSAL_DROPPED, 'no leader') });
    const b1 = new ProposalBatch(dropped.s);
    b1.enqueue(7, env(7));
    b1.enqueue(8, env(8));
    b1.flush();
    expect(dropped.calls.dropped).toEqual([[7, 8]]);
    expect(dropped.calls.failed).toEqual([]);

    const stopped = new RaftwireError(ErrorCode.STOPPED, 'stopped');
    const failing = sink({ looping: true, fail: stopped });
    const b2 = new ProposalBatch(failing.s);
    b2.enqueue(1, env(1));
    b2.enqueue(2, env(2));
    b2.flush();
    expect(failing.calls.failed).toEqual([[[1, 2], stopped]]);
    expect(failing.calls.dropped).toEqual([]);
  });
});
