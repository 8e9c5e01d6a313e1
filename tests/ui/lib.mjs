// lib.mjs — shared Playwright helpers for keepwatch's browser tests (viewer.mjs, admin.mjs): launch the
// system Chromium headless, log in through the real login form, take numbered screenshots, and small
// checks used by every page test. Why a module: both test scripts drive the same login page and must
// launch Chromium the same way (flags that keep it offline and quiet on CI machines).

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

export const BASE_URL = process.env.BASE_URL || 'http://127.0.0.1:8080';
export const SHOTS = process.env.SCREENSHOT_DIR || 'target/ui-screenshots';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
  // WebRTC on loopback (the tests' keepwatch listens on 127.0.0.1): Chromium leaves loopback interfaces out of
  // ICE unless told, and hides host addresses behind mDNS names keepwatch cannot resolve.
  '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns'];

/** Launches Chromium; the caller closes it. */
export async function launch() {
  fs.mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/** A new context (own cookies) with a viewport and language, ready for downloads. */
export async function newPage(browser, { width = 1280, height = 800, locale = 'en-US', colorScheme = 'light' } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, locale, acceptDownloads: true, colorScheme,
    timezoneId: process.env.TZ_ID || 'Europe/Berlin' });
  const page = await context.newPage();
  page.on('pageerror', (e) => { pageErrors.push(e.message); log(`page error: ${e.message}`); });
  page.on('console', (m) => { if (m.type() === 'error') log(`console: ${m.text()}`); });
  return page;
}

/** Uncaught exceptions in any page so far (a script may insist there are none). */
export const pageErrors = [];

/** Logs in through the form and waits for the top bar. */
export async function login(page, user, password) {
  await page.goto(`${BASE_URL}/`);
  await page.getByTestId('login-user').fill(user);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await page.waitForSelector('header.topbar');
}

let shot = 0;
let prefix = '';
/** Names this script's screenshots `PREFIX-NN-name.png` (so two scripts never overwrite each other's). */
export function screenshotPrefix(p) {
  prefix = p ? `${p}-` : '';
}
/** Saves `[PREFIX-]NN-name.png` in the screenshot directory. */
export async function screenshot(page, name) {
  shot += 1;
  const file = path.join(SHOTS, `${prefix}${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

export function log(...a) {
  console.log(`[${new Date().toISOString().slice(11, 23)}]`, ...a);
}

export function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

/** Waits until `fn()` (run in the page) is truthy; fails with `what`. */
export async function waitTrue(page, fn, arg, what, timeout = 20000) {
  try {
    await page.waitForFunction(fn, arg, { timeout, polling: 250 });
  } catch (e) {
    throw new Error(`timed out waiting for ${what}: ${e.message.split('\n')[0]}`);
  }
}

/** Fails unless the page cannot be scrolled sideways. */
export async function noHorizontalScroll(page, what) {
  const [sw, iw] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  assert(sw <= iw, `${what}: the page scrolls sideways (scrollWidth ${sw} > innerWidth ${iw})`);
}

/** Runs the test body, closing the browser and exiting non-zero with the error on failure. */
export async function run(body) {
  const browser = await launch();
  try {
    await body(browser);
    log('ok');
  } catch (e) {
    log(`FAILED: ${e.stack || e}`);
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}
