import { ErrorCode, RaftwireError } from './errors.js';
import { ErrorText } from './wire.js';

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
