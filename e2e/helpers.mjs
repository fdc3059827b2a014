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

export async function openPage(browser, path) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(BASE + path);
  return { page, errors };
}
