import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';

// Keeps docs/runtimes/browser.md's example runnable the way a user runs it: `node
// examples/browser-member/serve.mjs 0` bundles and serves the page; three members in it elect,
// count the page's loads in a replicated key, and after a reload recover their logs from
// IndexedDB and go on counting.
const serveScript = fileURLToPath(new URL('../../examples/browser-member/serve.mjs', import.meta.url));

let server: ChildProcess | undefined;
test.afterEach(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server?.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
});

test('examples/browser-member: three page members replicate, and come back from IndexedDB after a reload', async ({ page }) => {
  const child = spawn(process.execPath, [serveScript, '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  server = child;
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const m = /serving (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output);
      if (m?.[1]) resolve(m[1]);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`serve.mjs exited (${code}):\n${output}`)));
  });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  const log = page.locator('#log');

  await page.goto(url);
  await expect(log).toContainText('leader is member', { timeout: 45_000 });
  for (const id of [1, 2, 3]) {
    await expect(log).toContainText(`member ${id} recovered 0 log entries from IndexedDB (term 0, commit 0)`);
    await expect(log).toContainText(`member ${id} reads loads = 1`);
  }

  await page.reload();
  await expect(log).toContainText('leader is member', { timeout: 45_000 });
  const text = (await log.textContent()) ?? '';
  for (const id of [1, 2, 3]) {
    const m = new RegExp(`member ${id} recovered (\\d+) log entries from IndexedDB \\(term (\\d+), commit (\\d+)\\)`).exec(text);
    expect(m, text).not.toBeNull();
    expect(Number(m?.[1]), text).toBeGreaterThan(0);
    expect(Number(m?.[2]), text).toBeGreaterThan(0);
    await expect(log).toContainText(`member ${id} reads loads = 2`);
  }
  expect(errors).toEqual([]);
});
