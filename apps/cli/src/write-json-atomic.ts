import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';

/** Writes `value` as JSON to `dir/name` durably: a tmp file, fsync, rename, fsync of the directory. */
export async function writeJsonAtomic(dir: string, name: string, value: unknown): Promise<void> {
  const tmp = join(dir, `${name}.tmp`);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(`${JSON.stringify(value, null, 2)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, name));
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
