// The MSE player (/watch/ROOM): FLV demuxed and remuxed to fMP4 in wasm, fed to MSE.
// Each test makes a room (as a streamer, through the API) and ffmpeg pushes to it over RTMP
// with its key; the page is read through the video element and window.onairStats.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, openPage, BASE, RTMP, createRoom, waitLive, stream } from './helpers.mjs';
import { readFlv, pushFlv } from './flvpush.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let browser;
const children = [];
before(async () => { browser = await launch(); });
after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await browser?.close();
});

/** ffmpeg pushing a synthetic H.264 + AAC stream in real time to `room` (a create answer). */
function push(room, { size = '640x360', seconds = 60 } = {}) {
  const child = spawn('ffmpeg', [
    '-hide_banner', '-v', 'error', '-re',
    '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=30:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', '60',
    '-pix_fmt', 'yuv420p', '-b:v', '1M', '-c:a', 'aac', '-b:a', '64k',
    '-f', 'flv', `${RTMP}/live/${room.id}?key=${encodeURIComponent(room.stream_key)}`,
  ], { stdio: 'ignore' });
  children.push(child);
  return child;
}

const stats = (page) => page.evaluate(() => window.onairStats ?? null);
const video = (page) => page.evaluate(() => {
  const v = document.querySelector('video');
  if (!v) return { t: 0, w: 0, h: 0, total: 0, dropped: 0, paused: true, muted: false };
  const q = v.getVideoPlaybackQuality();
  return { t: v.currentTime, w: v.videoWidth, h: v.videoHeight, total: q.totalVideoFrames, dropped: q.droppedVideoFrames, paused: v.paused, muted: v.muted };
});

/** Waits until `f(page)` is truthy, polling. */
async function until(page, what, f, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f(page);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(await stats(page))}`);
    await sleep(200);
  }
}

test('plays an ffmpeg RTMP push: 12 s in, ≥ 7 s played, ≥ 180 frames, < 2 % dropped', async () => {
  const room = await createRoom('playerbasic');
  push(room, { seconds: 40 });
  await waitLive(room.id);
  const { page, errors } = await openPage(browser, `/watch/${room.id}?stats=1`);
  const opened = Date.now();
  await page.getByRole('region', { name: 'Video' }).waitFor();
  await sleep(12000 - (Date.now() - opened));
  const v = await video(page);
  const s = await stats(page);
  assert.equal(s.state, 'playing', JSON.stringify(s));
  assert.ok(v.t >= 7, `currentTime ${v.t}`);
  assert.ok(v.total >= 180, `totalVideoFrames ${v.total}`);
  assert.ok(v.dropped / v.total < 0.02, `dropped ${v.dropped}/${v.total}`);
  assert.equal(v.w, 640);
  assert.ok(s.codecs.includes('avc1.') && s.codecs.includes('mp4a.40.2'), s.codecs);
  assert.ok(s.latency < 2.5, `latency ${s.latency}`);
  assert.ok(s.bitrateKbps > 300, `bitrate ${s.bitrateKbps}`);
  await page.getByRole('term').filter({ hasText: 'Latency' }).waitFor();
  assert.deepEqual(errors, []);
  await page.close();
});

test('publisher killed and restarted: reconnecting, then playing again without a reload', async () => {
  const room = await createRoom('playerrestart');
  let ffmpeg = push(room);
  await waitLive(room.id);
  const { page, errors } = await openPage(browser, `/watch/${room.id}`);
  await until(page, 'playing', async (p) => (await video(p)).t > 2, 15000);
  const marker = await page.evaluate(() => { window.__sameDocument = true; return true; });
  assert.ok(marker);

  // Killed (no unpublish): the server waits for it (republish grace); the player says so.
  ffmpeg.kill('SIGKILL');
  await page.getByText('Reconnecting…').waitFor({ timeout: 10000 });
  ffmpeg = push(room);
  const before = (await video(page)).t;
  await until(page, 'playback to resume', async (p) => (await video(p)).t > before + 3, 20000);
  assert.equal((await stats(page)).state, 'playing');

  // Stopped cleanly (unpublish ends the stream): "ended", then live again by itself.
  ffmpeg.kill('SIGINT');
  await page.getByText('The stream has ended').waitFor({ timeout: 15000 });
  push(room);
  await until(page, 'playing after the end', async (p) => (await stats(p)).state === 'playing', 20000);
  const t0 = (await video(page)).t;
  await until(page, 'new stream to play', async (p) => (await video(p)).t > t0 + 2, 15000);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was reloaded');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a resolution change mid-stream plays through', async () => {
  const room = await createRoom('playerresize');
  let ffmpeg = push(room, { size: '640x360' });
  await waitLive(room.id);
  const { page, errors } = await openPage(browser, `/watch/${room.id}`);
  await until(page, 'playing 640x360', async (p) => { const v = await video(p); return v.w === 640 && v.t > 2; }, 15000);
  const first = await video(page);
  // The encoder restarts at another size (as OBS does): same stream, new sequence header.
  ffmpeg.kill('SIGKILL');
  ffmpeg = push(room, { size: '320x240' });
  await until(page, 'the new size on screen', async (p) => (await video(p)).w === 320, 20000);
  const t = (await video(page)).t;
  await until(page, 'playback at the new size', async (p) => (await video(p)).t > t + 3, 15000);
  const v = await video(page);
  assert.equal(v.h, 240);
  assert.ok(v.dropped / v.total < 0.05, `dropped ${v.dropped}/${v.total} before the change ${JSON.stringify(first)}`);
  assert.deepEqual(errors, []);
  await page.close();
});

test('HTTP-FLV transport, offline start, audio-only and glass-to-glass stamps', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onair-player-'));
  const clip = join(dir, 'clip.flv');
  execFileSync('ffmpeg', [
    '-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30:duration=6',
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', '30', '-pix_fmt', 'yuv420p',
    '-b:v', '1M', '-f', 'flv', clip,
  ]);
  const room = await createRoom('playerhttp');
  // Opened before the stream exists: offline, then it starts by itself.
  const { page, errors } = await openPage(browser, `/watch/${room.id}?protocol=http-flv`);
  await page.getByText('Offline: the stream starts here when it goes live').waitFor({ timeout: 10000 });
  const pusher = pushFlv(BASE, room.id, readFlv(clip), { loops: 3, key: room.stream_key });
  await until(page, 'video-only HTTP-FLV playback', async (p) => (await video(p)).t > 3, 20000);
  const s = await until(page, 'a glass-to-glass figure', async (p) => { const s = await stats(p); return s.g2gMs != null && s; }, 10000);
  assert.equal(s.protocol, 'http-flv');
  assert.ok(!s.codecs.includes(','), `video only: ${s.codecs}`);
  assert.ok(s.g2gMs > 0 && s.g2gMs < 3000, `glass-to-glass ${s.g2gMs} ms`);
  pusher.stop();

  const audioRoom = await createRoom('playeraudio');
  const audio = spawn('ffmpeg', [
    '-hide_banner', '-v', 'error', '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100:duration=30',
    '-c:a', 'aac', '-f', 'flv', `${RTMP}/live/${audioRoom.id}?key=${encodeURIComponent(audioRoom.stream_key)}`,
  ], { stdio: 'ignore' });
  children.push(audio);
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline && !(await stream(audioRoom.id))?.audio) await sleep(100);
  await page.goto(`${BASE}/watch/${audioRoom.id}`);
  await until(page, 'audio-only playback', async (p) => (await video(p)).t > 3, 20000);
  assert.ok((await stats(page)).codecs.startsWith('audio/mp4'));
  assert.deepEqual(errors, []);
  await page.close();
});

test('HLS mode: the CMAF LL-HLS parts through MSE, and the automatic choice', async () => {
  const room = await createRoom('playerhls');
  push(room, { seconds: 60 });
  await waitLive(room.id);
  // The HLS window needs a first part before the playlist has anything to start from.
  await sleep(1500);
  const { page, errors } = await openPage(browser, `/watch/${room.id}?protocol=hls-mse`);
  await until(page, 'HLS (MSE) playback', async (p) => (await video(p)).t > 0.5, 20000);
  const t0 = (await video(page)).t;
  await sleep(5000);
  const v = await video(page);
  const s = await stats(page);
  assert.equal(s.protocol, 'hls (mse)');
  assert.equal(s.state, 'playing');
  assert.ok(v.t - t0 >= 4, `played ${v.t - t0} s in 5 s`);
  assert.ok(s.latency < 4, `latency ${s.latency}`);
  await page.goto(`${BASE}/watch/${room.id}?protocol=hls`);
  await until(page, 'HLS playback (native or MSE)', async (p) => (await video(p)).t > 2, 20000);
  assert.match((await stats(page)).protocol, /^hls/);
  assert.deepEqual(errors, []);
  await page.close();
});
