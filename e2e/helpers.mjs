// Shared by the browser tests: launch Debian's Chromium (never a downloaded one) and open pages
// with page errors collected, so every test can assert there were none.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const BASE = process.env.ONAIR_URL ?? 'http://127.0.0.1:8080';

/** `extraArgs` are appended to the Chromium flags (a later flag of the same name wins). */
export async function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
      '--no-first-run', '--disable-component-update', '--disable-sync',
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      '--autoplay-policy=no-user-gesture-required',
      ...extraArgs,
    ],
  });
}

/** Collects the page's uncaught errors and console errors into the array it returns. */
export function collectErrors(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  return errors;
}

export async function openPage(browser, path) {
  const page = await browser.newPage();
  const errors = collectErrors(page);
  await page.goto(BASE + path);
  return { page, errors };
}

// ---- accounts (the server runs with ONAIR_ADMIN_TOKEN; see xtask/src/e2e.rs) ----

export const ADMIN_TOKEN = process.env.ONAIR_ADMIN_TOKEN ?? '';
export const RTMP = process.env.ONAIR_RTMP ?? 'rtmp://127.0.0.1:1935';

/** `fetch(BASE + path)` as the admin (bearer token); `init` as for fetch. */
export function adminFetch(path, init = {}, base = BASE) {
  return fetch(base + path, {
    ...init,
    headers: { ...(init.headers ?? {}), authorization: `Bearer ${ADMIN_TOKEN}` },
  });
}

/** The stream list (an admin view): the stream `live/NAME`, if any. */
export async function stream(name) {
  const res = await adminFetch('/api/streams');
  if (res.status !== 200) throw new Error(`/api/streams answered ${res.status}`);
  return (await res.json()).find((s) => s.key === `live/${name}`);
}

/** Waits until `live/NAME` is live with video (admin stream list). */
export async function waitLive(name, ms = 10000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const s = await stream(name);
    if (s?.live && s.video) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`live/${name} did not go live`);
}

let users = 0;
/** Creates a user through the admin API: `{ name, password, role }`. */
export async function createUser(role = 'streamer', base = BASE) {
  users += 1;
  const user = { name: `${role}${process.pid}x${users}`, password: `pw-${Math.random().toString(36).slice(2)}-long`, role };
  const res = await adminFetch('/api/users', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(user),
  }, base);
  if (res.status !== 201) throw new Error(`POST /api/users answered ${res.status}: ${await res.text()}`);
  return user;
}

/** Signs `user` in over the API; the session cookie (`name=value`) for later requests. */
export async function signIn(user, base = BASE) {
  const res = await fetch(base + '/api/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: user.name, password: user.password }),
  });
  if (res.status !== 200) throw new Error(`sign-in answered ${res.status}: ${await res.text()}`);
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('onair_session='));
  if (!cookie) throw new Error('sign-in set no onair_session cookie');
  return cookie.split(';')[0];
}

/** A JSON API call with a session cookie; resolves with `{ status, body }`. */
export async function api(cookie, method, path, body, base = BASE) {
  const headers = { cookie };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

let streamer;
/** One streamer (created and signed in once per test file) and its cookie. */
export async function defaultStreamer() {
  if (!streamer) {
    const user = await createUser('streamer');
    streamer = { user, cookie: await signIn(user) };
  }
  return streamer;
}

/** Creates a room as the default streamer: the create answer (id, stream_key, push, play). */
export async function createRoom(title, visibility = 'public') {
  const { cookie } = await defaultStreamer();
  const res = await api(cookie, 'POST', '/api/rooms', { title, visibility });
  if (res.status !== 201) throw new Error(`POST /api/rooms answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Signs in through the page's own form at `/signin` (or the studio's), as a person would. */
export async function signInWithForm(page, user) {
  await page.getByLabel('Name', { exact: true }).fill(user.name);
  await page.getByLabel('Password', { exact: true }).fill(user.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByTestId('account').getByText(user.name).waitFor({ timeout: 10000 });
}

/**
 * Opens `path` in a new browser context signed in as `user` (session cookie from the API,
 * and the page's "signed in before" hint, so it asks the server who is signed in).
 */
export async function openSignedIn(browser, path, user, { base = BASE, contextOptions = {} } = {}) {
  const cookie = await signIn(user, base);
  const at = cookie.indexOf('=');
  const context = await browser.newContext(contextOptions);
  await context.addCookies([{ name: cookie.slice(0, at), value: cookie.slice(at + 1), url: base }]);
  await context.addInitScript((hint) => {
    if (!localStorage.getItem('onair.session')) localStorage.setItem('onair.session', hint);
  }, `${user.name}:${user.role}`);
  const page = await context.newPage();
  const errors = collectErrors(page);
  await page.goto(base + path);
  return { page, errors, context };
}

// ---- a server of the test's own (TLS, or a fresh database) ----

/** This process's environment without ONAIR_* (the server reads its options from there),
 * plus the e2e admin token. */
function serverEnv() {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ONAIR_')));
  return { ...env, ONAIR_ADMIN_TOKEN: ADMIN_TOKEN, RUST_LOG: 'info' };
}

/** A loopback port nobody listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/**
 * Starts the release onair (ONAIR_BIN) on free loopback ports with a temp data dir, `args`
 * and the e2e admin token; resolves once `ready(port)` (default: HTTP /healthz is 200).
 * Answers `{ port, rtmp, url, log(), stop() }`.
 */
export async function startOnair(args = [], ready) {
  const dir = mkdtempSync(join(tmpdir(), 'onair-e2e-own-'));
  const [port, rtmp] = [await freePort(), await freePort()];
  const child = spawn(process.env.ONAIR_BIN ?? 'onair', [
    '--http', `127.0.0.1:${port}`, '--rtmp', `127.0.0.1:${rtmp}`, '--data', join(dir, 'data'), ...args,
  ], { cwd: dir, env: serverEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  const server = {
    port, rtmp, url: `http://127.0.0.1:${port}`, log: () => log,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => { if (child.exitCode !== null) r(); else child.once('exit', r); });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  ready ??= async (p) => (await fetch(`http://127.0.0.1:${p}/healthz`)).status === 200;
  const deadline = Date.now() + 30000;
  for (;;) {
    if (child.exitCode !== null) {
      await server.stop();
      throw new Error(`onair ${args.join(' ')} exited:\n${log}`);
    }
    try {
      if (await ready(port)) return server;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`onair ${args.join(' ')} not ready within 30 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
