import { describe, expect, it } from 'vitest';
import { ErrorCode, isRaftwireError, normalizePeerUrl } from '@raftwire/core';
import { UrlPicker } from '../src/url-picker.js';
import { normalizePeerUrls, parsePeerUrlsHeader } from '../src/urls.js';

describe('UrlPicker', () => {
  it('picks the same URL twice (TestURLPickerPickTwice)', () => {
    const p = new UrlPicker(['http://127.0.0.1:2380', 'http://127.0.0.1:7001']);
    expect(p.pick()).toBe(p.pick());
  });

  it('picks from the new set after update (TestURLPickerUpdate)', () => {
    const p = new UrlPicker(['http://127.0.0.1:2380']);
    p.update(['http://127.0.0.1:7001', 'http://127.0.0.1:7002']);
    expect(['http://127.0.0.1:7001', 'http://127.0.0.1:7002']).toContain(p.pick());
    expect(p.list()).toHaveLength(2);
  });

  it('moves to another URL after unreachable, once per failed URL (TestURLPickerUnreachable)', () => {
    const p = new UrlPicker(['http://127.0.0.1:1', 'http://127.0.0.1:2', 'http://127.0.0.1:3']);
    const first = p.pick();
    p.unreachable(first);
    const second = p.pick();
    expect(second).not.toBe(first);
    p.unreachable(first); // a stale failure on the old URL does not advance again
    expect(p.pick()).toBe(second);
  });
});

describe('peer URL validation', () => {
  it('normalises and sorts like etcd types.NewURLs', () => {
    expect(normalizePeerUrls([' http://127.0.0.1:2380/ ', 'http://127.0.0.1:1234', 'http://127.0.0.1:1234'])).toEqual([
      'http://127.0.0.1:1234',
      'http://127.0.0.1:2380',
    ]);
    expect(normalizePeerUrl('webrtc://a1')).toBe('webrtc://a1');
  });

  it('keeps a default port that was written (WHATWG URL drops it), so validation and dialling agree', () => {
    expect(normalizePeerUrl('http://127.0.0.1:80')).toBe('http://127.0.0.1:80');
    expect(normalizePeerUrl('https://[::1]:443/')).toBe('https://[::1]:443');
    expect(normalizePeerUrl('HTTP://LocalHost:02380')).toBe('http://localhost:2380');
    expect(normalizePeerUrls(['http://127.0.0.1:80'])).toEqual(['http://127.0.0.1:80']);
    for (const bad of ['http://127.0.0.1', 'http://[::1]', 'http://127.0.0.1:0', 'http://127.0.0.1:65536']) {
      expect(() => normalizePeerUrl(bad), bad).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_URL }));
    }
  });

  it('rejects bad URLs with ERR_INVALID_URL', () => {
    for (const bad of [
      'ftp://127.0.0.1:1',
      'http://127.0.0.1',
      'http://127.0.0.1:1/path',
      'http://u:p@127.0.0.1:1',
      'nonsense',
      '',
      'http://127.0.0.1:1?x=1',
      `http://${'h'.repeat(254)}:1`, // longer than any DNS name
      `http://127.0.0.1:1/${'p'.repeat(520)}`,
    ]) {
      let err: unknown;
      try {
        normalizePeerUrl(bad);
      } catch (e) {
        err = e;
      }
      expect(isRaftwireError(err, ErrorCode.INVALID_URL), bad).toBe(true);
    }
    expect(() => normalizePeerUrls([])).toThrow();
    expect(() => normalizePeerUrls(Array.from({ length: 17 }, (_, i) => `http://127.0.0.1:${i + 1}`))).toThrow();
  });

  it('ignores an invalid X-PeerURLs header instead of trusting it', () => {
    expect(parsePeerUrlsHeader('http://127.0.0.1:1,http://127.0.0.1:2')).toEqual(['http://127.0.0.1:1', 'http://127.0.0.1:2']);
    expect(parsePeerUrlsHeader('http://127.0.0.1:1,javascript:alert(1)')).toBeUndefined();
    expect(parsePeerUrlsHeader(undefined)).toBeUndefined();
  });
});
