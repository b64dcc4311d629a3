import { EntryType, createEntry } from '@raftwire/core';
import { describe, expect, it } from 'vitest';
import { ConfChangeType, encodeConfChange } from '../src/conf-change.js';
import { encodeConfContext, encodeProposal } from '../src/driver-codec.js';
import { readEntry } from '../src/entry-content.js';

const pid = { proposer: 3n, incarnation: 7, seq: 9 };

describe('readEntry', () => {
  it('reads each kind of entry RaftNode writes', () => {
    expect(readEntry(createEntry({ index: 2, term: 2 }))).toEqual({ kind: 'empty' });
    const cmd = new Uint8Array([1, 2, 3]);
    expect(readEntry(createEntry({ index: 3, term: 2, data: encodeProposal(pid, cmd) }))).toEqual({
      kind: 'command',
      data: cmd,
      proposer: 3n,
    });
    const add = encodeConfChange({ type: ConfChangeType.AddNode, nodeId: 5n, context: encodeConfContext(pid, 'webrtc://5') });
    expect(readEntry(createEntry({ index: 4, term: 2, type: EntryType.EntryConfChange, data: add }))).toEqual({
      kind: 'add-member',
      id: 5n,
      url: 'webrtc://5',
    });
    const remove = encodeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 4n, context: encodeConfContext(pid, '') });
    expect(readEntry(createEntry({ index: 5, term: 2, type: EntryType.EntryConfChange, data: remove }))).toEqual({
      kind: 'remove-member',
      id: 4n,
    });
  });

  it('refuses bytes RaftNode never writes with ERR_CORRUPT', () => {
    for (const e of [
      createEntry({ index: 6, term: 2, data: new Uint8Array([9, 9]) }),
      createEntry({ index: 7, term: 2, type: EntryType.EntryConfChange, data: new Uint8Array([7]) }),
      createEntry({ index: 8, term: 2, type: EntryType.EntryConfChangeV2, data: new Uint8Array(0) }),
    ])
      expect(() => readEntry(e)).toThrow(expect.objectContaining({ code: 'ERR_CORRUPT' }));
  });
});
