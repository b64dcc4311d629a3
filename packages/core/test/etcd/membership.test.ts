import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EntryType,
  ErrorCode,
  type EtcdConfChange,
  EtcdConfChangeType,
  type EtcdConfChangeV2,
  type EtcdMember,
  decodeEtcdConfChange,
  decodeEtcdConfChangeV2,
  decodeEtcdMember,
  decodeEtcdMemberList,
  encodeEtcdConfChange,
  encodeEtcdConfChangeV2,
  encodeEtcdMember,
  encodeEtcdMemberList,
  etcdMessageCodec,
} from './src.js';
import { arbId } from '../arbitraries.js';
import { errorCode } from '../helpers.js';
import { type LiveAddedMember, fixtureJson, hex, hexId, httpBody, pb, toHex } from './fixtures.js';

const PbConfChange = pb.lookupType('raftpb.ConfChange');
const PbConfChangeV2 = pb.lookupType('raftpb.ConfChangeV2');
const u64 = (v: bigint) => ({ low: Number(v & 0xffffffffn) | 0, high: Number(v >> 32n) | 0, unsigned: true });
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const utf8 = (s: string) => new TextEncoder().encode(s);
/** `s` with every lone surrogate replaced by U+FFFD (what survives UTF-8). */
const wellFormed = (s: string) => s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');

const live = fixtureJson<LiveAddedMember>('live-added-member.json');

describe('etcd ConfChange entries', () => {
  it('decodes the AddNode entry etcd replicated to a new member and re-encodes it byte for byte', () => {
    const app = etcdMessageCodec.decode(hex(live.pipeline.find((p) => p.type === 'MsgApp')?.hex ?? ''));
    const entry = app.entries.find((e) => e.type === EntryType.EntryConfChange);
    expect(entry).toBeDefined();
    const data = entry?.data ?? new Uint8Array(0);
    const cc = decodeEtcdConfChange(data);
    expect(cc.type).toBe(EtcdConfChangeType.AddNode);
    expect(cc.nodeId).toBe(hexId(live.addedMemberId));
    expect(cc.id).not.toBe(0n);
    expect(toHex(encodeEtcdConfChange(cc))).toBe(toHex(data));
    const member = decodeEtcdMember(cc.context);
    expect(member).toEqual({ id: cc.nodeId, peerURLs: ['http://127.0.0.1:47192'], name: '', clientURLs: [], isLearner: false });
    expect(text(encodeEtcdMember(member))).toBe(text(cc.context));
  });

  it('reads the ConfChange context recorded in fake-member3.json', () => {
    const notes = fixtureJson<{ notes: { confChange?: { nodeId: string; context: string } }[] }>('fake-member3.json').notes;
    const cc = notes.find((n) => n.confChange)?.confChange;
    const m = decodeEtcdMember(cc?.context ?? '');
    expect(m.id).toBe(hexId(cc?.nodeId ?? ''));
    expect(m.id).toBe(10290735599441857794n); // above 2^53: JSON.parse would have rounded it
    expect(text(encodeEtcdMember(m))).toBe(cc?.context);
  });

  const arbType = fc.constantFrom(0, 1, 2, 3) as fc.Arbitrary<EtcdConfChangeType>;
  const arbContext = fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ maxLength: 100 }));

  it('round-trip ConfChange and ConfChangeV2 and match protobufjs byte for byte', () => {
    fc.assert(
      fc.property(
        fc.record({ id: arbId, type: arbType, nodeId: arbId, context: arbContext }),
        fc.record({
          transition: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>,
          changes: fc.array(fc.record({ type: arbType, nodeId: arbId }), { maxLength: 5 }),
          context: arbContext,
        }),
        (cc: EtcdConfChange, v2: EtcdConfChangeV2) => {
          const b = encodeEtcdConfChange(cc);
          expect(decodeEtcdConfChange(b)).toEqual(cc);
          const theirs = PbConfChange.encode(
            PbConfChange.fromObject({
              id: u64(cc.id),
              type: cc.type,
              node_id: u64(cc.nodeId),
              ...(cc.context.length ? { context: cc.context } : {}),
            }),
          ).finish();
          expect(toHex(b)).toBe(toHex(theirs));
          const b2 = encodeEtcdConfChangeV2(v2);
          expect(decodeEtcdConfChangeV2(b2)).toEqual(v2);
          const theirs2 = PbConfChangeV2.encode(
            PbConfChangeV2.fromObject({
              transition: v2.transition,
              changes: v2.changes.map((c) => ({ type: c.type, node_id: u64(c.nodeId) })),
              ...(v2.context.length ? { context: v2.context } : {}),
            }),
          ).finish();
          expect(toHex(b2)).toBe(toHex(theirs2));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses bad values with typed errors', () => {
    const cc: EtcdConfChange = { id: 1n, type: 0, nodeId: 2n, context: new Uint8Array(0) };
    expect(errorCode(() => encodeEtcdConfChange({ ...cc, type: 4 as 0 }))).toBe(ErrorCode.INVALID_MESSAGE);
    expect(errorCode(() => encodeEtcdConfChange({ ...cc, nodeId: -1n }))).toBe(ErrorCode.INVALID_MESSAGE);
    expect(errorCode(() => encodeEtcdConfChangeV2({ transition: 3 as 0, changes: [], context: new Uint8Array(0) }))).toBe(
      ErrorCode.INVALID_MESSAGE,
    );
    expect(errorCode(() => decodeEtcdConfChange(hex('1004')))).toBe(ErrorCode.DECODE);
    expect(errorCode(() => decodeEtcdConfChangeV2(hex('0803')))).toBe(ErrorCode.DECODE);
    expect(errorCode(() => decodeEtcdConfChangeV2(hex('1202' + '0804')))).toBe(ErrorCode.DECODE);
    expect(errorCode(() => decodeEtcdConfChangeV2(hex('1203' + '0801')))).toBe(ErrorCode.DECODE);
  });
});

describe('etcd Member JSON and the /members list', () => {
  it('decodes the captured /members bodies and re-encodes them byte for byte', () => {
    const body = httpBody('03-members.txt');
    const members = decodeEtcdMemberList(body);
    expect(members.map((m) => m.name)).toEqual(['e1', 'e3', 'e2']);
    expect(members[2]?.id).toBe(17478440482565073508n);
    expect(text(encodeEtcdMemberList(members))).toBe(body);
    const withUnstarted = decodeEtcdMemberList(utf8(live.members));
    expect(withUnstarted.find((m) => m.id === hexId(live.addedMemberId))).toEqual({
      id: hexId(live.addedMemberId),
      peerURLs: ['http://127.0.0.1:47192'],
      name: '',
      clientURLs: [],
      isLearner: false,
    });
    expect(text(encodeEtcdMemberList(withUnstarted))).toBe(live.members);
  });

  const arbMember: fc.Arbitrary<EtcdMember> = fc.record({
    id: arbId,
    peerURLs: fc.array(fc.string(), { maxLength: 3 }),
    name: fc.oneof(fc.constant(''), fc.string(), fc.string({ unit: 'grapheme' })),
    clientURLs: fc.array(fc.string({ unit: 'binary' }), { maxLength: 3 }),
    isLearner: fc.boolean(),
  });

  it('round-trips members with IDs past 2^53 and any text, and matches JSON.parse on everything but the ID', () => {
    fc.assert(
      fc.property(fc.array(arbMember, { maxLength: 4 }), (members) => {
        const wire = encodeEtcdMemberList(members);
        // lone surrogates cannot cross as UTF-8: Go writes U+FFFD for them, and so do we
        const expected = members.map((m) => ({
          ...m,
          peerURLs: m.peerURLs.map(wellFormed),
          clientURLs: m.clientURLs.map(wellFormed),
          name: wellFormed(m.name),
        }));
        expect(decodeEtcdMemberList(wire)).toEqual(expected);
        const parsed = JSON.parse(text(wire)) as { peerURLs: string[]; name?: string; clientURLs?: string[] }[];
        parsed.forEach((p, i) => {
          expect(p.peerURLs).toEqual(expected[i]?.peerURLs);
          expect(p.name ?? '').toBe(expected[i]?.name);
          expect(p.clientURLs ?? []).toEqual(expected[i]?.clientURLs);
        });
        for (const m of members) expect(decodeEtcdMember(encodeEtcdMember(m))).toEqual(expected[members.indexOf(m)]);
      }),
      { numRuns: 300 },
    );
  });

  it("escapes strings as Go's encoding/json does", () => {
    const m: EtcdMember = { id: 1n, peerURLs: ['<a>&"\\\n\r\t\b\f\u0001\u2028\u2029é😀\ud800'], name: '', clientURLs: [], isLearner: true };
    expect(text(encodeEtcdMember(m))).toBe(
      '{"id":1,"peerURLs":["\\u003ca\\u003e\\u0026\\"\\\\\\n\\r\\t\\u0008\\u000c\\u0001\\u2028\\u2029é😀\\ufffd"],"isLearner":true}',
    );
  });

  it('reads what Go accepts: absent and null fields, unknown keys, any key case, escapes', () => {
    expect(decodeEtcdMember('{}')).toEqual({ id: 0n, peerURLs: [], name: '', clientURLs: [], isLearner: false });
    expect(decodeEtcdMember('{"id":null,"peerURLs":null,"name":null,"clientURLs":null,"isLearner":null}').peerURLs).toEqual([]);
    expect(decodeEtcdMember(' {"ID": 18446744073709551615, "PeerURLs": ["a"], "extra": {"x": [1, 2.5e3, true]}} ')).toEqual({
      id: 18446744073709551615n,
      peerURLs: ['a'],
      name: '',
      clientURLs: [],
      isLearner: false,
    });
    expect(decodeEtcdMember('{"id":1,"name":"\\u00e9\\ud83d\\ude00\\/\\b"}').name).toBe('é😀/\b');
    expect(decodeEtcdMemberList('null')).toEqual([]);
  });

  it('rejects what Go rejects, and oversized input, with typed errors', () => {
    const bad = [
      '{"id":-1}',
      '{"id":1.5}',
      '{"id":1e3}',
      '{"id":18446744073709551616}',
      '{"id":"1"}',
      '{"id":01}',
      '{"peerURLs":[1]}',
      '{"peerURLs":"a"}',
      '{"name":1}',
      '{"isLearner":"yes"}',
      '[]',
      '{"id":1',
      '{"id":1}x',
      '{"a":"\\x"}',
      '{"a":"\u0001"}',
      '{"a":"\\u12"}',
      '{a:1}',
      '{"a" 1}',
      '[1 2]',
      '',
      'nul',
      `${'['.repeat(100)}${']'.repeat(100)}`,
    ];
    for (const b of bad)
      expect(
        errorCode(() => decodeEtcdMember(b)),
        b,
      ).toBe(ErrorCode.DECODE);
    expect(errorCode(() => decodeEtcdMemberList('{}'))).toBe(ErrorCode.DECODE);
    expect(errorCode(() => decodeEtcdMemberList('[1]'))).toBe(ErrorCode.DECODE);
    expect(errorCode(() => decodeEtcdMember('{}'.padEnd(2000), 1000))).toBe(ErrorCode.FRAME_TOO_LARGE);
    expect(errorCode(() => decodeEtcdMember(5 as unknown as string))).toBe(ErrorCode.DECODE);
    expect(errorCode(() => encodeEtcdMember({ id: 1n << 64n, peerURLs: [], name: '', clientURLs: [], isLearner: false }))).toBe(
      ErrorCode.INVALID_MESSAGE,
    );
    expect(
      errorCode(() => encodeEtcdMember({ id: 1n, peerURLs: [1 as unknown as string], name: '', clientURLs: [], isLearner: false })),
    ).toBe(ErrorCode.INVALID_MESSAGE);
  });
});
