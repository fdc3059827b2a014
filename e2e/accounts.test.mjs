// Accounts in the browser: the first admin's one-time link and its password, sign-out and
// sign-in with clear errors (wrong password, then rate-limited), and a streamer managing
// its room in the studio: a private room's viewer link with Copy, moderators, visibility,
// a new stream key and closing it. Console errors are checked, except the refusals the
// browser logs by itself (401 / 429 answers the page expects).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, openPage, openSignedIn, collectErrors, signInWithForm, createUser, startOnair, BASE,
} from './helpers.mjs';

let browser;
let own;
before(async () => { browser = await launch(); });
after(async () => {
  await browser?.close();
  await own?.stop();
});

/** Console errors other than the browser's own report of an expected refused request. */
const unexpected = (errors, statuses) =>
  errors.filter((e) => !statuses.some((s) => e.includes(`status of ${s}`)));

test('the first admin signs in by the one-time link, sets a password, signs out and in again', async () => {
  // A fresh database: no admin yet, so the server prints the link.
  own = await startOnair();
  let link;
  for (let i = 0; i < 50 && !link; i++) {
    link = own.log().match(/\/signin\?link=([A-Za-z0-9_-]+)/)?.[1];
    if (!link) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(link, `no sign-in link in the log:\n${own.log()}`);
  const page = await browser.newPage();
  const errors = collectErrors(page);
  await page.goto(`${own.url}/signin?link=${link}&next=/push.html`);
  await page.getByText('Choose a password for next time').waitFor({ timeout: 15000 });
  const password = 'first-admin-password';
  await page.getByLabel('New password', { exact: true }).fill(password);
  await page.getByLabel('New password again', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Set password' }).click();
  await page.waitForURL(`${own.url}/push.html`);
  const account = page.getByTestId('account');
  await account.getByText('admin', { exact: true }).first().waitFor({ timeout: 10000 });
  // An admin may go live: the studio offers to make a room.
  await page.getByRole('region', { name: 'My rooms' }).waitFor();

  await account.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('navigation').getByRole('link', { name: 'Sign in' }).waitFor();
  await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor(); // the studio's form
  // The link works once.
  await page.goto(`${own.url}/signin?link=${link}`);
  await page.getByText('This sign-in link does not work').waitFor({ timeout: 10000 });

  await page.getByLabel('Name', { exact: true }).fill('admin');
  await page.getByLabel('Password', { exact: true }).fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByText('Wrong name or password.').waitFor({ timeout: 10000 });
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL(`${own.url}/`);
  await page.getByTestId('account').getByText('admin', { exact: true }).first().waitFor({ timeout: 10000 });
  assert.deepEqual(unexpected(errors, [401]), []);
  await page.close();
});

test('wrong passwords are rate-limited and the page says when to try again', async () => {
  const page = await browser.newPage();
  const errors = collectErrors(page);
  await page.goto(`${own.url}/signin`);
  await page.getByLabel('Name', { exact: true }).fill('admin');
  await page.getByLabel('Password', { exact: true }).fill('wrong-password');
  const limited = page.getByText(/too many tries: try again in \d+ s/);
  for (let i = 0; i < 8 && !(await limited.count()); i++) {
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('alert').waitFor({ timeout: 5000 });
    await page.waitForTimeout(200);
  }
  await limited.waitFor({ timeout: 1000 });
  assert.deepEqual(unexpected(errors, [401, 429]), []);
  await page.close();
});

test('a streamer manages a private room: viewer link, moderators, visibility, new key, close', async () => {
  const moderator = await createUser('moderator');
  const streamer = await createUser('streamer');
  const { page, errors, context } = await openSignedIn(browser, '/push.html', streamer);
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
  await page.getByTestId('account').getByText(streamer.name).waitFor({ timeout: 15000 });
  await page.getByText('You have no room yet').waitFor({ timeout: 10000 });
  await page.getByLabel('Room title').fill('Managed room');
  await page.locator('#room-new-visibility').selectOption('private');
  await page.getByRole('button', { name: 'Create room' }).click();
  await page.getByText('it is shown only once').waitFor({ timeout: 10000 });
  const manage = page.getByRole('region', { name: 'Manage room' });
  await manage.waitFor();
  const id = (await page.getByTestId('share-link').textContent()).split('/watch/')[1];

  // A viewer link for the private room, copied to the clipboard, opens the player.
  await manage.getByRole('button', { name: 'Create viewer link' }).click();
  const link = await manage.getByTestId('viewer-link').textContent();
  assert.match(link, new RegExp(`/watch/${id}\\?token=[A-Za-z0-9._~%-]+$`));
  await manage.getByRole('button', { name: 'Copy' }).click();
  await manage.getByText('Link copied.').waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), link);
  const viewer = await openPage(browser, new URL(link).pathname + new URL(link).search);
  await viewer.page.getByRole('region', { name: 'Video' }).waitFor({ timeout: 15000 });
  await viewer.page.getByText('Offline: the stream starts here when it goes live').waitFor({ timeout: 10000 });
  assert.deepEqual(viewer.errors, []);
  await viewer.page.close();

  // Moderators by name.
  await manage.getByLabel('Add moderator (user name)').fill(moderator.name);
  await manage.getByRole('button', { name: 'Add', exact: true }).click();
  await manage.getByRole('button', { name: `Remove ${moderator.name}` }).waitFor({ timeout: 10000 });
  await manage.getByRole('button', { name: `Remove ${moderator.name}` }).click();
  await manage.getByText('No moderators yet.').waitFor({ timeout: 10000 });

  // Public: the lobby lists it with its streamer's name.
  await manage.locator('#room-visibility').selectOption('public');
  await manage.getByText('The room is now public.').waitFor({ timeout: 10000 });
  const lobby = await openPage(browser, '/');
  const card = lobby.page.getByRole('listitem').filter({ hasText: 'Managed room' });
  await card.getByText(`by ${streamer.name}`).waitFor({ timeout: 15000 });
  assert.deepEqual(lobby.errors, []);
  await lobby.page.close();

  // A new key, shown once; then the room is closed and leaves the list.
  const before = await page.locator('dt:text-is("Stream key") + dd').textContent();
  await manage.getByRole('button', { name: 'New stream key' }).click();
  await manage.getByText('New stream key made').waitFor({ timeout: 10000 });
  await page.waitForFunction((old) => {
    const dd = [...document.querySelectorAll('dt')].find((d) => d.textContent === 'Stream key')?.nextElementSibling;
    return dd && dd.textContent !== old;
  }, before, { timeout: 10000 });
  await manage.getByRole('button', { name: 'Close room' }).click();
  await page.getByText('You have no room yet').waitFor({ timeout: 10000 });
  const closed = await fetch(`${BASE}/api/rooms/${id}`);
  assert.ok(closed.status === 404 || (await closed.json()).status === 'closed', `room ${id} still open`);
  assert.deepEqual(errors, []);

  // A moderator cannot go live.
  const mod = await openSignedIn(browser, '/push.html', moderator);
  await mod.page.getByText('Your account cannot go live').waitFor({ timeout: 15000 });
  assert.deepEqual(mod.errors, []);
  await mod.context.close();
  await context.close();
});
