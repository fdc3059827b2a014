// Live chat on the watch page: comments reach other viewers fast and as plain text, likes
// update everyone's total and float hearts, and the lobby lists the room.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, openSignedIn, createUser, createRoom, BASE } from './helpers.mjs';

let browser;
let room;
before(async () => {
  browser = await launch();
  room = await createRoom('Chat test room');
});
after(async () => { await browser?.close(); });

/** Opens the watch page and waits until the chat has joined (Send becomes enabled). */
async function watch() {
  const opened = await openPage(browser, `/watch/${room.id}`);
  const dialogs = [];
  opened.page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  await opened.page.getByRole('heading', { name: `Room ${room.id}` }).waitFor({ timeout: 15000 });
  await opened.page.getByRole('region', { name: 'Video' }).waitFor();
  const send = opened.page.getByRole('button', { name: 'Send', exact: true });
  await send.waitFor();
  await opened.page.waitForFunction(
    () => [...document.querySelectorAll('button')].some((b) => b.textContent.trim() === 'Send' && !b.disabled),
    null, { timeout: 10000 });
  return { ...opened, dialogs };
}

test('a comment reaches another viewer quickly, as text, and likes float hearts', async () => {
  const a = await watch();
  const b = await watch();

  // Both see two viewers once the second joined.
  await b.page.getByTestId('viewers').getByText('2 watching').waitFor({ timeout: 5000 });

  // Latency: from clicking Send in A to the comment being rendered in B.
  const text = `hello from A ${Date.now()}`;
  await a.page.getByLabel('Comment', { exact: true }).fill(text);
  const seen = b.page.getByText(text, { exact: true }).waitFor({ timeout: 5000 });
  const t0 = performance.now();
  await a.page.getByRole('button', { name: 'Send', exact: true }).click();
  await seen;
  const latency = performance.now() - t0;
  console.log(`# comment latency A -> B: ${latency.toFixed(0)} ms`);
  assert.ok(latency < 500, `comment took ${latency.toFixed(0)} ms to reach the other viewer`);
  // The input is cleared for the next comment.
  assert.equal(await a.page.getByLabel('Comment', { exact: true }).inputValue(), '');

  // Markup is shown as literal text: no element is created and no script runs.
  const evil = '<img src=x onerror=alert(1)>';
  await a.page.getByLabel('Comment', { exact: true }).fill(evil);
  await a.page.getByRole('button', { name: 'Send', exact: true }).click();
  await b.page.getByText(evil, { exact: true }).waitFor({ timeout: 5000 });
  await a.page.getByText(evil, { exact: true }).waitFor({ timeout: 5000 });
  for (const p of [a.page, b.page]) {
    assert.equal(await p.locator('.chat img, main img').count(), 0);
  }
  await b.page.waitForTimeout(200);
  assert.deepEqual(a.dialogs, []);
  assert.deepEqual(b.dialogs, []);

  // Like in A: B's total goes up and B floats at least one heart.
  const likes = b.page.getByTestId('likes');
  const before = Number(await likes.textContent());
  await a.page.getByRole('button', { name: 'Like', exact: true }).click();
  await b.page.waitForFunction(
    (n) => Number(document.querySelector('[data-testid=likes]')?.textContent) > n,
    before, { timeout: 5000 });
  await b.page.locator('[data-testid=heart]').first().waitFor({ state: 'attached', timeout: 2000 });

  // A gift shows its short animation in the other viewer's page.
  await a.page.getByRole('button', { name: 'rose', exact: true }).click();
  await b.page.getByTestId('gift').filter({ hasText: 'sent rose' }).first()
    .waitFor({ state: 'attached', timeout: 5000 });

  // A later viewer gets the recent comments on join.
  const c = await watch();
  await c.page.getByText(text, { exact: true }).waitFor({ timeout: 5000 });

  for (const v of [a, b, c]) {
    assert.deepEqual(v.errors, []);
    await v.page.close();
  }
});

test('the lobby lists the room and links to its watch page', async () => {
  const { page, errors } = await openPage(browser, '/');
  await page.getByRole('heading', { name: 'Live now' }).waitFor({ timeout: 15000 });
  // Not live (nothing is pushed), so it is listed under "Rooms", with its like total.
  await page.getByRole('heading', { name: 'Rooms' }).waitFor({ timeout: 10000 });
  const link = page.getByRole('link', { name: /Chat test room/ }).first();
  await link.waitFor();
  await link.click();
  await page.waitForURL(new RegExp(`/watch/${room.id}$`));
  await page.getByRole('heading', { name: `Room ${room.id}` }).waitFor();
  assert.deepEqual(errors, []);
  await page.close();
});

test('an unknown room says so without opening a chat', async () => {
  const { page, errors } = await openPage(browser, '/watch/no-such-room');
  await page.getByRole('heading', { name: 'Room no-such-room' }).waitFor({ timeout: 15000 });
  await page.getByText('There is no open room with this name').waitFor();
  assert.equal(await page.getByLabel('Comment', { exact: true }).count(), 0);
  // Only the lookup's own 404 (GET /api/rooms/no-such-room: unlisted rooms are not in the
  // list), which the browser logs itself.
  assert.deepEqual(errors.filter((e) => !/status of 404/.test(e)), []);
  assert.ok(errors.length <= 1, errors.join('\n'));
  await page.close();
});

test('the studio creates a room, shows its key once with the OBS settings, and its chat', async () => {
  const { page, errors } = await openSignedIn(browser, '/push.html', await createUser('streamer'));
  await page.getByRole('heading', { name: 'Studio' }).waitFor({ timeout: 15000 });
  await page.getByLabel('Room title').fill('Studio test room');
  await page.getByRole('button', { name: 'Create room' }).click();
  await page.getByText('it is shown only once').waitFor({ timeout: 5000 });
  const obsKey = await page.locator('dt:text-is("OBS stream key") + dd').textContent();
  assert.match(obsKey, /^[A-Za-z0-9_-]+\?key=\S+$/);
  assert.match(await page.locator('dt:text-is("OBS server") + dd').textContent(), /^rtmp:\/\/.+\/live$/);
  // The broadcaster's chat joins the new room.
  await page.getByTestId('viewers').getByText('1 watching').waitFor({ timeout: 5000 });
  assert.deepEqual(errors, []);
  await page.close();
});

test('closing a room tells its viewers, and the chat stops', async () => {
  const closing = await createRoom('Closing soon');
  const { page, errors } = await openPage(browser, `/watch/${closing.id}`);
  await page.getByTestId('viewers').getByText('1 watching').waitFor({ timeout: 15000 });
  const del = await fetch(`${BASE}/api/rooms/${closing.id}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${closing.stream_key}` },
  });
  assert.equal(del.status, 204);
  await page.getByText('This room has been closed.').waitFor({ timeout: 5000 });
  assert.ok(await page.getByRole('button', { name: 'Send', exact: true }).isDisabled());
  // No reconnect attempts follow: the status stays put.
  await page.waitForTimeout(1000);
  await page.getByText('This room has been closed.').waitFor({ timeout: 100 });
  assert.deepEqual(errors, []);
  await page.close();
});
