#!/usr/bin/env node
// Real-browser test of the library guest's web player: Debian's Chromium, driven by
// playwright-core, against a running tapedeck (or anything that serves the same page and API).
//
//   node tests/browser/player.mjs --url 'http://127.0.0.1:8080/alice/?token=SECRET' \
//        [--expect '{"folder":"Tones","track":"Sine 494 Hz","wvFolder":"Legacy","wv":"Sine 880 Hz"}'] \
//        [--screenshot player.png] [--chromium /usr/bin/chromium] [--timeout 20]
//
// The same from the environment: TAPEDECK_PAGE_URL, TAPEDECK_EXPECT, TAPEDECK_SCREENSHOT,
// CHROMIUM, TAPEDECK_TIMEOUT (seconds per wait). `--expect` describes the library:
//   folder     folder to open from the library's root, by its entries ("A/B" opens A, then B)
//   track      title shown for a track of `folder` that is not its last one (tags.title, else
//              the file name)
//   wvFolder   folder holding the .wv track (default: `folder` when `wv` is given)
//   wv         title shown for a .wv (or .wma) track, played through /stream/wav/
//   paged      optional {"folder": "Big", "tracks": 230}: a folder with more tracks than one
//              page; the test scrolls until all of them are listed
// Keys left out take the values for tapedeck's demo library (`demo/`, tagged by scripts/make-demo-library.sh):
//   {"folder":"Tones","track":"Sine 494 Hz","wvFolder":"Legacy","wv":"Sine 880 Hz"}
// Exit status: 0 when every check passes, 1 with a message naming the failed check, 2 on
// bad arguments.

import { chromium } from 'playwright-core';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const DEMO = { folder: 'Tones', track: 'Sine 494 Hz', wvFolder: 'Legacy', wv: 'Sine 880 Hz' };
const MISSING = '__tapedeck_test_no_such_folder__';

function usage(msg) {
  console.error(`error: ${msg}\nusage: node player.mjs --url URL [--expect JSON] [--screenshot PNG] [--chromium PATH] [--timeout SECS]`);
  process.exit(2);
}
let opts;
try {
  opts = parseArgs({
    options: {
      url: { type: 'string' }, expect: { type: 'string' }, screenshot: { type: 'string' },
      chromium: { type: 'string' }, timeout: { type: 'string' }, headed: { type: 'boolean' },
    },
    allowPositionals: true,
  }).values;
} catch (e) { usage(e.message); }
const pageUrl = opts.url || process.env.TAPEDECK_PAGE_URL;
if (!pageUrl) usage('no page URL (--url or TAPEDECK_PAGE_URL)');
let expect;
try {
  const given = JSON.parse(opts.expect || process.env.TAPEDECK_EXPECT || '{}');
  expect = { ...DEMO, ...given };
  if (given.wv && !given.wvFolder) expect.wvFolder = expect.folder;
} catch (e) { usage(`--expect is not JSON: ${e.message}`); }
for (const k of ['folder', 'track', 'wvFolder', 'wv']) if (typeof expect[k] !== 'string' || !expect[k]) usage(`--expect: "${k}" must be a non-empty string`);
const screenshot = opts.screenshot || process.env.TAPEDECK_SCREENSHOT;
const executablePath = opts.chromium || process.env.CHROMIUM || '/usr/bin/chromium';
const WAIT = 1000 * Number(opts.timeout || process.env.TAPEDECK_TIMEOUT || 20);
if (!(WAIT > 0)) usage('--timeout must be a positive number of seconds');
if (!existsSync(executablePath)) usage(`no Chromium at ${executablePath} (apt-get install -y chromium, or --chromium PATH)`);

// What the page must do with the URL: every request under the tenant's base, with its token.
const target = new URL(pageUrl);
const token = target.searchParams.get('token');
let basePath = target.pathname.replace(/index\.html$/, '');
if (!basePath.endsWith('/')) basePath += '/';
const redact = s => (token ? String(s).split(encodeURIComponent(token)).join('***').split(token).join('***') : String(s));

class Failure extends Error {}
const fail = msg => { throw new Failure(msg); };
const log = msg => console.log(redact(msg));

// ---------------------------------------------------------------------------------------------
const profile = mkdtempSync(join(tmpdir(), 'tapedeck-chromium-'));
let context;
const problems = [];      // console errors, page errors, failed requests: reported at the end
const allowed = [];       // the same, deliberately expected (cover 404s, the missing folder)
const requests = [];
let missingFolderProbe = false;

const isCover404 = (url, status) => status === 404 && new URL(url).pathname.startsWith(basePath + 'api/cover/');
const isMissingFolder = url => missingFolderProbe && new URL(url).pathname === basePath + 'api/browse/' + MISSING;

async function main() {
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: !opts.headed,
    viewport: { width: 1100, height: 720 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required'].filter(a => a !== '--headless' || !opts.headed),
  });
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(WAIT);

  page.on('console', msg => {
    if (msg.type() !== 'error') return;
    const url = msg.location()?.url || '';
    const m = /status of (\d+)/.exec(msg.text());
    const entry = `console error: ${msg.text()} (${url})`;
    if (m && url && (isCover404(url, +m[1]) || isMissingFolder(url))) allowed.push(entry); else problems.push(entry);
  });
  page.on('pageerror', e => problems.push(`uncaught exception in the page: ${e.message}`));
  page.on('request', r => requests.push(r.url()));
  page.on('requestfailed', r => {
    const why = r.failure()?.errorText || '?';
    const entry = `request failed: ${r.method()} ${r.url()} (${r.resourceType()}): ${why}`;
    // Chromium cancels a media element's pending range request when its src changes or it
    // seeks, and an <img> load when its src changes: those are not failures.
    if (why === 'net::ERR_ABORTED' && (r.resourceType() === 'media' ||
      r.resourceType() === 'image' && new URL(r.url()).pathname.startsWith(basePath + 'api/cover/'))) allowed.push(entry);
    else problems.push(entry);
  });
  page.on('response', r => {
    if (r.status() < 400) return;
    const entry = `HTTP ${r.status()} for ${r.request().method()} ${r.url()}`;
    if (isCover404(r.url(), r.status()) || isMissingFolder(r.url()) && r.status() === 404) allowed.push(entry);
    else problems.push(entry);
  });

  const audioState = () => page.evaluate(() => {
    const a = document.querySelector('audio');
    return a && { src: a.currentSrc, t: a.currentTime, d: a.duration, paused: a.paused, ended: a.ended,
      error: a.error && `${a.error.code} ${a.error.message}`, ready: a.readyState };
  });
  const nowTitle = () => page.getByTestId('now-title').textContent().then(s => s.trim());
  const errorBanner = async () => (await page.getByTestId('error').isVisible()) ? (await page.getByTestId('error').textContent()).trim() : '';

  async function noErrorBanner(what) {
    const e = await errorBanner();
    if (e) fail(`${what}: the page shows an error: ${e}`);
  }
  // Waits until the <audio> plays: not paused, no error, and currentTime moves forward by
  // `advance` seconds (or reaches the end) from where it is when the wait starts.
  async function waitPlaying(what, advance = 0.4) {
    const start = (await audioState())?.t ?? 0;
    try {
      await page.waitForFunction(([start, advance]) => {
        const a = document.querySelector('audio');
        if (!a || a.error) return false;
        return !a.paused && a.currentTime >= Math.min(start + advance, (a.duration || Infinity) - 0.05);
      }, [start, advance], { timeout: WAIT, polling: 50 });
    } catch (e) {
      const s = await audioState();
      fail(`${what}: the audio does not play (${JSON.stringify(s)}; page error: ${await errorBanner() || 'none'})`);
    }
  }
  async function waitNowTitle(title, what) {
    try {
      await page.waitForFunction(t => document.querySelector('[data-testid=now-title]')?.textContent.trim() === t, title, { timeout: WAIT });
    } catch (e) { fail(`${what}: now-playing shows "${await nowTitle()}", expected "${title}"`); }
  }
  // Seeks and waits for the audio element's `seeked`; returns currentTime right after it.
  async function seekAndWait(action) {
    await page.evaluate(() => {
      const a = document.querySelector('audio');
      window.__seeked = null;
      a.addEventListener('seeked', () => { window.__seeked = a.currentTime; }, { once: true });
    });
    await action();
    await page.waitForFunction(() => window.__seeked !== null, null, { timeout: WAIT });
    return page.evaluate(() => window.__seeked);
  }
  async function crumbs() {
    return (await page.getByTestId('breadcrumb').locator('a, [aria-current]').allTextContents()).map(s => s.trim());
  }
  async function trackTitles() {
    return (await page.getByTestId('track-title').allTextContents()).map(s => s.trim());
  }
  async function openFolder(path) {
    for (const name of path.split('/')) {
      await page.waitForFunction(n => [...document.querySelectorAll('[data-testid=folder]')].some(e => e.textContent.trim() === n),
        name, { timeout: WAIT }).catch(() => {});
      const names = (await page.getByTestId('folder').allTextContents()).map(s => s.trim());
      const i = names.indexOf(name);
      if (i < 0) fail(`no folder entry "${name}" (folders shown: ${JSON.stringify(names)}; page error: ${await errorBanner() || 'none'})`);
      await page.getByTestId('folder').nth(i).click();
      try {
        await page.waitForFunction(n => {
          const c = document.querySelectorAll('[data-testid=breadcrumb] [aria-current]');
          return c.length && c[c.length - 1].textContent.trim() === n;
        }, name, { timeout: WAIT });
      } catch (e) { fail(`after opening "${name}", the breadcrumb shows ${JSON.stringify(await crumbs())}`); }
    }
    const want = path.split('/');
    const got = await crumbs();
    if (JSON.stringify(got.slice(-want.length)) !== JSON.stringify(want)) fail(`breadcrumb is ${JSON.stringify(got)}, expected it to end with ${JSON.stringify(want)}`);
    await page.waitForFunction(() => document.querySelector('[data-testid=track], [data-testid=folder]') ||
      document.querySelector('[data-testid=error]:not([hidden])'), null, { timeout: WAIT });
    await noErrorBanner(`opening ${path}`);
    log(`ok - opened "${path}" by its entries; breadcrumb: ${got.join(' / ')}`);
  }
  async function clickTrack(title) {
    const titles = await trackTitles();
    const i = titles.indexOf(title);
    if (i < 0) fail(`no track titled "${title}" (tracks shown: ${JSON.stringify(titles)})`);
    await page.getByTestId('track-title').nth(i).click();
    return { i, titles };
  }
  // Plays to the end (seeking close to it) and returns what follows: the next title, or null.
  async function seekNearEnd() {
    const s = await audioState();
    if (!isFinite(s.d)) fail(`the duration of ${s.src} is not known (${s.d}): cannot seek near its end`);
    await seekAndWait(() => page.evaluate(d => { document.querySelector('audio').currentTime = Math.max(0, d - 0.8); }, s.d));
  }

  // ---- 1. Load.
  const resp = await page.goto(pageUrl, { waitUntil: 'load' });
  if (!resp || !resp.ok()) fail(`GET page: HTTP ${resp && resp.status()}`);
  const body = await resp.body();
  log(`ok - page loaded: HTTP ${resp.status()}, ${resp.headers()['content-type']}, ${body.length} bytes`);
  await page.waitForFunction(() => document.querySelector('[data-testid=folder], [data-testid=track]') ||
    document.querySelector('[data-testid=error]:not([hidden])'), null, { timeout: WAIT });
  await noErrorBanner('loading the root folder');

  // ---- 2. Open the folder by its entries; breadcrumbs.
  await openFolder(expect.folder);

  // ---- 3. Click a track: the <audio> plays it.
  const first = await clickTrack(expect.track);
  await waitNowTitle(expect.track, 'after clicking the track');
  await waitPlaying(`playing "${expect.track}"`);
  let st = await audioState();
  const src = new URL(st.src);
  if (!src.pathname.startsWith(basePath)) fail(`the audio's src ${st.src} is not under the tenant's base ${basePath}`);
  if (token && src.searchParams.get('token') !== token) fail('the audio src does not carry the token');
  log(`ok - clicked "${expect.track}": playing (t=${st.t.toFixed(2)} of ${st.d.toFixed(2)} s, no error)`);

  // ---- 4. Media Session.
  const session = await page.evaluate(() => {
    const m = navigator.mediaSession;
    return m ? { state: m.playbackState, meta: m.metadata && { title: m.metadata.title, artist: m.metadata.artist,
      album: m.metadata.album, artwork: m.metadata.artwork.map(a => a.src) } } : null;
  });
  if (!session) fail('navigator.mediaSession is missing');
  if (!session.meta || session.meta.title !== expect.track) fail(`Media Session metadata is ${JSON.stringify(session.meta)}, expected title "${expect.track}"`);
  if (session.state !== 'playing') fail(`Media Session playbackState is "${session.state}" while playing`);
  for (const a of session.meta.artwork) if (token && new URL(a).searchParams.get('token') !== token) fail('Media Session artwork without the token');
  log(`ok - Media Session: "${session.meta.title}" / "${session.meta.artist}" / "${session.meta.album}", ${session.meta.artwork.length} artwork, playing`);

  // ---- 5. Seek with the seek bar, then with the keyboard; Space pauses and resumes.
  st = await audioState();
  const target1 = Math.round(st.d * 0.6 * 10) / 10;
  let at = await seekAndWait(() => page.getByTestId('seek').fill(String(target1)));
  if (Math.abs(at - target1) > 0.35) fail(`seek bar set to ${target1} s: currentTime is ${at}`);
  await waitPlaying('after seeking with the seek bar', 0.2);
  const shown = await page.getByTestId('seek').inputValue();
  if (Math.abs(+shown - target1) > 1.5) fail(`seek bar shows ${shown} after seeking to ${target1}`);
  const [timeText, durText, now] = [await page.getByTestId('time').textContent(), await page.getByTestId('duration').textContent(), await audioState()];
  const mss = s => Math.floor(s / 60) + ':' + String(Math.floor(s % 60)).padStart(2, '0');
  if (durText.trim() !== mss(now.d)) fail(`the duration shown is "${durText}", expected ${mss(now.d)}`);
  if (Math.abs(timeText.split(':').reduce((a, x) => a * 60 + +x, 0) - now.t) > 1.5) fail(`the time shown is "${timeText}" at ${now.t.toFixed(2)} s`);
  log(`ok - seek bar to ${target1} s: currentTime ${at.toFixed(2)}, still playing; shows ${timeText.trim()} / ${durText.trim()}`);

  await page.evaluate(() => document.activeElement?.blur());
  st = await audioState();
  at = await seekAndWait(() => page.keyboard.press('ArrowLeft'));
  const want = Math.max(0, st.t - 10);
  if (Math.abs(at - want) > 0.6) fail(`ArrowLeft at ${st.t.toFixed(2)} s went to ${at}, expected ~${want.toFixed(2)}`);
  log(`ok - ArrowLeft: ${st.t.toFixed(2)} s -> ${at.toFixed(2)} s`);
  if (st.d > 14) {
    st = await audioState();
    at = await seekAndWait(() => page.keyboard.press('ArrowRight'));
    if (Math.abs(at - (st.t + 10)) > 0.6) fail(`ArrowRight at ${st.t.toFixed(2)} s went to ${at}`);
    log(`ok - ArrowRight: ${st.t.toFixed(2)} s -> ${at.toFixed(2)} s`);
  }
  await page.keyboard.press('Space');
  await page.waitForFunction(() => document.querySelector('audio').paused, null, { timeout: WAIT })
    .catch(() => fail('Space did not pause'));
  await page.waitForFunction(() => /play/i.test(document.querySelector('[data-testid=play]').getAttribute('aria-label')), null, { timeout: WAIT })
    .catch(async () => fail(`paused, but the play/pause button is labelled "${await page.getByTestId('play').getAttribute('aria-label')}"`));
  await page.keyboard.press('Space');
  await waitPlaying('Space to resume', 0.2);
  log('ok - Space pauses and resumes');

  // ---- 5b. Quality: switching to a 128k MP3 transcode keeps the position and plays on;
  // back to the original likewise. The transcode shows the original's duration (its Info
  // frame) and seeks to 90 %.
  const originalDuration = (await audioState()).d;
  for (const [value, pattern] of [['128', /\/stream\/mp3\/.*[?&]bitrate=128/], ['', /\/stream\/(?!mp3\/)/]]) {
    const before = (await audioState()).t;
    await page.getByTestId('quality').selectOption(value);
    try {
      await page.waitForFunction(([source, before]) => {
        const a = document.querySelector('audio');
        return new RegExp(source).test(a.currentSrc) && a.readyState >= 1 && !a.paused && Math.abs(a.currentTime - before) < 1.5;
      }, [pattern.source, before], { timeout: WAIT, polling: 50 });
    } catch (e) { fail(`quality "${value || 'original'}": ${JSON.stringify(await audioState())}`); }
    await waitPlaying(`after switching quality to "${value || 'original'}"`, 0.2);
    log(`ok - quality "${value || 'original'}" plays on from ${before.toFixed(2)} s`);
    if (value !== '128') continue;
    const { d, t } = await audioState();
    if (!(Math.abs(d - originalDuration) <= 0.05)) fail(`the MP3 transcode lasts ${d} s, the original ${originalDuration} s`);
    const landed = await seekAndWait(() => page.evaluate(d => { document.querySelector('audio').currentTime = 0.9 * d; }, d));
    if (Math.abs(landed - 0.9 * d) > 0.1) fail(`seeking the MP3 transcode to ${0.9 * d} s landed at ${landed} s`);
    await waitPlaying('after seeking the MP3 transcode to 90 %', 0.1);
    await seekAndWait(() => page.evaluate(t => { document.querySelector('audio').currentTime = t; }, t));
    log(`ok - the MP3 transcode shows the duration (${d.toFixed(3)} s) and plays from 90 %`);
  }

  // ---- 6. Next (button), previous, next (keyboard), auto-advance at the end.
  const { i, titles } = first;
  if (i + 1 >= titles.length) fail(`"${expect.track}" is the last track of ${expect.folder}: pick one with a next track`);
  const second = titles[i + 1];
  st = await audioState();
  if (st.d - st.t < 1.5) await seekAndWait(() => page.evaluate(() => { document.querySelector('audio').currentTime = 0; }));
  if (await nowTitle() !== expect.track) fail(`"${expect.track}" should still be playing, now-playing shows "${await nowTitle()}"`);
  const srcBefore = (await audioState()).src;
  await page.getByTestId('next').click();
  await waitNowTitle(second, 'after next');
  await waitPlaying(`playing "${second}" after next`);
  if ((await audioState()).src === srcBefore) fail('next did not change the audio source');
  log(`ok - next: "${second}" plays`);
  if (screenshot) {
    await page.mouse.move(0, 0);
    await page.screenshot({ path: screenshot });
    log(`ok - screenshot written to ${screenshot}`);
  }
  await page.getByTestId('prev').click();
  await waitNowTitle(expect.track, 'after previous');
  await waitPlaying(`playing "${expect.track}" after previous`);
  log(`ok - previous: "${expect.track}" plays again`);
  await page.evaluate(() => document.activeElement?.blur());
  await page.keyboard.press('Shift+ArrowRight');
  await waitNowTitle(second, 'after Shift+ArrowRight');
  await waitPlaying(`playing "${second}" after Shift+ArrowRight`);
  log(`ok - Shift+ArrowRight: "${second}" plays`);
  await seekNearEnd();
  if (i + 2 < titles.length) {
    await waitNowTitle(titles[i + 2], `at the end of "${second}"`);
    await waitPlaying(`auto-advance to "${titles[i + 2]}"`);
    log(`ok - at the end of "${second}", "${titles[i + 2]}" plays by itself`);
    await page.getByTestId('enqueue').nth(0).click();
    await page.getByTestId('queue-toggle').click();
    const queued = (await page.getByTestId('queue-item').allTextContents()).map(s => s.trim());
    if (queued.at(-1) !== titles[0]) fail(`after "add to queue" on "${titles[0]}", the queue is ${JSON.stringify(queued)}`);
    if (!/true/.test(await page.getByTestId('queue-toggle').getAttribute('aria-expanded'))) fail('the queue button does not say the queue is open');
    await page.getByTestId('queue-toggle').click();
    log(`ok - add to queue: "${titles[0]}" is last of ${queued.length} in the queue`);
  } else {
    await page.waitForFunction(() => document.querySelector('audio').paused, null, { timeout: WAIT })
      .catch(() => fail(`"${second}" is the folder's last track: the player should stop at its end`));
    log(`ok - "${second}" is the last track: the player stops at its end`);
  }

  // ---- 7. A .wv track, decoded by the server, plays, seeks and advances.
  await page.getByTestId('breadcrumb').locator('a').first().click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=breadcrumb] a').length === 1 &&
    document.querySelector('[data-testid=folder]'), null, { timeout: WAIT })
    .catch(() => fail('the first breadcrumb does not lead back to the root folder'));
  log('ok - first breadcrumb leads back to the root');
  await openFolder(expect.wvFolder);
  const wv = await clickTrack(expect.wv);
  await waitNowTitle(expect.wv, 'after clicking the .wv track');
  await waitPlaying(`playing "${expect.wv}"`, 0.8);
  st = await audioState();
  if (!new URL(st.src).pathname.startsWith(basePath + 'stream/wav/')) fail(`"${expect.wv}" plays from ${st.src}, not from ${basePath}stream/wav/`);
  log(`ok - "${expect.wv}" plays from stream/wav/ (t=${st.t.toFixed(2)} of ${st.d.toFixed(2)} s)`);
  const wvTarget = Math.round(st.d * 0.5 * 10) / 10;
  at = await seekAndWait(() => page.getByTestId('seek').fill(String(wvTarget)));
  if (Math.abs(at - wvTarget) > 0.35) fail(`.wv: seek bar set to ${wvTarget} s, currentTime is ${at}`);
  await waitPlaying('.wv after seeking', 0.2);
  log(`ok - .wv seeks to ${at.toFixed(2)} s and plays on`);
  await seekNearEnd();
  if (wv.i + 1 < wv.titles.length) {
    await waitNowTitle(wv.titles[wv.i + 1], `at the end of "${expect.wv}"`);
    await waitPlaying(`auto-advance to "${wv.titles[wv.i + 1]}"`);
    log(`ok - .wv played to its end, "${wv.titles[wv.i + 1]}" plays by itself`);
  } else {
    await page.waitForFunction(() => { const a = document.querySelector('audio'); return a.paused && !a.error; }, null, { timeout: WAIT })
      .catch(() => fail(`"${expect.wv}" does not play to its end`));
    log(`ok - .wv played to its end (last track: the player stops)`);
  }
  await noErrorBanner('after playing the .wv track');

  // ---- 8. Optional: a folder bigger than a page lists all its tracks as one scrolls.
  if (expect.paged) {
    await page.getByTestId('breadcrumb').locator('a').first().click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=breadcrumb] a').length === 1, null, { timeout: WAIT });
    await openFolder(expect.paged.folder);
    const deadline = Date.now() + WAIT * 3;
    let n = 0;
    while ((n = await page.getByTestId('track').count()) < expect.paged.tracks && Date.now() < deadline) {
      await page.getByTestId('track').last().scrollIntoViewIfNeeded();
      await page.mouse.wheel(0, 4000);
      await page.waitForTimeout(150);
    }
    if (n !== expect.paged.tracks) fail(`${expect.paged.folder}: ${n} tracks listed after scrolling, expected ${expect.paged.tracks}`);
    const distinct = new Set(await page.getByTestId('track').evaluateAll(rows => rows.map(r => r.dataset.path))).size;
    if (distinct !== n) fail(`${expect.paged.folder}: ${n} rows but ${distinct} distinct tracks`);
    log(`ok - ${expect.paged.folder}: all ${n} tracks listed by scrolling (paged)`);
  }

  // ---- 9. A missing folder shows the server's JSON error.
  missingFolderProbe = true;
  const api = await page.request.get(new URL(basePath + 'api/browse/' + MISSING + (token ? '?token=' + encodeURIComponent(token) : ''), target).href);
  const apiErr = (await api.json().catch(() => ({}))).error;
  if (api.status() !== 404 || !apiErr) fail(`api/browse/${MISSING}: expected a 404 with a JSON error, got ${api.status()}`);
  await page.evaluate(m => { location.hash = '#/' + m; }, MISSING);
  await page.waitForFunction(() => !document.querySelector('[data-testid=error]').hidden, null, { timeout: WAIT })
    .catch(() => fail('a missing folder shows no error'));
  const shownErr = await errorBanner();
  if (!shownErr.includes(apiErr)) fail(`a missing folder shows "${shownErr}", expected the server's message "${apiErr}"`);
  log(`ok - a missing folder shows the server's error: "${shownErr}"`);

  // ---- 10. Every request: same origin, under the tenant's base, with the token; no errors.
  await page.waitForTimeout(300);
  for (const u of new Set(requests)) {
    const r = new URL(u);
    if (r.protocol === 'data:') continue;
    if (r.origin !== target.origin) problems.push(`request to another origin: ${u}`);
    else if (!r.pathname.startsWith(basePath)) problems.push(`request outside the tenant's base ${basePath}: ${u}`);
    else if (token && r.searchParams.get('token') !== token) problems.push(`request without the token: ${u}`);
  }
  if (problems.length) fail(`${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
  log(`ok - ${new Set(requests).size} distinct requests, all under ${basePath}${token ? ' with the token' : ''}; no console errors, no failed requests` +
    ` (${allowed.length} expected ones ignored: cover 404s, the missing folder, aborted media loads)`);
}

let code = 0;
try {
  await main();
  log('PASS');
} catch (e) {
  code = 1;
  console.error(redact(`FAIL: ${e instanceof Failure ? e.message : e.stack || e}`));
  if (screenshot && context) {
    const shot = screenshot.replace(/(\.png)?$/i, '-failure.png');
    await context.pages()[0]?.screenshot({ path: shot }).then(() => console.error(`failure screenshot: ${shot}`), () => {});
  }
  if (problems.length && !(e instanceof Failure && e.message.includes('problem(s)'))) console.error(redact(`also seen:\n  ${problems.join('\n  ')}`));
} finally {
  await context?.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
