// The browser studio (/push.html) end to end: Chromium's fake camera / screen → WebCodecs →
// FLV muxed in wasm → WS-FLV push; checked from outside with /api/streams, ffprobe on the
// HTTP-FLV and the HLS init segment, and the raw FLV bytes (the onFI stamps).
// The slow-uplink test needs a server with test hooks (ONAIR_TEST_HOOKS=1, set by xtask).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, openPage, openSignedIn, createUser, stream, BASE } from './helpers.mjs';

let browser;
before(async () => {
  browser = await launch([
    // The fake camera runs at 20 fps unless told otherwise; a real one gives 30.
    '--use-fake-device-for-media-stream=fps=30',
    '--auto-select-desktop-capture-source=Entire screen',
  ]);
});
after(async () => { await browser?.close(); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const stats = (page) => page.evaluate(() => window.onairStudio ?? null);

/**
 * Opens the studio with `query`, presses Go live, and waits until frames flow. Without
 * `room=…&key=…` in the query, a new streamer signs in and the studio makes its room.
 */
async function goLive(query = '') {
  const { page, errors } = query.includes('room=')
    ? await openPage(browser, `/push.html${query}`)
    : await openSignedIn(browser, `/push.html${query}`, await createUser('streamer'));
  await page.getByRole('heading', { name: 'Studio' }).waitFor({ timeout: 15000 });
  await page.getByRole('button', { name: 'Go live', exact: true }).click();
  await page.waitForFunction(
    () => window.onairStudio?.state === 'live' && window.onairStudio.framesEncoded > 10,
    null, { timeout: 20000 });
  const link = await page.getByTestId('share-link').textContent();
  const room = link.split('/watch/')[1];
  assert.ok(room, `share link ${link}`);
  return { page, errors, room };
}

/** Runs a command; resolves with its exit code, stdout and stderr. */
function run(cmd, args, timeoutMs = 30000) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out, err }); });
  });
}

/** The room's HTTP-FLV video, copied by ffmpeg, then decoded by ffprobe: frames in the first
 * 5 s of media time, keyframe times and any error.
 *
 * Counted by frames, not with `-t`: a new viewer gets the codec configs at their original
 * timestamps (the first seconds of the stream) before the GOP it joins, and `-t` counts
 * from the earliest timestamp. ffmpeg 5.1 cannot read Enhanced-FLV (Opus) audio: video only. */
async function probeVideo(room, count = 200) {
  const file = join(tmpdir(), `onair-studio-${room}-${Date.now()}.flv`);
  const copy = await run('ffmpeg', ['-v', 'error', '-y', '-analyzeduration', '1000000',
    '-i', `${BASE}/live/${room}.flv`, '-map', '0:v:0', '-c', 'copy', '-frames:v', String(count), '-f', 'flv', file]);
  const { code, out, err } = await run('ffprobe', [
    '-v', 'error', '-show_frames', '-show_entries', 'frame=key_frame,pts_time', '-of', 'csv=p=0', file,
  ]);
  await rm(file, { force: true });
  const all = out.trim().split('\n').filter(Boolean).map((l) => l.split(',')).map(([k, t]) => [k, Number(t)]);
  const start = all[0]?.[1] ?? 0;
  const frames = all.filter(([, t]) => t < start + 5);
  const keys = all.filter(([k]) => k === '1').map(([, t]) => t);
  return { code: copy.code || code, err: (copy.err + err).trim(), frames: frames.length, total: all.length, keys };
}

/** `spacing`: also check that keyframes come every ~2 s (not across a congestion episode,
 * which ends with a keyframe as soon as the queue drains). */
function assertDecodes(probe, what, spacing = true) {
  console.log(`# ${what}: ${probe.frames} frames decoded in 5 s, keyframes at ${probe.keys.join(' ')}`);
  assert.equal(probe.code, 0, probe.err);
  assert.equal(probe.err, '', `${what}: decode errors`);
  assert.ok(probe.frames >= 130, `${what}: only ${probe.frames} frames in 5 s`);
  assert.ok(probe.keys.length >= 2, `${what}: keyframes ${probe.keys}`);
  for (let i = 1; i < probe.keys.length; i++) {
    const gap = probe.keys[i] - probe.keys[i - 1];
    assert.ok((gap > 1.5 || !spacing) && gap < 2.6, `${what}: keyframes ${gap.toFixed(2)} s apart`);
  }
}

/** Reads the room's HTTP-FLV for `ms` and returns its script tags' AMF0 name + object. */
async function scriptTags(room, ms) {
  const abort = new AbortController();
  const res = await fetch(`${BASE}/live/${room}.flv`, { signal: abort.signal });
  const reader = res.body.getReader();
  const chunks = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  abort.abort();
  const buf = Buffer.concat(chunks);
  const tags = [];
  let at = 13; // header + PreviousTagSize0
  while (at + 11 <= buf.length) {
    const type = buf[at];
    const size = buf.readUIntBE(at + 1, 3);
    const ts = buf.readUIntBE(at + 4, 3) | (buf[at + 7] << 24);
    if (at + 11 + size + 4 > buf.length) break;
    if (type === 18) tags.push({ ts, ...amf0Script(buf.subarray(at + 11, at + 11 + size)) });
    at += 11 + size + 4;
  }
  return tags;
}

/** Just enough AMF0 for `"name", {k: string | number}`. */
function amf0Script(b) {
  let i = 0;
  const str = () => { const n = b.readUInt16BE(i); i += 2; const s = b.toString('utf8', i, i + n); i += n; return s; };
  const value = () => {
    const marker = b[i++];
    if (marker === 0) { const v = b.readDoubleBE(i); i += 8; return v; }
    if (marker === 2) return str();
    if (marker === 1) return b[i++] !== 0;
    if (marker === 3 || marker === 8) {
      if (marker === 8) i += 4;
      const o = {};
      for (;;) {
        const k = str();
        if (k === '' && b[i] === 9) { i++; return o; }
        o[k] = value();
      }
    }
    throw new Error(`AMF0 marker ${marker}`);
  };
  const name = value();
  return { name, body: value() };
}

test('camera: Go live pushes H.264 720p + Opus that ffprobe decodes, with onFI stamps', async () => {
  const { page, errors, room } = await goLive();
  const t0 = Date.now();
  // The status panel says live and shows the share link.
  await page.getByTestId('studio-state').getByText('Live').waitFor();
  const info = await stream(room);
  assert.equal(info?.publisher, 'ws-flv');
  assert.equal(info.video?.codec, 'h264');
  assert.equal(`${info.video.width}x${info.video.height}`, '1280x720');
  assert.equal(info.audio?.codec, 'opus');

  // Stamps: ~2 per second, each right before a video frame, wallclock close to now.
  const stamps = (await scriptTags(room, 3000)).filter((t) => t.name === 'onFI');
  assert.ok(stamps.length >= 4, `only ${stamps.length} onFI stamps in 3 s`);
  for (const { body } of stamps) {
    assert.match(body.sd, /^\d{4}-\d{2}-\d{2}$/);
    assert.match(body.st, /^\d{2}:\d{2}:\d{2}\.\d{3}$/);
    const [d, t] = new Date(body.wallclock).toISOString().split('T');
    assert.equal(body.sd, d);
    assert.equal(body.st, t.slice(0, 12));
    assert.ok(Math.abs(Date.now() - body.wallclock) < 10000, `wallclock ${body.wallclock}`);
  }

  assertDecodes(await probeVideo(room), 'camera');

  // The HLS packager got the Opus audio too (ffprobe reads Opus in fMP4).
  const init = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name',
    '-of', 'csv=p=0', `${BASE}/hls/live/${room}/init.mp4`]);
  assert.deepEqual(init.out.trim().split('\n').sort(), ['h264', 'opus'], init.err);

  // 15 s on air: steady 30 fps, nothing dropped on a fast link.
  await sleep(Math.max(0, 15000 - (Date.now() - t0)));
  const s = await stats(page);
  console.log(`# camera after 15 s: ${JSON.stringify(s)}`);
  assert.equal(s.state, 'live');
  assert.equal(s.mode, 'webcodecs');
  assert.equal(s.droppedFrames, 0);
  assert.ok(s.fps >= 25, `fps ${s.fps}`);
  assert.ok(s.framesEncoded >= 400, `framesEncoded ${s.framesEncoded}`);
  assert.ok(s.bitrateKbps > 100, `bitrate ${s.bitrateKbps}`);

  await page.getByRole('button', { name: 'Stop', exact: true }).click();
  await page.getByTestId('studio-state').getByText('Off air').waitFor();
  const deadline = Date.now() + 15000;
  for (;;) {
    const s = await stream(room);
    if (!(s?.live && s.publisher)) break;
    assert.ok(Date.now() < deadline, `live/${room} still has a publisher`);
    await sleep(200);
  }
  assert.deepEqual(errors, []);
  await page.close();
});

test('a slow uplink: the studio drops video, keeps its queue bounded, and recovers', async () => {
  // The server reads this socket at 250 kbit/s for 12 s (test hook), then at full speed.
  const { page, errors, room } = await goLive('?throttle_kbps=250&throttle_secs=12');
  await page.waitForFunction(() => window.onairStudio.droppedFrames > 0, null, { timeout: 15000 });
  const congested = await stats(page);
  console.log(`# congested: ${JSON.stringify(congested)}`);
  assert.ok(congested.congested);
  assert.ok(congested.targetKbps < 2500, 'the bitrate was lowered');
  // Recovery: the queue drains once the throttle ends, and frames flow again.
  await page.waitForFunction(() => !window.onairStudio.congested && window.onairStudio.inFlight < 100000,
    null, { timeout: 25000 });
  const a = await stats(page);
  await sleep(3000);
  const b = await stats(page);
  console.log(`# recovered: ${JSON.stringify(b)}`);
  assert.ok(b.framesEncoded - a.framesEncoded >= 60, `only ${b.framesEncoded - a.framesEncoded} frames in 3 s`);
  // Bounded: video stops at 1 s of the chosen bitrate (312 KB) queued, audio at 2 MB.
  assert.ok(b.maxInFlight < 600_000, `maxInFlight ${b.maxInFlight}`);
  assert.ok(b.maxBufferedAmount < 600_000, `maxBufferedAmount ${b.maxBufferedAmount}`);
  assert.equal(b.state, 'live');
  assert.equal((await stream(room))?.video?.codec, 'h264');
  assertDecodes(await probeVideo(room), 'after recovery', false);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a dropped socket: the studio reconnects and a viewer keeps watching', async () => {
  // The server drops every push socket 4 s after it opens, without a close frame (test hook).
  const { page, errors, room } = await goLive('?drop_after_secs=4&preset=360p30');
  // One viewer reads 250 frames (~8 s) across the drops.
  const probe = await probeVideo(room, 250);
  const s = await stats(page);
  console.log(`# reconnect: ${JSON.stringify(s)}`);
  assert.ok(s.reconnects >= 1, `reconnects ${s.reconnects}`);
  assert.equal(s.state, 'live');
  assert.equal(probe.err, '');
  assert.equal(probe.total, 250, 'the viewer was cut off');
  // A drop costs a few frames (~250 ms to reconnect), not the viewer.
  assert.ok(probe.frames >= 115, `only ${probe.frames} frames in 5 s across a reconnect`);
  assert.deepEqual(errors, []);
  await page.close();
});

test('screen + mic: getDisplayMedia pushes likewise', async () => {
  const { page, errors, room } = await goLive('?source=screen%2Bmic');
  const info = await stream(room);
  assert.equal(info?.video?.codec, 'h264');
  assert.equal(info.audio?.codec, 'opus');
  assertDecodes(await probeVideo(room), 'screen');
  assert.deepEqual(errors, []);
  await page.close();
});

test('forced MediaRecorder fallback (?recorder=1): WebM demuxed in wasm, same FLV out', async () => {
  const { page, errors, room } = await goLive('?recorder=1');
  const s = await stats(page);
  assert.equal(s.mode, 'recorder');
  const info = await stream(room);
  assert.equal(info?.video?.codec, 'h264');
  assert.equal(`${info.video.width}x${info.video.height}`, '1280x720');
  assert.equal(info.audio?.codec, 'opus');
  assertDecodes(await probeVideo(room), 'recorder');
  const stamps = (await scriptTags(room, 1500)).filter((t) => t.name === 'onFI');
  assert.ok(stamps.length >= 2, `only ${stamps.length} onFI stamps in 1.5 s`);
  assert.deepEqual(errors, []);
  await page.close();
});

test('without MediaStreamTrackProcessor: canvas frames + recorded Opus audio push likewise', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  // As in Firefox and Safari, which have WebCodecs but no track processor.
  await page.addInitScript(() => { delete window.MediaStreamTrackProcessor; });
  const room = `canvas${Date.now()}`;
  await page.goto(`${BASE}/push.html?room=${room}&key=k`);
  await page.getByRole('button', { name: 'Go live', exact: true }).click();
  await page.waitForFunction(() => window.onairStudio?.framesEncoded > 10, null, { timeout: 20000 });
  await sleep(1000);
  const info = await stream(room);
  assert.equal(info?.video?.codec, 'h264');
  assert.equal(info.audio?.codec, 'opus');
  assertDecodes(await probeVideo(room), 'canvas');
  assert.deepEqual(errors, []);
  await page.close();
});

test("after a reload the studio picks the streamer's room again and goes live with a new key", async () => {
  const { page, errors, room } = await goLive('?preset=360p30');
  await page.getByRole('button', { name: 'Stop', exact: true }).click();
  await page.getByTestId('studio-state').getByText('Off air').waitFor();
  await page.reload();
  // The key was kept in memory only: gone with the reload, so Go live makes a new one.
  await page.getByText('makes a new stream key').waitFor({ timeout: 15000 });
  assert.equal((await page.getByTestId('share-link').textContent()).split('/watch/')[1], room);
  await page.getByRole('button', { name: 'Go live', exact: true }).click();
  await page.waitForFunction(() => window.onairStudio?.state === 'live' && window.onairStudio.framesEncoded > 10,
    null, { timeout: 20000 });
  assert.equal((await stream(room))?.publisher, 'ws-flv');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a stream name already live is refused with a clear message', async () => {
  const name = `taken${Date.now()}`;
  const first = await goLive(`?room=${name}&key=k1&preset=360p30`);
  const { page } = await openPage(browser, `/push.html?room=${name}&key=k2&preset=360p30`);
  await page.getByRole('button', { name: 'Go live', exact: true }).click();
  const alert = page.getByRole('alert');
  await alert.getByText('already live').waitFor({ timeout: 15000 });
  assert.match(await alert.textContent(), /Stop the other broadcast first/);
  // The first broadcast is unaffected.
  assert.equal((await stats(first.page)).state, 'live');
  await page.close();
  await first.page.close();
});

test('errors are said in the page with a way forward: denied, no encoder, unreachable, key refused', async () => {
  for (const [init, text, hint] of [
    [() => {
      navigator.mediaDevices.getUserMedia = () =>
        Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
    }, 'Access to the camera and microphone was denied.', /Allow access/],
    [() => { delete window.VideoEncoder; delete window.MediaRecorder; },
      'This browser cannot encode the stream', /recent Chrome/],
    // Every socket fails as one to a closed port does (error, then close 1006): three failed
    // attempts, then the page says so. (A real socket to another port is not possible here:
    // the page's CSP allows connections to its own origin only.)
    [() => {
      window.WebSocket = class {
        constructor() {
          this.bufferedAmount = 0;
          setTimeout(() => {
            this.onerror?.(new Event('error'));
            this.onclose?.(new CloseEvent('close', { code: 1006 }));
          }, 50);
        }
        send() {}
        close() {}
      };
    }, 'The server cannot be reached.', /Check your connection/],
    // The e2e server runs with --open-publish, so the refusal a server with rooms sends for
    // a wrong key (close 4403 with its reason, after the upgrade) is played by a stand-in.
    [() => {
      window.WebSocket = class {
        constructor() {
          this.bufferedAmount = 0;
          setTimeout(() => this.onopen?.(new Event('open')), 50);
          setTimeout(() => this.onclose?.(new CloseEvent('close',
            { code: 4403, reason: 'publish refused: wrong stream key for live/errors' })), 100);
        }
        send() {}
        close() {}
      };
    }, 'The server refused the stream key: publish refused: wrong stream key', /sign in to pick your room/],
  ]) {
    const page = await browser.newPage();
    const errors = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.addInitScript(init);
    await page.goto(`${BASE}/push.html?room=errors&key=k`);
    await page.getByRole('button', { name: 'Go live', exact: true }).click();
    const alert = page.getByRole('alert');
    await alert.getByText(text).waitFor({ timeout: 10000 });
    assert.match(await alert.textContent(), hint);
    // Nothing is left running, and Go live can be pressed again.
    assert.ok(await page.getByRole('button', { name: 'Go live', exact: true }).isEnabled());
    assert.equal(await stream('errors'), undefined);
    assert.deepEqual(errors, []);
    await page.close();
  }
});
