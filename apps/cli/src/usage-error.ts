/** A bad command line: printed with the usage text, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  /** Stable code: `ERR_USAGE`. */
  readonly code = 'ERR_USAGE';
}
