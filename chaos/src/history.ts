/**
 * The record of a run: every client operation with its invoke and completion
 * times and what is known about its outcome.
 *
 * - `ok`: the member answered with a result; the operation took effect
 *   exactly once, between `invoke` and `complete`.
 * - `fail`: the answer proves the operation did not take effect (a 4xx
 *   refusal before anything was proposed, a refused connection).
 * - `unknown`: anything else (timeout, reset connection, 5xx): the operation
 *   may have taken effect at any time after `invoke`, even after the run, or
 *   not at all.
 */

export type KvOpKind = 'put' | 'get' | 'delete';
export type Outcome = 'ok' | 'fail' | 'unknown';

export interface KvOperation {
  /** Position in the history (unique). */
  id: number;
  /** Who issued it: a client name (`c3`), or `final` for the read-back after the run. */
  client: string;
  /** The member lane it was sent to (`m1`…). */
  member: string;
  kind: KvOpKind;
  key: string;
  /** The value written by a put (unique per put within a history). */
  value?: string;
  /** ms since the start of the run. */
  invoke: number;
  /** ms since the start of the run when the answer (or the give-up) came; null while in flight. */
  complete: number | null;
  outcome: Outcome;
  /** A get's value (null: the key was absent). */
  read?: string | null;
  /** A delete's answer: whether the key existed. */
  existed?: boolean;
  /** Why the outcome is `fail` or `unknown` (HTTP status and code, or the socket error). */
  error?: string;
}

/** One history entry per line (JSONL). */
export function historyToJsonl(ops: readonly KvOperation[]): string {
  let out = '';
  for (const op of ops) out += `${JSON.stringify(op)}\n`;
  return out;
}

/** Parses {@link historyToJsonl}'s output. */
export function historyFromJsonl(text: string): KvOperation[] {
  const ops: KvOperation[] = [];
  for (const line of text.split('\n')) if (line.trim() !== '') ops.push(JSON.parse(line) as KvOperation);
  return ops;
}

/** A short human-readable form: `c3 put(k1, "c3-17") ok [12.301–12.340 s] on m2`. */
export function describeOp(op: KvOperation): string {
  let what: string;
  if (op.kind === 'put') what = `put(${op.key}, ${JSON.stringify(op.value)})`;
  else if (op.kind === 'get') what = `get(${op.key})`;
  else what = `delete(${op.key})`;
  let result = '';
  if (op.outcome === 'ok' && op.kind === 'get')
    result = ` → ${op.read === null || op.read === undefined ? 'absent' : JSON.stringify(op.read)}`;
  if (op.outcome === 'ok' && op.kind === 'delete') result = ` → existed=${String(op.existed)}`;
  const end = op.complete === null ? '…' : (op.complete / 1000).toFixed(3);
  const err = op.error ? ` (${op.error})` : '';
  return `#${op.id} ${op.client} ${what}${result} ${op.outcome}${err} [${(op.invoke / 1000).toFixed(3)}–${end} s] on ${op.member}`;
}
