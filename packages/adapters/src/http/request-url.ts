import { ErrorCode, RaftwireError } from '@raftwire/core';

/**
 * Joins a peer URL (`http://127.0.0.1:2380`, maybe with a base path) and a
 * raft path (`/raft/stream/msgapp/1`). Only `http:` and `https:` are accepted.
 */
export function buildRequestUrl(peerUrl: string, path: string): URL {
  let url: URL;
  try {
    url = new URL(peerUrl);
  } catch (err) {
    throw new RaftwireError(ErrorCode.INVALID_URL, `invalid peer URL ${JSON.stringify(peerUrl)}`, { cause: err });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RaftwireError(ErrorCode.INVALID_URL, `peer URL ${JSON.stringify(peerUrl)} must be http: or https:`);
  }
  if (!path.startsWith('/') || path.includes('?') || path.includes('#')) {
    throw new RaftwireError(ErrorCode.INVALID_URL, `request path ${JSON.stringify(path)} must be an absolute path without query`);
  }
  url.pathname = url.pathname.replace(/\/+$/, '') + path;
  url.search = '';
  url.hash = '';
  return url;
}
