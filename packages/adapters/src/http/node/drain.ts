import type { Writable } from 'node:stream';

/** Resolves when `stream` can take more data ('drain') or will never take any ('close'). */
export function drainOrClose(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const settle = (): void => {
      stream.off('drain', settle);
      stream.off('close', settle);
      resolve();
    };
    stream.on('drain', settle);
    stream.on('close', settle);
  });
}
