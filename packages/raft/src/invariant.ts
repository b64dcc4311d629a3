import { ErrorCode, RaftwireError } from '@raftwire/core';

/** Where etcd's raft panics, this throws a typed ERR_INVARIANT error instead. */
export function invariant(cond: unknown, message: string): asserts cond {
  if (!cond) throw new RaftwireError(ErrorCode.INVARIANT, message);
}
