import type { IncomingHttpHeaders } from 'node:http';
import type { LinkHeaders } from '@raftwire/core';

/** Node's parsed headers (lowercase names; repeated ones as arrays) as the Link contract carries them. */
export function linkHeaders(headers: IncomingHttpHeaders): LinkHeaders {
  const out: LinkHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
