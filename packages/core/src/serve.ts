/**
 * How a server side runs the protocol handler for one request: the same in every adapter
 * (node:http, the WebRTC data-channel mux, the in-memory network), so the answers a remote
 * sees do not depend on the link.
 */
import { closeBody, textBytes } from './body.js';
import type { HandlerRequest, HandlerResponse, LinkHeaders, ProtocolHandler } from './link.js';
import { type Logger, silentLogger } from './logger.js';
import { ContentType, ErrorText, Header, isRaftPath } from './wire.js';

/** True for the paths `handler` answers: `/raft`, `/raft/...` and the handler's `extraPaths`. */
export function handlesPath(handler: ProtocolHandler | undefined, path: string): boolean {
  return isRaftPath(path) || handler?.extraPaths?.includes(path) === true;
}

/** A plain-text answer (`text` plus a newline, as etcd writes them), with `headers` added. */
export function textResponse(status: number, text: string, headers: LinkHeaders = {}): HandlerResponse {
  return {
    status,
    headers: { [Header.contentType]: ContentType.text, [Header.contentTypeOptions]: 'nosniff', ...headers },
    body: textBytes(`${text}\n`),
  };
}

export interface ServeOptions {
  /**
   * True once the requester has gone away (its connection closed, the exchange was reset).
   * Read after the handler settles: the answer then goes nowhere and its body is closed.
   */
  gone: () => boolean;
  /** Where a handler failure is logged (default: silent). */
  logger?: Logger;
  /** Headers added to the answers written here (503, 500). */
  headers?: LinkHeaders;
}

/**
 * Runs `handler` for `req` and returns the answer to write, or undefined when nobody is left
 * to write it to. Never rejects:
 *
 * - no handler (not set yet) → 503 `no protocol handler`;
 * - the handler throws → 500 `internal error` (logged; the message stays on this side);
 * - the requester went away → the answer's body is closed unread (a stream's source stops,
 *   no timer or listener stays behind) and undefined is returned.
 */
export async function serveRequest(
  handler: ProtocolHandler | undefined,
  req: HandlerRequest,
  options: ServeOptions,
): Promise<HandlerResponse | undefined> {
  let res: HandlerResponse;
  if (handler === undefined) {
    res = textResponse(503, ErrorText.noHandler, options.headers);
  } else {
    try {
      res = await handler(req);
    } catch (err) {
      if (options.gone()) return undefined;
      (options.logger ?? silentLogger).error(
        { error: err instanceof Error ? err.message : String(err), path: req.path, remote: req.remoteAddress ?? '' },
        'protocol handler failed',
      );
      res = textResponse(500, ErrorText.internalError, options.headers);
    }
  }
  if (options.gone()) {
    closeBody(res.body);
    return undefined;
  }
  return res;
}
