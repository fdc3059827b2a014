// A recorded stream plays and seeks in Chromium's plain <video>: ffmpeg pushes a short
// H.264 (B-frames) + AAC stream over RTMP, the server writes the MP4 (`moov` first) when it
// ends, and the page seeks into the middle of `/vod/…mp4` (Range requests). Needs a server
// that accepts the push (`--open-publish`).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { launch, openPage, BASE } from './helpers.mjs';

const RTMP = process.env.ONAIR_RTMP ?? 'rtmp://127.0.0.1:1935';
const ROOM = 'recroom';
const SECONDS = 6;

let browser;
let ffmpeg;
before(async () => { browser = await launch(); });
after(async () => {
  ffmpeg?.kill('SIGTERM');
  await browser?.close();
});

async function waitMp4(ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const list = await (await fetch(`${BASE}/api/recordings?room=${ROOM}`)).json();
    const mp4 = list.find((r) => r.format === 'mp4');
    if (mp4) return mp4;
    await new Promise((r) => setTimeout(r, 250));
  }
  return null;
}

test('a recorded MP4 plays and seeks in <video>', async () => {
  ffmpeg = spawn('ffmpeg', [
    '-hide_banner', '-v', 'error', '-re',
    '-f', 'lavfi', '-i', `testsrc2=size=320x240:rate=25:duration=${SECONDS}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${SECONDS}`,
    '-c:v', 'libx264', '-preset', 'veryfast', '-g', '25', '-bf', '2', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-f', 'flv', `${RTMP}/live/${ROOM}?key=k`,
  ], { stdio: 'ignore' });
  const code = await new Promise((resolve) => ffmpeg.on('exit', resolve));
  assert.equal(code, 0, 'the RTMP push failed (the e2e server runs with --open-publish)');
  const mp4 = await waitMp4(20000);
  assert.ok(mp4, 'no MP4 recording appeared');

  const { page, errors } = await openPage(browser, '/healthz');
  await page.setContent('<video id="v" muted playsinline preload="auto"></video>');
  const result = await page.evaluate(async (src) => {
    const video = document.getElementById('v');
    const once = (name, ms) => new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      video.addEventListener(name, () => { clearTimeout(timer); resolve(true); }, { once: true });
    });
    const loaded = once('loadedmetadata', 10000);
    video.src = src;
    if (!(await loaded)) return { error: `no metadata (${video.error?.message ?? 'no error'})` };
    const duration = video.duration;
    const seeked = once('seeked', 10000);
    video.currentTime = 4;
    if (!(await seeked)) return { error: 'seek did not finish' };
    const afterSeek = video.currentTime;
    await video.play();
    const start = performance.now();
    while (video.currentTime < afterSeek + 0.5 && performance.now() - start < 5000) {
      await new Promise((r) => setTimeout(r, 100));
    }
    return {
      duration,
      afterSeek,
      played: video.currentTime - afterSeek,
      width: video.videoWidth,
      error: video.error?.message ?? null,
    };
  }, BASE + mp4.url);
  assert.equal(result.error, null);
  assert.ok(Math.abs(result.duration - SECONDS) < 0.2, `duration ${result.duration} s`);
  assert.ok(Math.abs(result.afterSeek - 4) < 0.1, `seeked to ${result.afterSeek} s`);
  assert.ok(result.played >= 0.5, `played only ${result.played} s after the seek`);
  assert.equal(result.width, 320);
  assert.deepEqual(errors, []);
  console.log(`recording: ${result.duration.toFixed(2)} s, seeked to ${result.afterSeek.toFixed(2)} s, played on`);
});
