// The wasm app mounts, every route renders, and navigation between them works.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, BASE } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('healthz answers', async () => {
  const res = await fetch(BASE + '/healthz');
  assert.equal(res.status, 200);
  assert.equal((await res.json()).status, 'ok');
});

test('the lobby mounts the wasm app and navigates to the studio and back', async () => {
  const { page, errors } = await openPage(browser, '/');
  await page.getByTestId('app').waitFor({ timeout: 15000 });
  await page.getByRole('heading', { name: 'Live now' }).waitFor();
  await page.getByRole('link', { name: 'Go live' }).click();
  await page.waitForURL(BASE + '/push.html');
  await page.getByRole('heading', { name: 'Studio' }).waitFor();
  await page.getByRole('navigation').getByRole('link', { name: 'Lobby' }).click();
  await page.waitForURL(BASE + '/');
  await page.getByRole('heading', { name: 'Live now' }).waitFor();
  assert.deepEqual(errors, []);
});

test('studio, watch and play routes render when opened directly', async () => {
  for (const [path, heading] of [
    ['/push.html', 'Studio'],
    ['/signin', 'Sign in'],
    ['/watch/room42', 'Room room42'],
    ['/play.html?room=abc', 'Room abc'],
    ['/no/such/page', 'Page not found'],
  ]) {
    const { page, errors } = await openPage(browser, path);
    await page.getByRole('heading', { name: heading }).waitFor({ timeout: 15000 });
    // An unknown room is looked up by id after the public list: that 404 is the browser's.
    assert.deepEqual(errors.filter((e) => !/status of 404/.test(e)), [], path);
    await page.close();
  }
});
