import { describe, expect, it } from 'vitest';
import { ErrorCode, SERVER_VERSION, SUPPORTED_STREAMS, isRaftwireError } from '@raftwire/core';
import {
  compareMajorMinor,
  majorMinorKey,
  parseVersion,
  remoteSupportsStream,
  servedStreams,
  versionIncompatibility,
} from '../src/version.js';

const v = parseVersion;

describe('version rules (etcd util_test)', () => {
  it('compares major.minor only, ignoring patch, prerelease and build (TestCompareMajorMinorVersion)', () => {
    expect(compareMajorMinor(v('2.2.0'), v('2.2.0'))).toBe(0);
    expect(compareMajorMinor(v('2.1.0'), v('2.2.0'))).toBe(-1);
    expect(compareMajorMinor(v('2.2.0'), v('2.1.0'))).toBe(1);
    expect(compareMajorMinor(v('3.0.0'), v('2.9.0'))).toBe(1);
    expect(compareMajorMinor(v('2.2.1'), v('2.2.0'))).toBe(0);
    expect(compareMajorMinor(v('2.2.0-alpha.0+git'), v('2.2.0'))).toBe(0);
  });

  it('parses prerelease and build metadata and keeps the prerelease (TestServerVersion)', () => {
    expect(v('2.1.0-alpha.0+git')).toEqual({ major: 2, minor: 1, patch: 0, prerelease: 'alpha.0' });
  });

  it('rejects malformed versions with a typed error, never a crash', () => {
    for (const bad of ['', '1', '1.2', 'x.y.z', '1.2.3.4', '01.2.3', ' 1.2.3', '1.2.3-', `1.2.3-${'a'.repeat(100)}`]) {
      let err: unknown;
      try {
        v(bad);
      } catch (e) {
        err = e;
      }
      expect(isRaftwireError(err, ErrorCode.INVALID_VERSION)).toBe(true);
    }
  });

  it('checks version compatibility both ways (TestCheckVersionCompatibility)', () => {
    const local = { server: v('2.2.0'), minCluster: v('2.1.0') };
    expect(versionIncompatibility(local, { server: v('2.2.0'), minCluster: v('2.1.0') })).toBeUndefined();
    expect(versionIncompatibility(local, { server: v('2.1.0'), minCluster: v('2.0.0') })).toBeUndefined();
    expect(versionIncompatibility(local, { server: v('3.0.0'), minCluster: v('2.2.0') })).toBeUndefined();
    expect(versionIncompatibility(local, { server: v('2.0.0'), minCluster: v('2.0.0') })).toBe('remote version is too low');
    expect(versionIncompatibility(local, { server: v('3.0.0'), minCluster: v('3.0.0') })).toBe('local version is too low');
  });

  it('has an entry for the current version (TestStreamSupportCurrentVersion)', () => {
    expect(SUPPORTED_STREAMS[majorMinorKey(v(SERVER_VERSION))]).toEqual(['msgappv2', 'message']);
  });

  it('decides stream support from the remote version (TestCheckStreamSupport)', () => {
    const table = { '0.9': ['message'] as const, '1.0': ['msgappv2', 'message'] as const };
    const local = v('1.0.0');
    expect(remoteSupportsStream(local, v('1.0.5'), 'msgappv2', table)).toBe(true);
    expect(remoteSupportsStream(local, v('1.0.0-alpha'), 'msgappv2', table)).toBe(true);
    expect(remoteSupportsStream(local, v('2.0.0'), 'msgappv2', table)).toBe(true);
    expect(remoteSupportsStream(local, v('0.9.1'), 'msgappv2', table)).toBe(false);
    expect(remoteSupportsStream(local, v('0.9.1'), 'message', table)).toBe(true);
    expect(remoteSupportsStream(local, v('0.0.0'), 'message')).toBe(false);
    expect(servedStreams(v('0.9.0'), table)).toEqual(['message']);
    expect(servedStreams(v('7.0.0'), table)).toEqual(['msgappv2', 'message']);
  });
});
