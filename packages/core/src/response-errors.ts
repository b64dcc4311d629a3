import { ErrorCode, RaftwireError } from './errors.js';
import { ErrorText } from './wire.js';

/**
 * What a 403 answer to a POST means. Only a body saying the sender was removed (etcd's
 * `cannot process message from removed member`, or the stream's `removed member`) is removal;
 * any other 403 — `cannot process message to mismatch member` from a member that got a message
 * meant for another one (two members' entries naming the same URL), an origin refused — fails
 * that request alone, so a URL mix-up can never make a member believe it was removed and exit.
 */
export function forbiddenAnswer(body: string, what: string): { removed: boolean; error: RaftwireError } {
  const text = body.replace(/\n$/, '');
  if (text === ErrorText.fromRemovedMember || text === ErrorText.removedMember) {
    return {
      removed: true,
      error: new RaftwireError(ErrorCode.MEMBER_REMOVED, 'the member has been permanently removed from the cluster'),
    };
  }
  if (text === ErrorText.peerUnauthenticated || text === ErrorText.peerIdentityMismatch) {
    return {
      removed: false,
      error: new RaftwireError(
        ErrorCode.PEER_UNAUTHENTICATED,
        `${what} answered 403 ${JSON.stringify(text)} (check this member's certificate)`,
      ),
    };
  }
  return {
    removed: false,
    error: new RaftwireError(ErrorCode.UNEXPECTED_STATUS, `${what} answered 403 ${JSON.stringify(text.slice(0, 200))}`),
  };
}

/** Maps a 412 body to a typed error. */
export function preconditionError(body: string, what: string): RaftwireError {
  const text = body.replace(/\n$/, '');
  if (text === ErrorText.incompatibleVersion) {
    return new RaftwireError(ErrorCode.INCOMPATIBLE_VERSION, `${what}: the remote rejected our version (incompatible version)`);
  }
  if (text === ErrorText.clusterIdMismatch) {
    return new RaftwireError(ErrorCode.CLUSTER_ID_MISMATCH, `${what}: the remote belongs to another cluster (cluster ID mismatch)`);
  }
  return new RaftwireError(
    ErrorCode.UNEXPECTED_STATUS,
    `${what}: unhandled error ${JSON.stringify(text.slice(0, 200))} when precondition failed`,
  );
}
