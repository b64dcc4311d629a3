import { ErrorCode, RaftwireError } from './errors.js';

/** Schemes accepted for peer URLs unless configured otherwise. */
export const DEFAULT_URL_SCHEMES: readonly string[] = ['http', 'https', 'unix', 'unixs', 'memory', 'webrtc'];

/** At most this many URLs per member (X-PeerURLs is an unauthenticated claim). */
export const MAX_PEER_URLS = 16;
const MAX_URL_LENGTH = 512;
/** A DNS name is at most 253 characters; no longer host is dialled. */
const MAX_HOST_LENGTH = 253;

function invalidUrl(text: string, why: string): RaftwireError {
  return new RaftwireError(ErrorCode.INVALID_URL, `invalid peer URL ${JSON.stringify(text.slice(0, 80))}: ${why}`);
}

/**
 * Validates one peer URL the way etcd's types.NewURLs does (scheme allowed,
 * host present, no path, query, fragment or credentials) and returns it in
 * normal form (`scheme://host[:port]`).
 */
export function normalizePeerUrl(text: string, schemes: readonly string[] = DEFAULT_URL_SCHEMES): string {
  if (typeof text !== 'string') throw invalidUrl(String(text), 'not a string');
  const t = text.trim();
  if (t.length === 0 || t.length > MAX_URL_LENGTH) throw invalidUrl(t, 'empty or too long');
  let u: URL;
  try {
    u = new URL(t);
  } catch {
    throw invalidUrl(t, 'unparsable');
  }
  const scheme = u.protocol.replace(/:$/, '');
  if (!schemes.includes(scheme)) throw invalidUrl(t, `scheme ${scheme} not allowed`);
  if (u.host === '') throw invalidUrl(t, 'no host');
  if (u.hostname.length > MAX_HOST_LENGTH) throw invalidUrl(t, `host longer than ${MAX_HOST_LENGTH} characters`);
  if (u.username !== '' || u.password !== '') throw invalidUrl(t, 'credentials not allowed');
  if ((u.pathname !== '' && u.pathname !== '/') || u.search !== '' || u.hash !== '') throw invalidUrl(t, 'path not allowed');
  if (scheme !== 'http' && scheme !== 'https') return `${scheme}://${u.host}`;
  // WHATWG URL drops a scheme's default port (`http://h:80` has port ''), so whether a port was
  // given is read from the text itself. The normal form always names the port: `http://h:80`
  // stays `http://h:80`, and the transport dials exactly what was validated.
  const port = u.port !== '' ? u.port : explicitPort(t);
  if (port === undefined) throw invalidUrl(t, 'no port');
  if (port === '0') throw invalidUrl(t, 'port 0');
  return `${scheme}://${u.hostname}:${port}`;
}

/** The port written in `text`'s authority (digits after the host), or undefined when none is. */
function explicitPort(text: string): string | undefined {
  const rest = text.slice(text.indexOf('//') + 2);
  const authority = rest.split(/[/?#]/, 1)[0] ?? '';
  const m = /:(\d+)$/.exec(authority);
  return m ? String(Number(m[1])) : undefined;
}

/** Validates, normalises, de-duplicates and sorts a URL list (etcd's order: index 0 = smallest). */
export function normalizePeerUrls(urls: readonly string[], schemes: readonly string[] = DEFAULT_URL_SCHEMES): string[] {
  if (!Array.isArray(urls) || urls.length === 0) {
    throw new RaftwireError(ErrorCode.INVALID_URL, 'a member needs at least one peer URL');
  }
  if (urls.length > MAX_PEER_URLS) throw new RaftwireError(ErrorCode.INVALID_URL, `more than ${MAX_PEER_URLS} peer URLs`);
  return [...new Set(urls.map((u) => normalizePeerUrl(u, schemes)))].sort();
}

/** Parses an `X-PeerURLs` header; undefined when absent or invalid. */
export function parsePeerUrlsHeader(value: string | undefined, schemes?: readonly string[]): string[] | undefined {
  if (value === undefined || value === '') return undefined;
  try {
    return normalizePeerUrls(value.split(','), schemes);
  } catch {
    return undefined;
  }
}

/** `url` + `path`, e.g. `http://127.0.0.1:2380` + `/raft`. */
export function joinUrl(url: string, path: string): string {
  return url.replace(/\/+$/, '') + path;
}
