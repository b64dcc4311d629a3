import type { Message } from '@raftwire/core';

export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(s.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** A message as plain JSON (IDs as hex strings, bytes as hex), to compare field by field across the page boundary. */
export type MessageJson = { [key: string]: string | number | boolean | null | MessageJson | MessageJson[] | string[] };

export function messageToJson(m: Message): MessageJson {
  return {
    type: m.type,
    to: m.to.toString(16),
    from: m.from.toString(16),
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    entries: m.entries.map((e) => ({ type: e.type, term: e.term, index: e.index, data: toHex(e.data) })),
    commit: m.commit,
    vote: m.vote.toString(16),
    snapshot:
      m.snapshot === null
        ? null
        : {
            data: toHex(m.snapshot.data),
            index: m.snapshot.metadata.index,
            term: m.snapshot.metadata.term,
            voters: m.snapshot.metadata.confState.voters.map((v) => v.toString(16)),
            learners: m.snapshot.metadata.confState.learners.map((v) => v.toString(16)),
            votersOutgoing: m.snapshot.metadata.confState.votersOutgoing.map((v) => v.toString(16)),
            learnersNext: m.snapshot.metadata.confState.learnersNext.map((v) => v.toString(16)),
            autoLeave: m.snapshot.metadata.confState.autoLeave,
          },
    reject: m.reject,
    rejectHint: m.rejectHint,
    context: toHex(m.context),
    responses: m.responses.map(messageToJson),
  };
}
