import fc from 'fast-check';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import {
  ErrorCode,
  EtcdRequestIdGenerator,
  MessageType,
  createEtcdRequest,
  decodeEtcdMemberList,
  decodeEtcdRequest,
  decodeEtcdV2Membership,
  encodeEtcdAttributes,
  encodeEtcdRequest,
  etcdMessageCodec,
  etcdPublishRequest,
} from './src.js';
import { errorCode } from '../helpers.js';
import { type LiveAddedMember, fixtureJson, hex, hexId, toHex } from './fixtures.js';

// etcdserverpb.Request as etcd 3.4's etcdserver.proto declares it.
const schema = protobuf
  .parse(`
syntax = "proto2";
package etcdserverpb;
message Request {
  optional uint64 ID = 1; optional string Method = 2; optional string Path = 3; optional string Val = 4;
  optional bool Dir = 5; optional string PrevValue = 6; optional uint64 PrevIndex = 7; optional bool PrevExist = 8;
  optional int64 Expiration = 9; optional bool Wait = 10; optional uint64 Since = 11; optional bool Recursive = 12;
  optional bool Sorted = 13; optional bool Quorum = 14; optional int64 Time = 15; optional bool Stream = 16; optional bool Refresh = 17;
}`)
  .root.resolveAll();
const PbRequest = schema.lookupType('etcdserverpb.Request');

describe('etcdserverpb.Request', () => {
  it("writes publish()'s request as gogoproto does: every non-nullable field, in number order", () => {
    const req = etcdPublishRequest(0x8ed009814a32cd02n, { name: 'rw1', clientURLs: [] }, 0xcd02_0000_0000_0101n);
    expect(req.path).toBe('/0/members/8ed009814a32cd02/attributes');
    expect(req.val).toBe('{"name":"rw1"}');
    const bytes = encodeEtcdRequest(req);
    const path = toHex(new TextEncoder().encode(req.path));
    const val = toHex(new TextEncoder().encode(req.val));
    // ID varint · "PUT" · path · val · Dir · PrevValue · PrevIndex · Expiration · Wait · Since · Recursive · Sorted · Quorum · Time · Stream
    const id = toHex(
      (() => {
        const out: number[] = [];
        let v = req.id;
        while (v >= 0x80n) {
          out.push(Number(v & 0x7fn) | 0x80);
          v >>= 7n;
        }
        out.push(Number(v));
        return Uint8Array.from(out);
      })(),
    );
    expect(toHex(bytes)).toBe(
      `08${id}1203505554` +
        `1a${req.path.length.toString(16).padStart(2, '0')}${path}` +
        `22${req.val.length.toString(16).padStart(2, '0')}${val}` +
        '2800' +
        '3200' +
        '3800' +
        '4800' +
        '5000' +
        '5800' +
        '6000' +
        '6800' +
        '7000' +
        '7800' +
        '800100',
    );
    // protobufjs, given every field gogoproto writes, writes the same bytes
    const same = PbRequest.encode(
      PbRequest.fromObject({
        ID: req.id.toString(),
        Method: 'PUT',
        Path: req.path,
        Val: req.val,
        Dir: false,
        PrevValue: '',
        PrevIndex: 0,
        Expiration: 0,
        Wait: false,
        Since: 0,
        Recursive: false,
        Sorted: false,
        Quorum: false,
        Time: 0,
        Stream: false,
      }),
    ).finish();
    expect(toHex(same)).toBe(toHex(bytes));
  });

  it('round-trips any request, and protobufjs reads what it writes', () => {
    const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    const i64 = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
    const arb = fc.record({
      id: u64,
      method: fc.string(),
      path: fc.string(),
      val: fc.string(),
      dir: fc.boolean(),
      prevValue: fc.string(),
      prevIndex: u64,
      prevExist: fc.option(fc.boolean(), { nil: null }),
      expiration: i64,
      wait: fc.boolean(),
      since: u64,
      recursive: fc.boolean(),
      sorted: fc.boolean(),
      quorum: fc.boolean(),
      time: i64,
      stream: fc.boolean(),
      refresh: fc.option(fc.boolean(), { nil: null }),
    });
    // strings without lone surrogates (which UTF-8 cannot carry and Go would write as U+FFFD)
    const wellFormed = (s: string) => !/[\ud800-\udfff]/.test(s.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''));
    fc.assert(
      fc.property(arb, (r) => {
        fc.pre([r.method, r.path, r.val, r.prevValue].every(wellFormed));
        const bytes = encodeEtcdRequest(r);
        expect(decodeEtcdRequest(bytes)).toEqual(r);
        const o = PbRequest.toObject(PbRequest.decode(bytes), { longs: String });
        expect(BigInt(o.ID)).toBe(r.id);
        expect(BigInt(o.Expiration)).toBe(r.expiration);
        expect(o.Path).toBe(r.path);
        expect(o.PrevExist ?? null).toBe(r.prevExist);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses bad fields with ERR_INVALID_MESSAGE and bad bytes with ERR_DECODE', () => {
    expect(errorCode(() => encodeEtcdRequest(createEtcdRequest({ id: -1n })))).toBe(ErrorCode.INVALID_MESSAGE);
    expect(errorCode(() => encodeEtcdRequest(createEtcdRequest({ path: 5 as never })))).toBe(ErrorCode.INVALID_MESSAGE);
    expect(errorCode(() => decodeEtcdRequest(Uint8Array.of(0x1a, 0x05, 0x41)))).toBe(ErrorCode.DECODE);
  });

  it('writes attributes as Go does (omitempty) and makes unique request IDs that carry the member ID', () => {
    expect(encodeEtcdAttributes({ name: 'a<b', clientURLs: ['http://127.0.0.1:2379'] })).toBe(
      '{"name":"a\\u003cb","clientURLs":["http://127.0.0.1:2379"]}',
    );
    expect(encodeEtcdAttributes({ name: '', clientURLs: [] })).toBe('{}');
    const gen = new EtcdRequestIdGenerator(0x8ed009814a32cd02n, 1_700_000_000_123);
    const a = gen.next();
    const b = gen.next();
    expect(b).toBe(a + 1n);
    expect(a >> 48n).toBe(0xcd02n);
    expect((a >> 8n) & ((1n << 40n) - 1n)).toBe(1_700_000_000_123n & ((1n << 40n) - 1n));
  });
});

describe("the v2 store in etcd's MsgSnap", () => {
  it('names the same members, URLs and names as GET /members on the cluster that sent it', () => {
    const live = fixtureJson<LiveAddedMember>('live-added-member.json');
    const m = etcdMessageCodec.decode(hex(live.snapshot.envelope).subarray(8));
    expect(m.type).toBe(MessageType.MsgSnap);
    const v2 = decodeEtcdV2Membership(m.snapshot?.data ?? new Uint8Array());
    expect(v2.members).toEqual(decodeEtcdMemberList(live.members));
    expect(v2.members.find((x) => x.id === hexId(live.addedMemberId))?.name).toBe('');
    expect(v2.removed).toEqual([]);
  });

  it('reads removed members and learners, and refuses a store without a Root or over the cap', () => {
    const store = {
      Root: {
        Path: '/',
        Children: {
          '0': {
            Path: '/0',
            Children: {
              members: {
                Children: {
                  a: { Children: { raftAttributes: { Value: '{"peerURLs":["http://127.0.0.1:1"],"isLearner":true}' } } },
                },
              },
              removed_members: { Children: { b: { Value: 'removed' } } },
            },
          },
        },
      },
    };
    const v2 = decodeEtcdV2Membership(new TextEncoder().encode(JSON.stringify(store)));
    expect(v2.members).toEqual([{ id: 0xan, peerURLs: ['http://127.0.0.1:1'], name: '', clientURLs: [], isLearner: true }]);
    expect(v2.removed).toEqual([0xbn]);
    expect(errorCode(() => decodeEtcdV2Membership(new TextEncoder().encode('{"Nope":1}')))).toBe(ErrorCode.DECODE);
    expect(errorCode(() => decodeEtcdV2Membership(new Uint8Array(10), 5))).toBe(ErrorCode.FRAME_TOO_LARGE);
  });
});
