import { type ProtocolHandler, isRaftwireError } from '@raftwire/core';

/**
 * A handler that reads the request body to its end, then asks for a second iterator:
 * answers 200 with `x-bytes` (what the first read got) and `x-second-read` (the error code
 * the second one threw, or `no error`).
 */
export const readTwice: ProtocolHandler = async (req) => {
  let n = 0;
  for await (const chunk of req.body) n += chunk.length;
  let second = 'no error';
  try {
    req.body[Symbol.asyncIterator]();
  } catch (err) {
    second = isRaftwireError(err) ? err.code : `untyped: ${String(err)}`;
  }
  return { status: 200, headers: { 'x-bytes': String(n), 'x-second-read': second } };
};
