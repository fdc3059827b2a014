// hls.js (low-latency mode) in Chromium plays the CMAF LL-HLS playlist of a stream that
// ffmpeg pushes over RTMP. Needs a server that accepts the push (`--open-publish`).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { launch, openPage, BASE, RTMP, waitLive } from './helpers.mjs';

const ROOM = 'hlsroom';
const HLS_JS = fileURLToPath(new URL('./node_modules/hls.js/dist/hls.min.js', import.meta.url));

let browser;
let ffmpeg;
before(async () => { browser = await launch(); });
after(async () => {
  ffmpeg?.kill('SIGTERM');
  await browser?.close();
});

test('hls.js plays the LL-HLS playlist', async () => {
  ffmpeg = spawn('ffmpeg', [
    '-hide_banner', '-v', 'error', '-re',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=30',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100:duration=30',
    '-c:v', 'libx264', '-preset', 'veryfast', '-g', '25', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-f', 'flv', `${RTMP}/live/${ROOM}?key=k`,
  ], { stdio: 'ignore' });
  // A stream pushed by name, without a room: the e2e server runs with --open-publish.
  await waitLive(ROOM);
  const { page, errors } = await openPage(browser, '/healthz');
  await page.setContent('<video id="v" muted autoplay playsinline></video>');
  await page.addScriptTag({ path: HLS_JS });
  const result = await page.evaluate(async (src) => {
    const video = document.getElementById('v');
    const hls = new window.Hls({ lowLatencyMode: true });
    const fatal = [];
    let parts = 0;
    hls.on(window.Hls.Events.ERROR, (_, d) => { if (d.fatal) fatal.push(`${d.type}: ${d.details}`); });
    hls.on(window.Hls.Events.FRAG_LOADED, (_, d) => { if (d.part) parts += 1; });
    hls.loadSource(src);
    hls.attachMedia(video);
    video.play().catch(() => {});
    const start = performance.now();
    while (video.currentTime < 4 && fatal.length === 0 && performance.now() - start < 20000) {
      await new Promise((r) => setTimeout(r, 200));
    }
    const out = {
      currentTime: video.currentTime,
      fatal,
      parts,
      latency: hls.latency,
      width: video.videoWidth,
    };
    hls.destroy();
    return out;
  }, `${BASE}/hls/live/${ROOM}/index.m3u8`);
  assert.deepEqual(result.fatal, []);
  assert.ok(result.currentTime >= 4, `played only ${result.currentTime} s`);
  assert.equal(result.width, 320);
  assert.ok(result.parts > 0, 'hls.js loaded no LL-HLS parts');
  assert.ok(result.latency < 4, `latency ${result.latency} s`);
  assert.deepEqual(errors, []);
  console.log(`hls.js: played ${result.currentTime.toFixed(1)} s, ${result.parts} parts, latency ${result.latency.toFixed(2)} s`);
});
