import { ErrorCode, RaftwireError } from './errors.js';

/** Error bodies the handler writes (etcd's texts, compared without a trailing newline). */
export const ErrorText = {
  incompatibleVersion: 'incompatible version',
  clusterIdMismatch: 'cluster ID mismatch',
  invalidPath: 'invalid path',
  invalidFrom: 'invalid from',
  removedMember: 'removed member',
  senderNotFound: 'error sender not found',
  toMismatch: 'to field mismatch',
  methodNotAllowed: 'Method Not Allowed',
} as const;

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

/** The content type of a message body for a codec name. */
export function messageContentType(codecName: string): string {
  return codecName === 'protobuf' ? 'application/protobuf' : `application/${codecName}`;
}
