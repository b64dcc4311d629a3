import { describe, expect, it } from 'vitest';
import {
  ETCD_CLUSTER_VERSION_NOT_DECIDED,
  ETCD_MIN_CLUSTER_VERSION,
  ETCD_SERVER_VERSION,
  ETCD_SUPPORTED_STREAMS,
  ErrorCode,
  decodeEtcdVersions,
  encodeEtcdVersions,
  etcdHeaderVersion,
  etcdRemoteSupportsStream,
  etcdResponseHeaders,
  etcdServedStreams,
  etcdVersionIncompatibility,
  majorMinorKey,
  parseVersion,
  streamEndpoint,
} from './src.js';
import { errorCode } from '../helpers.js';
import { type LiveAddedMember, fixtureJson, fixtureLines, fixtureText, httpBody } from './fixtures.js';

interface Probe {
  probe: string;
  status: number | string;
  hdr: Record<string, string>;
}
const probes = fixtureLines<Probe>('probe-output.jsonl');
const probe = (prefix: string): Probe => {
  const p = probes.find((x) => x.probe.startsWith(prefix));
  if (!p) throw new Error(`no probe ${prefix} in the fixture`);
  return p;
};
const CLUSTER = 'f85bc2222115c8c8';

/** The headers of a raw HTTP response fixture, lowercased, without Date and Content-Length. */
function rawHeaders(name: string): Record<string, string> {
  const head = fixtureText(name).split('\r\n\r\n')[0] ?? '';
  const out: Record<string, string> = {};
  for (const line of head.split('\r\n').slice(1)) {
    const at = line.indexOf(':');
    const k = line.slice(0, at).toLowerCase();
    if (k !== 'date' && k !== 'content-length') out[k] = line.slice(at + 1).trim();
  }
  return out;
}

describe('etcd 3.4 version rules', () => {
  it('announces 3.4.23 with a minimum cluster version of 3.0.0', () => {
    expect(ETCD_SERVER_VERSION).toBe('3.4.23');
    expect(ETCD_MIN_CLUSTER_VERSION).toBe('3.0.0');
    const sent = fixtureJson<LiveAddedMember>('live-added-member.json').pipelineHeaders;
    expect(sent['x-server-version']).toBe(ETCD_SERVER_VERSION);
    expect(sent['x-min-cluster-version']).toBe(ETCD_MIN_CLUSTER_VERSION);
  });

  it('reads a missing or empty header as 2.0.0 and refuses a malformed one with a typed error', () => {
    expect(etcdHeaderVersion(undefined)).toEqual(parseVersion('2.0.0'));
    expect(etcdHeaderVersion('')).toEqual(parseVersion('2.0.0'));
    expect(etcdHeaderVersion(null)).toEqual(parseVersion('2.0.0'));
    expect(etcdHeaderVersion('3.4.23')).toEqual(parseVersion('3.4.23'));
    expect(errorCode(() => etcdHeaderVersion('3.4'))).toBe(ErrorCode.INVALID_VERSION);
    expect(errorCode(() => etcdVersionIncompatibility({ serverVersion: 'x' }))).toBe(ErrorCode.INVALID_VERSION);
  });

  it('decides compatibility as etcd answered the probes', () => {
    // P1: raftwire's native 1.0.0 headers → 412 incompatible version
    expect(probe('P1 ').status).toBe(412);
    expect(etcdVersionIncompatibility({ serverVersion: '1.0.0', minClusterVersion: '1.0.0' })).toBe('remote version is too low');
    // P2b: a remote that needs 3.5 → 412
    expect(probe('P2b').status).toBe(412);
    expect(etcdVersionIncompatibility({ serverVersion: '3.4.23', minClusterVersion: '3.5.0' })).toBe('local version is too low');
    // P11: no version headers at all (2.0.0) → 412
    expect(probe('P11').status).toBe(412);
    expect(etcdVersionIncompatibility({})).toBe('remote version is too low');
    // P5/P6: etcd's own headers → 204
    expect(probe('P5 ').status).toBe(204);
    expect(etcdVersionIncompatibility({ serverVersion: '3.4.23', minClusterVersion: '3.0.0' })).toBeUndefined();
    // patch and prerelease do not matter; 3.0 to 3.4 and a newer 3.5 remote are all accepted
    expect(etcdVersionIncompatibility({ serverVersion: '3.0.0', minClusterVersion: '2.3.0' })).toBeUndefined();
    expect(etcdVersionIncompatibility({ serverVersion: '3.5.9', minClusterVersion: '3.0.0-alpha' })).toBeUndefined();
    expect(etcdVersionIncompatibility({ serverVersion: '2.3.7', minClusterVersion: '2.2.0' })).toBe('remote version is too low');
  });

  it("keeps etcd's stream type table: none for 2.0, msgappv2 and message from 2.1 to 3.4", () => {
    expect(ETCD_SUPPORTED_STREAMS['2.0']).toEqual([]);
    for (const v of ['2.1', '2.2', '2.3', '3.0', '3.1', '3.2', '3.3', '3.4'])
      expect(ETCD_SUPPORTED_STREAMS[v]).toEqual(['msgappv2', 'message']);
    expect(ETCD_SUPPORTED_STREAMS[majorMinorKey(parseVersion(ETCD_SERVER_VERSION))]).toEqual(['msgappv2', 'message']);
    expect(etcdRemoteSupportsStream(parseVersion('2.0.0'), 'message')).toBe(false);
    expect(etcdRemoteSupportsStream(parseVersion('2.1.0'), 'msgappv2')).toBe(true);
    expect(etcdRemoteSupportsStream(parseVersion('3.5.0'), 'msgappv2')).toBe(true);
    expect(etcdServedStreams()).toEqual(['msgappv2', 'message']);
    expect(etcdServedStreams(parseVersion('2.0.1'))).toEqual([]);
    // the msgappv2 stream lives at /raft/stream/msgapp (P10: /raft/stream/msgappv2 is a 404)
    expect(probe('P10').status).toBe(404);
    expect(streamEndpoint('msgappv2')).toBe('/raft/stream/msgapp');
  });

  it('puts the headers etcd put on each kind of response', () => {
    const xHeaders = (h: Record<string, string>) =>
      Object.fromEntries(Object.entries(h).filter(([k]) => k.startsWith('x-etcd') || k === 'x-server-version'));
    // pipeline and snapshot answers carry only the cluster ID (P5, P6, P15: 204 with nothing else)
    expect(probe('P5 ').hdr).toEqual(etcdResponseHeaders('pipeline', CLUSTER));
    expect(probe('P15').hdr).toEqual(etcdResponseHeaders('snapshot', CLUSTER));
    // the stream handler adds its version, on errors too (P7 404, P8 412)
    expect(probe('P12').hdr).toEqual(etcdResponseHeaders('stream', CLUSTER));
    expect(xHeaders(probe('P7 ').hdr)).toEqual(etcdResponseHeaders('stream', CLUSTER));
    expect(xHeaders(probe('P8 ').hdr)).toEqual(etcdResponseHeaders('stream', CLUSTER));
    expect(xHeaders(probe('P3 ').hdr)).toEqual(etcdResponseHeaders('pipeline', CLUSTER));
    // probing has none of them
    expect(xHeaders(probe('P17').hdr)).toEqual(etcdResponseHeaders('probing', CLUSTER));
    expect(rawHeaders('03-members.txt')).toEqual(etcdResponseHeaders('members', CLUSTER));
    expect(rawHeaders('02-version.txt')).toEqual(etcdResponseHeaders('version', CLUSTER));
  });

  it('answers /version byte for byte as etcd does, and reads such a body', () => {
    const body = httpBody('02-version.txt');
    expect(new TextDecoder().decode(encodeEtcdVersions())).toBe(body);
    expect(decodeEtcdVersions(body)).toEqual({ server: '3.4.23', cluster: '3.4.0' });
    const undecided = encodeEtcdVersions({ server: ETCD_SERVER_VERSION, cluster: ETCD_CLUSTER_VERSION_NOT_DECIDED });
    expect(decodeEtcdVersions(undecided)).toEqual({ server: '3.4.23', cluster: 'not_decided' });
    for (const bad of ['[]', '{"etcdserver":"3.4.23"}', '{"etcdserver":1,"etcdcluster":"x"}', 'x']) {
      expect(errorCode(() => decodeEtcdVersions(bad))).toBe(ErrorCode.DECODE);
    }
    expect(errorCode(() => decodeEtcdVersions(' '.repeat(5000)))).toBe(ErrorCode.FRAME_TOO_LARGE);
  });
});
