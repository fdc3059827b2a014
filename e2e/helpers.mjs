// Shared by the browser tests: launch Debian's Chromium (never a downloaded one) and open pages
// with page errors collected, so every test can assert there were none.
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
