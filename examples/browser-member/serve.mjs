// Bundles page.ts (esbuild: the raftwire packages and simple-peer, with the globals simple-peer
// needs) and serves it on 127.0.0.1. Run after `pnpm run build`:
//   node examples/browser-member/serve.mjs [port]     (default 8080; 0 picks a free port)
// It prints `serving http://127.0.0.1:<port>/`; open that in Chromium (or any browser with WebRTC).
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const bundle = await build({
  entryPoints: [here('./page.ts')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  write: false,
  inject: [here('./shims.js')],
  define: { global: 'globalThis' },
  logLevel: 'error',
});
const js = bundle.outputFiles[0].text;
const html =
  '<!doctype html><meta charset="utf-8"><title>raftwire browser members</title>' +
  '<pre id="log"></pre><script type="module" src="/page.js"></script>';

const server = createServer((req, res) => {
  if (req.url === '/page.js') {
    res.writeHead(200, { 'content-type': 'text/javascript' });
    res.end(js);
    return;
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(html);
});
server.listen(Number(process.argv[2] ?? 8080), '127.0.0.1', () => {
  console.log(`serving http://127.0.0.1:${server.address().port}/`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.on('SIGINT', () => server.close(() => process.exit(0)));
