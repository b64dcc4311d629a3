/**
 * Drives a {@link ComplianceMember} that lives somewhere else (a browser page,
 * a worker, another process) over any channel that carries JSON: the member's
 * side wraps it with {@link complianceMemberHost}, the suite's side gets a
 * member from {@link remoteComplianceMember}, and the caller supplies the
 * channel in between (Playwright's `page.evaluate`, `postMessage`, IPC...).
 * IDs (bigint) and bytes travel tagged, so messages arrive equal field for
 * field. No test framework is imported here.
 */
import type { Id } from '../ids.js';
import type { ComplianceMember } from './compliance-member.js';

/** A JSON value. */
export type Wire = null | boolean | number | string | Wire[] | { [key: string]: Wire };

/** The member methods a remote member answers (everything but `id` and `url`). */
export const COMPLIANCE_METHODS = [
  'addPeer',
  'removePeer',
  'send',
  'sendSnapshot',
  'releaseHeldBodies',
  'stop',
  'activeSince',
  'activePeers',
  'probingStatus',
  'events',
  'raft',
  'received',
  'markRemoved',
  'failProcessAsRemoved',
  'request',
] as const satisfies readonly Exclude<keyof ComplianceMember, 'id' | 'url'>[];
// A method added to ComplianceMember and not listed here fails to compile.
const everyMethodListed: Exclude<keyof ComplianceMember, 'id' | 'url' | ComplianceMethod> extends never ? true : never = true;
void everyMethodListed;

export type ComplianceMethod = (typeof COMPLIANCE_METHODS)[number];

/** Carries one call to the member's host and brings back its result (or rejects with its error). */
export type ComplianceInvoke = (method: ComplianceMethod, args: Wire[]) => Promise<Wire>;

// Bytes travel as base64 (btoa/atob: every runtime the transport runs in has them).
const toBase64 = (b: Uint8Array): string => {
  let bin = '';
  for (let i = 0; i < b.length; i += 0x8000) bin += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(bin);
};

const fromBase64 = (s: string): Uint8Array => {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
};

/** Plain data to JSON: bigint → `{$id: hex}`, bytes → `{$bytes: base64}`, undefined → `{$undefined}`. */
export function toWire(value: unknown): Wire {
  if (value === undefined) return { $undefined: true };
  if (value === null || typeof value === 'boolean' || typeof value === 'number' || typeof value === 'string') return value;
  if (typeof value === 'bigint') return { $id: value.toString(16) };
  if (value instanceof Uint8Array) return { $bytes: toBase64(value) };
  if (Array.isArray(value)) return value.map(toWire);
  if (typeof value === 'object') {
    const out: { [key: string]: Wire } = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toWire(v);
    return out;
  }
  throw new TypeError(`cannot carry a ${typeof value} to or from a compliance member`);
}

/** The inverse of {@link toWire}. */
export function fromWire(wire: Wire): unknown {
  if (wire === null || typeof wire !== 'object') return wire;
  if (Array.isArray(wire)) return wire.map(fromWire);
  if (typeof wire.$id === 'string') return BigInt(`0x${wire.$id}`);
  if (typeof wire.$bytes === 'string') return fromBase64(wire.$bytes);
  if (wire.$undefined === true) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(wire)) out[k] = fromWire(v);
  return out;
}

/** The member's side: answers `(method, args)` calls on `member`, JSON in and out. */
export function complianceMemberHost(member: ComplianceMember): ComplianceInvoke {
  return async (method, args) => {
    if (!COMPLIANCE_METHODS.includes(method)) throw new TypeError(`not a compliance member method: ${String(method)}`);
    const fn = member[method] as (...a: unknown[]) => Promise<unknown>;
    return toWire(await fn.apply(member, args.map(fromWire)));
  };
}

/** The suite's side: a member whose every call goes through `invoke` to a {@link complianceMemberHost}. */
export function remoteComplianceMember(id: Id, url: string, invoke: ComplianceInvoke): ComplianceMember {
  const member: Record<string, unknown> = { id, url };
  for (const method of COMPLIANCE_METHODS) {
    member[method] = async (...args: unknown[]) => fromWire(await invoke(method, args.map(toWire)));
  }
  return member as unknown as ComplianceMember;
}
