import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { defineConfig } from '@playwright/test';
import { CHROMIUM_PATH, CHROMIUM_WEBRTC_ARGS, CHROMIUM_WEBRTC_PERMISSIONS } from '../tools/chromium.mjs';

// A free port on 127.0.0.1, chosen once (workers inherit it through the environment).
if (!process.env['DEMO_PORT']) {
  process.env['DEMO_PORT'] = execFileSync(
    process.execPath,
    ['-e', "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close()})"],
    { encoding: 'utf8' },
  ).trim();
}
const port = Number(process.env['DEMO_PORT']);
const demoDir = fileURLToPath(new URL('../apps/demo/', import.meta.url));

export default defineConfig({
  testDir: './tests',
  outputDir: './test-results',
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 90_000,
  expect: { timeout: 30_000 },
  reporter: [['list'], ['json']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    browserName: 'chromium',
    viewport: { width: 1280, height: 860 },
    permissions: [...CHROMIUM_WEBRTC_PERMISSIONS],
    launchOptions: {
      executablePath: CHROMIUM_PATH,
      args: [...CHROMIUM_WEBRTC_ARGS],
    },
  },
  webServer: {
    // Builds the page, then starts the demo server (each page it serves gets its own cluster: relay and Node member).
    command: `node node_modules/vite/bin/vite.js build && node dist/server/main.js --port ${port}`,
    cwd: demoDir,
    url: `http://127.0.0.1:${port}/api/health`,
    timeout: 180_000,
    reuseExistingServer: false,
    stdout: 'pipe',
    stderr: 'pipe',
    gracefulShutdown: { signal: 'SIGTERM', timeout: 5000 },
  },
});
