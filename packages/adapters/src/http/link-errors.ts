import { ErrorCode, RaftwireError, isRaftwireError } from '@raftwire/core';

/** ERR_ABORTED for a caller's abort; keeps the signal's reason as the cause. */
export function abortedError(what: string, reason?: unknown): RaftwireError {
  if (isRaftwireError(reason, ErrorCode.ABORTED)) return reason;
  return new RaftwireError(ErrorCode.ABORTED, `${what} aborted`, reason === undefined ? undefined : { cause: reason });
}

/** ERR_LINK: the remote could not be reached, or the connection broke. */
export function linkError(message: string, cause?: unknown): RaftwireError {
  return new RaftwireError(ErrorCode.LINK, message, cause === undefined ? undefined : { cause });
}

/**
 * ERR_LINK whose cause is an ERR_TIMEOUT: a dial or response-head deadline
 * passed. Callers that care branch on `err.cause.code`.
 */
export function linkTimeoutError(phase: 'dial' | 'response head', ms: number, target: string): RaftwireError {
  const timeout = new RaftwireError(ErrorCode.TIMEOUT, `${phase} timeout after ${ms} ms`);
  return linkError(`${phase} timeout after ${ms} ms to ${target}`, timeout);
}

/** Returns `err` if it is already a RaftwireError, else wraps it as ERR_LINK. */
export function asLinkError(message: string, err: unknown): RaftwireError {
  return err instanceof RaftwireError ? err : linkError(`${message}: ${describe(err)}`, err);
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause;
    const code = (err as { code?: unknown }).code;
    const base = typeof code === 'string' ? `${code} ${err.message}` : err.message;
    if (cause instanceof Error && cause.message !== err.message) return `${base} (${describe(cause)})`;
    return base;
  }
  return String(err);
}
