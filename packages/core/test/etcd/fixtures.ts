import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';

/** Reads a file of `test/fixtures/etcd-3.4/`. */
export function fixtureText(name: string): string {
  return readFileSync(new URL(`../fixtures/etcd-3.4/${name}`, import.meta.url), 'utf8');
}

export function fixtureJson<T>(name: string): T {
  return JSON.parse(fixtureText(name)) as T;
}

/** Each line of a `.jsonl` fixture that is JSON (probe-output.jsonl opens with a plain-text line). */
export function fixtureLines<T>(name: string): T[] {
  return fixtureText(name)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as T);
}

/** The body of a raw HTTP response fixture (after the blank line). */
export function httpBody(name: string): string {
  const raw = fixtureText(name);
  const at = raw.indexOf('\r\n\r\n');
  if (at < 0) throw new Error(`${name} is not a raw HTTP response`);
  return raw.slice(at + 4);
}

export function hex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-f]*$/.test(s)) throw new Error(`not hex: ${s.slice(0, 40)}`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(s.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** An ID as the hex etcd prints. */
export const hexId = (s: string): bigint => BigInt(`0x${s}`);

/** The raftpb schema (as in the fixtures) loaded into protobufjs, resolved once (it would look types up on every call). */
export const pb = protobuf.parse(fixtureText('raftpb.proto'), { keepCase: true }).root.resolveAll();

export interface LiveStreams {
  clusterId: string;
  leader: string;
  follower: string;
  msgappStream: string;
  messageStream: string;
}

export interface LiveAddedMember {
  clusterId: string;
  addedMemberId: string;
  pipelineHeaders: Record<string, string>;
  pipeline: { type: string; afterSnapshot: boolean; hex: string }[];
  snapshot: {
    headers: Record<string, string>;
    envelope: string;
    index: number;
    term: number;
    voters: string[];
    v2DataBytes: number;
    dbBytes: number;
    dbSha256: string;
    dbHead: string;
  };
  membersHeaders: Record<string, string>;
  members: string;
}
