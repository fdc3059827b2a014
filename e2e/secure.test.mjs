// Issue 12 in the browser: HTTPS/WSS with a self-signed certificate on a name that is not
// localhost, the HTTPS notice on a plain-HTTP studio, private rooms with signed play links
// (player and hls.js), and the app under its Content-Security-Policy with the security
// headers. The TLS server is started here from the release binary (ONAIR_BIN) with a temp
// data dir and free loopback ports; Chromium maps `onair.test` to 127.0.0.1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import https from 'node:https';
import { fileURLToPath } from 'node:url';
import {
  launch, openPage, openSignedIn, collectErrors, signInWithForm, createRoom,
  defaultStreamer, api, waitLive, startOnair, BASE, RTMP, ADMIN_TOKEN,
} from './helpers.mjs';

const HLS_JS = fileURLToPath(new URL('./node_modules/hls.js/dist/hls.min.js', import.meta.url));
const NAME = 'onair.test';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let browser;
let tls; // startOnair's answer
const children = [];

/** GET over HTTPS to 127.0.0.1 with SNI `onair.test`, certificate unchecked (self-signed). */
function httpsGet(port, path) {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path, servername: NAME, rejectUnauthorized: false,
      headers: { host: `${NAME}:${port}` } }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
  });
}

/** The release onair with `--tls-self-signed --tls-name onair.test`, ready on HTTPS. */
function startTls() {
  return startOnair(['--tls-self-signed', '--tls-name', NAME],
    async (port) => (await httpsGet(port, '/healthz')).status === 200);
}

before(async () => {
  browser = await launch([
    `--host-resolver-rules=MAP ${NAME} 127.0.0.1`,
    '--ignore-certificate-errors',
    '--use-fake-device-for-media-stream=fps=30',
  ]);
});

after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await browser?.close();
  await tls?.stop();
});

/** ffmpeg pushing a synthetic H.264 + AAC stream to a room over RTMP with its key. */
function push(room, seconds = 60) {
  const child = spawn('ffmpeg', [
    '-hide_banner', '-v', 'error', '-re',
    '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=30:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', '30',
    '-pix_fmt', 'yuv420p', '-b:v', '800k', '-c:a', 'aac', '-b:a', '64k',
    '-f', 'flv', `${RTMP}/live/${room.id}?key=${encodeURIComponent(room.stream_key)}`,
  ], { stdio: 'ignore' });
  children.push(child);
  return child;
}

/** Waits until the page's player has played `seconds` of video (its media clock starts at
 * the stream's time, not 0: the advance is what counts). */
async function played(page, seconds, ms = 20000) {
  const start = await page.waitForFunction(() => {
    const v = document.querySelector('video');
    return v && v.videoWidth > 0 && !v.paused && v.currentTime;
  }, null, { timeout: ms });
  const t0 = await start.jsonValue();
  await page.waitForFunction(([t, s]) => document.querySelector('video').currentTime > t + s,
    [t0, seconds], { timeout: ms });
}

test('HTTPS on onair.test: sign in, create a room, go live; a viewer plays it over WSS', async () => {
  tls = await startTls();
  const origin = `https://${NAME}:${tls.port}`;
  // Node's fetch checks certificates: the admin makes the streamer through the browser
  // context's request API, which ignores them like the pages do.
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const streamer = { name: `tls${process.pid}`, password: 'tls-password-1', role: 'streamer' };
  // (Node resolves names itself, without Chromium's host rule: the API call goes to 127.0.0.1.)
  const made = await context.request.post(`https://127.0.0.1:${tls.port}/api/users`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, data: streamer,
  });
  assert.equal(made.status(), 201, await made.text());
  const studio = await context.newPage();
  const errors = collectErrors(studio);
  const sockets = [];
  studio.on('websocket', (ws) => sockets.push(ws.url()));
  const res = await studio.goto(`${origin}/push.html`);
  assert.match(res.headers()['strict-transport-security'] ?? '', /max-age=\d+/);
  await studio.getByRole('heading', { name: 'Studio' }).waitFor({ timeout: 15000 });
  assert.equal(await studio.evaluate(() => window.isSecureContext), true);
  await signInWithForm(studio, streamer);
  await studio.getByLabel('Room title').fill('Over HTTPS');
  await studio.getByRole('button', { name: 'Create room' }).click();
  await studio.getByText('it is shown only once').waitFor({ timeout: 10000 });
  await studio.getByRole('button', { name: 'Go live', exact: true }).click();
  await studio.waitForFunction(
    () => window.onairStudio?.state === 'live' && window.onairStudio.framesEncoded > 10,
    null, { timeout: 20000 });
  const room = (await studio.getByTestId('share-link').textContent()).split('/watch/')[1];
  assert.ok(room);
  assert.ok(sockets.some((u) => u.startsWith(`wss://${NAME}:${tls.port}/live/${room}.flv`)), sockets.join(' '));

  const viewerContext = await browser.newContext({ ignoreHTTPSErrors: true });
  const viewer = await viewerContext.newPage();
  const viewerErrors = collectErrors(viewer);
  const viewerSockets = [];
  viewer.on('websocket', (ws) => viewerSockets.push(ws.url()));
  await viewer.goto(`${origin}/watch/${room}`);
  await played(viewer, 2);
  await viewer.waitForFunction(() => window.onairStats?.protocol === 'ws-flv', null, { timeout: 5000 });
  assert.ok(viewerSockets.some((u) => u === `wss://${NAME}:${tls.port}/live/${room}.flv`), viewerSockets.join(' '));
  assert.ok(viewerSockets.some((u) => u.startsWith(`wss://${NAME}:${tls.port}/api/rooms/${room}/chat`)), viewerSockets.join(' '));
  assert.deepEqual(errors, []);
  assert.deepEqual(viewerErrors, []);
  await studio.getByRole('button', { name: 'Stop', exact: true }).click();
  await viewerContext.close();
  await context.close();
});

test('the studio over plain HTTP on onair.test says to use HTTPS, without errors', async () => {
  const port = new URL(BASE).port;
  const page = await browser.newPage();
  const errors = collectErrors(page);
  await page.goto(`http://${NAME}:${port}/push.html`);
  const notice = page.getByTestId('needs-https');
  await notice.waitFor({ timeout: 15000 });
  assert.match(await notice.textContent(), /Camera and screen capture need HTTPS/);
  assert.equal(await notice.getByRole('link').getAttribute('href'), `https://${NAME}:${port}/push.html`);
  assert.equal(await page.getByRole('button', { name: 'Go live', exact: true }).count(), 0);
  assert.equal(await page.evaluate(() => window.isSecureContext), false);
  await sleep(500);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a private room: no token → the private notice and 401s; a token plays in the player, the embed and hls.js', async () => {
  const room = await createRoom('Private e2e', 'private');
  push(room);
  await waitLive(room.id);

  for (const path of [`/live/${room.id}.flv`, `/hls/live/${room.id}/index.m3u8`, `/api/rooms/${room.id}`]) {
    const res = await fetch(BASE + path);
    assert.equal(res.status, 401, path);
    assert.match(res.headers.get('content-type') ?? '', /json/, path);
    await res.body?.cancel();
  }
  const anonymous = await openPage(browser, `/watch/${room.id}`);
  await anonymous.page.getByTestId('private-room').getByText('This room is private: ask its streamer for a link').waitFor({ timeout: 15000 });
  assert.equal(await anonymous.page.locator('video').count(), 0);
  await anonymous.page.goto(`${BASE}/watch/${room.id}?token=forged.token`);
  await anonymous.page.getByTestId('private-room').waitFor({ timeout: 15000 });
  await anonymous.page.close();

  const { cookie } = await defaultStreamer();
  const issued = await api(cookie, 'POST', `/api/rooms/${room.id}/tokens`, { ttl_s: 600 });
  assert.equal(issued.status, 201, JSON.stringify(issued.body));
  const { token, play } = issued.body;
  assert.ok(play.page.includes(`token=${encodeURIComponent(token)}`) || play.page.includes(`token=${token}`), play.page);

  const viewer = await openPage(browser, new URL(play.page).pathname + new URL(play.page).search);
  const sockets = [];
  viewer.page.on('websocket', (ws) => sockets.push(ws.url()));
  await played(viewer.page, 2);
  await viewer.page.getByRole('button', { name: 'Send', exact: true }).waitFor();
  assert.deepEqual(viewer.errors, []);
  await viewer.page.goto(`${BASE}/embed/${room.id}?token=${encodeURIComponent(token)}`);
  await played(viewer.page, 1);
  assert.equal(await viewer.page.getByRole('banner').count(), 0, 'the embed has no header');
  assert.deepEqual(viewer.errors, []);
  await viewer.page.close();

  // hls.js with the token's playlist URL: the server carries the token into part URIs.
  const { page, errors } = await openPage(browser, '/healthz');
  await page.setContent('<video id="v" muted autoplay playsinline></video>');
  await page.addScriptTag({ path: HLS_JS });
  const result = await page.evaluate(async (src) => {
    const video = document.getElementById('v');
    const hls = new window.Hls({ lowLatencyMode: true });
    const fatal = [];
    hls.on(window.Hls.Events.ERROR, (_, d) => { if (d.fatal) fatal.push(`${d.type}: ${d.details}`); });
    hls.loadSource(src);
    hls.attachMedia(video);
    video.play().catch(() => {});
    const start = performance.now();
    while (video.currentTime < 3 && fatal.length === 0 && performance.now() - start < 20000) {
      await new Promise((r) => setTimeout(r, 200));
    }
    const out = { currentTime: video.currentTime, fatal, width: video.videoWidth };
    hls.destroy();
    return out;
  }, play.hls);
  assert.deepEqual(result.fatal, []);
  assert.ok(result.currentTime >= 3, `hls.js played only ${result.currentTime} s`);
  assert.equal(result.width, 640);
  assert.deepEqual(errors, []);
  await page.close();
});

test('every page runs under its CSP without console errors; security headers are set', async () => {
  const room = await createRoom('CSP e2e');
  push(room, 40);
  await waitLive(room.id);
  const violations = `window.__csp = []; document.addEventListener('securitypolicyviolation',
    (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));`;
  const pages = [
    ['/', 'Live now', false],
    ['/push.html', 'Studio', false],
    ['/signin', 'Sign in', false],
    [`/watch/${room.id}`, `Room ${room.id}`, true],
    [`/embed/${room.id}`, null, true],
  ];
  for (const [path, heading, plays] of pages) {
    const page = await browser.newPage();
    const errors = collectErrors(page);
    await page.addInitScript(violations);
    const res = await page.goto(BASE + path);
    const h = res.headers();
    const csp = h['content-security-policy'] ?? '';
    for (const d of ["default-src 'self'", "script-src 'self' 'wasm-unsafe-eval'", "object-src 'none'", "base-uri 'self'", "connect-src 'self'"]) {
      assert.ok(csp.includes(d), `${path}: CSP ${csp} lacks ${d}`);
    }
    assert.equal(h['x-content-type-options'], 'nosniff', path);
    assert.equal(h['referrer-policy'], 'same-origin', path);
    if (path.startsWith('/embed/')) {
      assert.equal(h['x-frame-options'], undefined, path);
      assert.match(csp, /frame-ancestors \*/, path);
    } else {
      assert.equal(h['x-frame-options'], 'DENY', path);
      assert.match(csp, /frame-ancestors 'none'/, path);
    }
    if (heading) await page.getByRole('heading', { name: heading }).waitFor({ timeout: 15000 });
    else await page.getByTestId('embed').waitFor({ timeout: 15000 });
    if (plays) await played(page, 1);
    else await sleep(1000);
    assert.deepEqual(await page.evaluate(() => window.__csp), [], path);
    assert.deepEqual(errors, [], path);
    await page.close();
  }
  // Signed in: the studio with its rooms and their management, and the lobby's "My rooms".
  const { user } = await defaultStreamer();
  for (const [path, text] of [['/push.html', /^Manage /], ['/', 'My rooms']]) {
    const { page, errors, context } = await openSignedIn(browser, path, user);
    await page.addInitScript(violations);
    await page.reload();
    await page.getByText(text).first().waitFor({ timeout: 15000 });
    await sleep(500);
    assert.deepEqual(await page.evaluate(() => window.__csp), [], path);
    assert.deepEqual(errors, [], path);
    await context.close();
  }
  // JSON and media answers carry nosniff too.
  const api = await fetch(BASE + '/api/rooms');
  assert.equal(api.headers.get('x-content-type-options'), 'nosniff');
});
