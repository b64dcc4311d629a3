import { type Entry, formatId } from '@raftwire/core';
import { type Storage, decodeKvCommand, readEntry } from '@raftwire/raft';

/** One log entry as the demo shows it. */
export interface EntryView {
  index: number;
  term: number;
  kind: 'put' | 'delete' | 'noop' | 'add' | 'remove' | 'other';
  /** Short text drawn in the entry (the value, `+5`, …). */
  text: string;
  /** Everything, for its tooltip: `put greeting = hello`. */
  detail: string;
}

/** The tail of one member's log. */
export interface LogView {
  /** Index of the first entry still in the log (older ones are in the snapshot). */
  firstIndex: number;
  lastIndex: number;
  /** The snapshot's last index (0: none). */
  snapshotIndex: number;
  commit: number;
  applied: number;
  /** The last entries, oldest first. */
  entries: EntryView[];
}

const utf8 = new TextDecoder();

function shorten(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** What a log entry holds, decoded the way the demo's members write it (KV puts and membership changes). */
export function describeEntry(e: Entry): EntryView {
  const base = { index: e.index, term: e.term };
  try {
    const c = readEntry(e);
    if (c.kind === 'add-member')
      return { ...base, kind: 'add', text: `+${formatId(c.id)}`, detail: `add member ${formatId(c.id)} (${c.url})` };
    if (c.kind === 'remove-member')
      return { ...base, kind: 'remove', text: `−${formatId(c.id)}`, detail: `remove member ${formatId(c.id)}` };
    if (c.kind === 'empty') return { ...base, kind: 'noop', text: '·', detail: 'empty entry a new leader appends to commit its term' };
    const cmd = decodeKvCommand(c.data);
    if (cmd.op === 'delete') return { ...base, kind: 'delete', text: `✕${shorten(cmd.key, 6)}`, detail: `delete ${cmd.key}` };
    const value = utf8.decode(cmd.value);
    return { ...base, kind: 'put', text: shorten(value, 8), detail: `put ${cmd.key} = ${shorten(value, 200)}` };
  } catch {
    return { ...base, kind: 'other', text: '?', detail: `${e.data.length} bytes the demo cannot decode` };
  }
}

/** The last `max` entries of a member's log with its commit and applied index. */
export function logView(storage: Storage, commit: number, applied: number, max: number): LogView {
  const lastIndex = storage.lastIndex();
  const firstIndex = storage.firstIndex();
  const snapshotIndex = storage.snapshot().metadata.index;
  const lo = Math.max(firstIndex, lastIndex - max + 1);
  const entries = lo <= lastIndex ? storage.entries(lo, lastIndex + 1).map(describeEntry) : [];
  return { firstIndex, lastIndex, snapshotIndex, commit, applied, entries };
}
