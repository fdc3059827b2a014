// Records chrome_h264_opus.webm: what Chromium's MediaRecorder hands the browser studio
// when WebCodecs is missing (`video/webm;codecs=h264,opus`, 100 ms timeslices, a live
// stream with unknown-size Segment and Clusters). See chrome_h264_opus.txt.
//
// Run from the repository root (playwright-core comes from e2e/node_modules; set
// PLAYWRIGHT_CORE to its directory if it lives elsewhere, e.g. another worktree):
//   PLAYWRIGHT_CORE=/work/main/e2e/node_modules/playwright-core \
//     node shared/tests/data/make_webm.mjs
// Never downloads a browser: it drives the system Chromium.
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import http from 'node:http';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const pwPath = process.env.PLAYWRIGHT_CORE
  ?? path.join(here, '../../../e2e/node_modules/playwright-core');
const { chromium } = require(pwPath);

const out = path.join(here, 'chrome_h264_opus.webm');
// getUserMedia needs a secure context, which about:blank opened by Playwright is not;
// http://127.0.0.1 is one, so serve an empty page from a throwaway local server.
const server = http.createServer((_, res) => {
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end('<!doctype html><title>rec</title>');
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const pageUrl = `http://127.0.0.1:${server.address().port}/`;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
    '--autoplay-policy=no-user-gesture-required',
  ],
});
try {
  const page = await browser.newPage();
  await page.goto(pageUrl);
  const result = await page.evaluate(async () => {
    const mime = 'video/webm;codecs=h264,opus';
    if (!MediaRecorder.isTypeSupported(mime)) throw new Error(`${mime} unsupported`);
    const stream = await navigator.mediaDevices.getUserMedia({
      video: { width: 320, height: 240 }, audio: true,
    });
    const rec = new MediaRecorder(stream, {
      mimeType: mime, videoBitsPerSecond: 300_000, audioBitsPerSecond: 32_000,
    });
    const chunks = [];
    rec.ondataavailable = (e) => { if (e.data.size > 0) chunks.push(e.data); };
    const stopped = new Promise((resolve) => { rec.onstop = resolve; });
    rec.start(100);
    await new Promise((r) => setTimeout(r, 3000));
    rec.stop();
    await stopped;
    stream.getTracks().forEach((t) => t.stop());
    const blob = new Blob(chunks);
    const bytes = new Uint8Array(await blob.arrayBuffer());
    // Plain array: page.evaluate returns JSON, and 300 KB of numbers is fine.
    return { bytes: Array.from(bytes), chunkSizes: chunks.map((c) => c.size),
      mimeType: rec.mimeType, ua: navigator.userAgent };
  });
  writeFileSync(out, Buffer.from(result.bytes));
  console.log(`wrote ${out}: ${result.bytes.length} bytes in ${result.chunkSizes.length} chunks`);
  console.log(`mimeType ${result.mimeType}`);
  console.log(`chunk sizes ${result.chunkSizes.join(' ')}`);
  console.log(result.ua);
} finally {
  await browser.close();
  server.close();
}
