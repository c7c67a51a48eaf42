#!/usr/bin/env node
// Real-browser test of tapedeck's HLS (/hls/<path>/index.m3u8): Debian's Chromium, driven by
// playwright-core, plays a multivariant playlist through hls.js (tests/browser/node_modules,
// pinned by package-lock.json) against a running tapedeck, or anything serving the same layout.
//
//   node tests/browser/hls.mjs URL DURATION VARIANTS [--chromium /usr/bin/chromium] [--timeout 20]
//
//   URL        the multivariant playlist, e.g.
//              'http://127.0.0.1:8080/alice/hls/Album/01%20-%20x.mp3/index.m3u8?token=SECRET'
//   DURATION   the source's duration in seconds (ffprobe's)
//   VARIANTS   how many variants the playlist must list (3 AAC, plus FLAC for a lossless source)
//
// CHROMIUM and TAPEDECK_TIMEOUT (seconds per wait) in the environment do what the flags do.
// The server sends no CORS headers, so the test page is served from the server's own origin:
// a request for `hls-test.html` beside the playlist is answered by the browser itself
// (page.route), and hls.min.js is injected into it. Checks, in order:
//   a. Hls.isSupported(); the playlist lists VARIANTS variants, each with BANDWIDTH and CODECS,
//      and hls.js parses as many levels; <audio>.duration is DURATION within 0.05 s;
//   b. playback starts on the lowest level and currentTime advances;
//   c. hls.currentLevel set to the highest level of the lowest level's codec (aac-256), then
//      to the highest of all if its codec differs (flac): each time LEVEL_SWITCHED comes,
//      fragments of that level load and playback goes on;
//   d. seeks to 50 % and to 90 %: currentTime lands within 0.5 s of the target and advances,
//      and the first segment requested after the seek is n.m4s with
//      n = floor(target / the media playlist's first EXTINF); then it plays to its end
//      (`ended`), the duration still DURATION within 0.05 s;
//   e. no fatal hls.js error, no media element error, no console error, no failed or >= 400
//      request (aborted segment loads excepted: hls.js cancels them when it switches or
//      seeks), every request under the playlist's folder and carrying its token.
// Prints "ok - ..." per check, then a JSON summary line and PASS. Exit status: 0 when every
// check passes, 1 with a message naming the failed check, 2 on bad arguments.

import { chromium } from 'playwright-core';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HLS_JS = join(dirname(fileURLToPath(import.meta.url)), 'node_modules/hls.js/dist/hls.min.js');
const DURATION_TOLERANCE = 0.05;
const SEEK_TOLERANCE = 0.5;
// Non-fatal hls.js errors that nothing wrong in the stream causes: stalls on a loaded machine,
// and `aborted`, the load hls.js cancels itself when a switch or a seek makes it useless.
const TOLERATED = ['bufferStalledError', 'bufferNudgeOnStall', 'aborted'];

function usage(msg) {
  console.error(`error: ${msg}\nusage: node hls.mjs URL DURATION VARIANTS [--chromium PATH] [--timeout SECS] [--headed]`);
  process.exit(2);
}
let opts, positionals;
try {
  ({ values: opts, positionals } = parseArgs({
    options: { chromium: { type: 'string' }, timeout: { type: 'string' }, headed: { type: 'boolean' } },
    allowPositionals: true,
  }));
} catch (e) { usage(e.message); }
if (positionals.length !== 3) usage(`expected 3 arguments, got ${positionals.length}`);
let playlistUrl;
try { playlistUrl = new URL(positionals[0]); } catch (e) { usage(`not a URL: ${positionals[0]}`); }
const expectedDuration = Number(positionals[1]);
if (!(expectedDuration > 0)) usage(`DURATION must be a positive number of seconds, got ${positionals[1]}`);
const expectedVariants = Number(positionals[2]);
if (!Number.isInteger(expectedVariants) || expectedVariants < 1) usage(`VARIANTS must be a positive integer, got ${positionals[2]}`);
const executablePath = opts.chromium || process.env.CHROMIUM || '/usr/bin/chromium';
const WAIT = 1000 * Number(opts.timeout || process.env.TAPEDECK_TIMEOUT || 20);
if (!(WAIT > 0)) usage('--timeout must be a positive number of seconds');
if (!existsSync(executablePath)) usage(`no Chromium at ${executablePath} (apt-get install -y chromium, or --chromium PATH)`);
if (!existsSync(HLS_JS)) usage(`no ${HLS_JS} (run npm ci in tests/browser)`);

const token = playlistUrl.searchParams.get('token');
const baseUrl = new URL('.', playlistUrl);            // the playlist's folder: every request stays under it
const basePath = baseUrl.pathname;
const testPage = new URL('hls-test.html', baseUrl);   // same origin as the server, answered by page.route
const redact = s => (token ? String(s).split(encodeURIComponent(token)).join('***').split(token).join('***') : String(s));

class Failure extends Error {}
const fail = msg => { throw new Failure(msg); };
const log = msg => console.log(redact(msg));

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>tapedeck HLS test</title>
<link rel="icon" href="data:,"></head><body><audio id="audio" controls></audio></body></html>`;

// hls.js with a short forward buffer (one or two 6 s segments ahead), so that each seek has to
// load the segment it lands in, and without bandwidth-driven switches (the level is set by hand).
const HLS_CONFIG = {
  debug: false, startLevel: 0, capLevelToPlayerSize: false, testBandwidth: false,
  maxBufferLength: 3, maxMaxBufferLength: 6, backBufferLength: 10,
};

// ---------------------------------------------------------------------------------------------
const profile = mkdtempSync(join(tmpdir(), 'tapedeck-chromium-'));
let context, page;
const problems = [];      // console errors, page errors, failed requests, >= 400: reported at the end
const allowed = [];       // aborted segment loads (hls.js cancels them on a switch or a seek)
const warnings = [];      // console warnings: in the summary, not failures
const requests = [];      // every request the page made, in order: { url, at }
const t0 = Date.now();

const isHlsResource = u => /\/(index\.m3u8|init\.mp4|\d+\.m4s)$/.test(new URL(u).pathname);
const segmentOf = u => {
  const m = /\/([^/]+)\/(\d+)\.m4s$/.exec(new URL(u).pathname);
  return m && { variant: decodeURIComponent(m[1]), index: +m[2] };
};
const variantOf = u => decodeURIComponent(new URL(u).pathname.slice(basePath.length).split('/')[0]);

// The playlist text, fetched from Node (the same URL, token included, that hls.js uses).
async function getText(url, what) {
  let r;
  try { r = await fetch(url); } catch (e) { fail(`${what}: GET ${url} failed: ${e.cause?.message || e.message}`); }
  const body = await r.text();
  if (r.status !== 200) fail(`${what}: GET ${url} answered ${r.status}: ${body.slice(0, 300)}`);
  return { body, type: r.headers.get('content-type') };
}

async function main() {
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: !opts.headed,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required'].filter(a => a !== '--headless' || !opts.headed),
  });
  page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(WAIT);

  page.on('console', msg => {
    const entry = `console ${msg.type()}: ${msg.text()} (${msg.location()?.url || ''})`;
    if (msg.type() === 'error') problems.push(entry);
    else if (msg.type() === 'warning') warnings.push(entry);
  });
  page.on('pageerror', e => problems.push(`uncaught exception in the page: ${e.message}`));
  page.on('request', r => requests.push({ url: r.url(), at: Date.now() - t0 }));
  page.on('requestfailed', r => {
    const why = r.failure()?.errorText || '?';
    const entry = `request failed: ${r.method()} ${r.url()} (${r.resourceType()}): ${why}`;
    if (why === 'net::ERR_ABORTED' && isHlsResource(r.url())) allowed.push(entry); else problems.push(entry);
  });
  page.on('response', r => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.request().method()} ${r.url()}`);
  });
  await page.route(u => u.href === testPage.href,
    route => route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: PAGE }));

  // ---- a. The playlists as the server wrote them.
  const master = await getText(playlistUrl.href, 'multivariant playlist');
  if (!/^#EXTM3U/.test(master.body)) fail(`the multivariant playlist does not start with #EXTM3U: ${JSON.stringify(master.body.slice(0, 200))}`);
  const streamInfs = master.body.split(/\r?\n/).filter(l => l.startsWith('#EXT-X-STREAM-INF:'));
  if (streamInfs.length !== expectedVariants) fail(`the multivariant playlist lists ${streamInfs.length} variants, expected ${expectedVariants}:\n${master.body}`);
  for (const s of streamInfs) if (!/[:,]BANDWIDTH=\d+/.test(s) || !/[:,]CODECS="[^"]+"/.test(s)) fail(`a variant without BANDWIDTH or CODECS: ${s}`);
  log(`ok - the multivariant playlist (${master.type}) lists ${streamInfs.length} variants, each with BANDWIDTH and CODECS`);

  // ---- a. hls.js in a page of the server's origin.
  await page.goto(testPage.href);
  await page.addScriptTag({ path: HLS_JS });
  const env = await page.evaluate(() => ({ supported: window.Hls?.isSupported?.() ?? null, version: window.Hls?.version }));
  if (env.supported === null) fail('hls.min.js did not define Hls in the page');
  if (!env.supported) fail(`Hls.isSupported() is false in this Chromium (no MediaSource?)`);
  log(`ok - hls.js ${env.version}: Hls.isSupported()`);

  await page.evaluate(([src, config]) => {
    const audio = document.getElementById('audio');
    const t = window.__t = { manifest: null, errors: [], switched: [], loaded: [], buffered: [], mediaError: null,
      playRejected: null, ended: false, durations: [] };
    const hls = window.__hls = new Hls(config);
    hls.on(Hls.Events.MANIFEST_PARSED, (_, d) => {
      t.manifest = d.levels.map(l => ({ url: l.url[0], bitrate: l.bitrate, codecs: l.attrs.CODECS, audioCodec: l.audioCodec }));
      hls.loadLevel = 0;  // the lowest, by hand: no bandwidth-driven switch
      audio.play().catch(e => { t.playRejected = `${e.name}: ${e.message}`; });
    });
    hls.on(Hls.Events.ERROR, (_, d) => {
      t.errors.push({ fatal: d.fatal, type: d.type, details: d.details, reason: d.reason,
        error: d.error ? String(d.error.message || d.error) : undefined,
        url: d.frag?.url || d.context?.url || d.url, status: d.response?.code, at: audio.currentTime });
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_, d) => t.switched.push({ level: d.level, at: audio.currentTime }));
    hls.on(Hls.Events.FRAG_LOADED, (_, d) => t.loaded.push({ level: d.frag.level, sn: d.frag.sn, url: d.frag.url }));
    hls.on(Hls.Events.FRAG_BUFFERED, (_, d) => t.buffered.push({ level: d.frag.level, sn: d.frag.sn }));
    audio.addEventListener('error', () => { t.mediaError = audio.error && `${audio.error.code} ${audio.error.message}`; });
    audio.addEventListener('ended', () => { t.ended = true; });
    audio.addEventListener('durationchange', () => t.durations.push(audio.duration));
    hls.attachMedia(audio);
    hls.loadSource(src);
  }, [playlistUrl.href, HLS_CONFIG]);

  // What went wrong so far, for a failure message.
  const state = () => page.evaluate(() => {
    const a = document.getElementById('audio'), t = window.__t, h = window.__hls;
    const ranges = [];
    for (let i = 0; i < a.buffered.length; i++) ranges.push([+a.buffered.start(i).toFixed(3), +a.buffered.end(i).toFixed(3)]);
    return { t: a.currentTime, d: a.duration, paused: a.paused, ended: a.ended, ready: a.readyState, buffered: ranges,
      mediaError: t.mediaError, playRejected: t.playRejected, currentLevel: h.currentLevel, loadLevel: h.loadLevel,
      hlsErrors: t.errors.slice(-5), lastLoaded: t.loaded.slice(-3) };
  });
  const stateText = async () => redact(JSON.stringify(await state()));
  async function waitFor(what, fn, arg) {
    try {
      await page.waitForFunction(fn, arg, { timeout: WAIT, polling: 50 });
    } catch (e) {
      if (e instanceof Failure) throw e;
      fail(`${what} (waited ${WAIT / 1000} s): ${await stateText()}`);
    }
  }
  // Fails at the step where something went wrong: a fatal hls.js error, a non-fatal one other
  // than a stall on this shared machine (a segment Chromium cannot append makes hls.js reset
  // its MediaSource and fall back to another level, which playback alone would not show), a
  // media element error, a console error, a failed or >= 400 request.
  async function healthy(what) {
    const s = await page.evaluate(tolerated => ({ errors: window.__t.errors.filter(e => e.fatal || !tolerated.includes(e.details)),
      media: window.__t.mediaError }), TOLERATED);
    if (s.errors.length) fail(`${what}: ${s.errors[0].fatal ? 'fatal' : 'non-fatal'} hls.js error ${redact(JSON.stringify(s.errors[0]))}`);
    if (s.media) fail(`${what}: the <audio> element reports error ${s.media}`);
    if (problems.length) fail(`${what}: ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
  }
  // Waits until the audio plays `advance` seconds from where it is now (or reaches the end).
  async function waitPlaying(what, advance) {
    const start = (await state()).t;
    await waitFor(`${what}: the audio does not play on`, ([start, advance, tolerated]) => {
      const a = document.getElementById('audio');
      if (window.__t.errors.some(e => e.fatal || !tolerated.includes(e.details)) || window.__t.mediaError) return true;
      return a.ended || (!a.paused && a.currentTime >= Math.min(start + advance, (a.duration || Infinity) - 0.05));
    }, [start, advance, TOLERATED]);
    await healthy(what);
  }

  await waitFor('the manifest is not parsed', () => window.__t.manifest || window.__t.errors.some(e => e.fatal));
  await healthy('loading the manifest');
  const levels = await page.evaluate(() => window.__t.manifest);
  const describe = l => `${variantOf(l.url)} (${l.bitrate} b/s, ${l.codecs})`;
  if (levels.length !== expectedVariants) fail(`hls.js parsed ${levels.length} levels, expected ${expectedVariants}: ${levels.map(describe).join(', ')}`);
  for (const l of levels) {
    const codec = `audio/mp4; codecs="${l.codecs}"`;
    if (!await page.evaluate(c => MediaSource.isTypeSupported(c), codec)) fail(`this Chromium's MediaSource does not play ${codec} (level ${describe(l)})`);
  }
  log(`ok - hls.js parsed ${levels.length} levels, lowest to highest: ${levels.map(describe).join(', ')}`);

  await waitFor('<audio>.duration never becomes finite', () => Number.isFinite(document.getElementById('audio').duration) ||
    window.__t.errors.some(e => e.fatal) || window.__t.mediaError);
  await healthy('loading the first level');
  const duration0 = (await state()).d;
  if (!(Math.abs(duration0 - expectedDuration) <= DURATION_TOLERANCE)) fail(`<audio>.duration is ${duration0} s, expected ${expectedDuration} s (±${DURATION_TOLERANCE})`);
  log(`ok - <audio>.duration ${duration0.toFixed(3)} s (expected ${expectedDuration})`);

  // ---- b. Playback starts on the lowest level.
  await waitPlaying('starting playback', 0.5);
  let st = await state();
  if (st.currentLevel !== 0 && st.loadLevel !== 0) fail(`playing level ${st.currentLevel}, expected the lowest (0)`);
  log(`ok - plays ${variantOf(levels[0].url)} (t=${st.t.toFixed(2)} s)`);

  // ---- c. Level switches: to the highest level of the lowest one's codec (aac-64 -> aac-256),
  // then, if the highest level of all has another codec (FLAC), to it: a change of codec
  // (SourceBuffer.changeType). The seeks below play the last level switched to.
  const top = levels.length - 1;
  const sameCodecTop = levels.findLastIndex(l => l.codecs === levels[0].codecs);
  const switches = [...(sameCodecTop !== 0 && sameCodecTop !== top ? [sameCodecTop] : []), top];
  const switchReport = [];
  let from = 0;
  for (const to of switches) {
    if (to === from) continue;
    const before = await page.evaluate(() => ({ switched: window.__t.switched.length, loaded: window.__t.loaded.length, t: document.getElementById('audio').currentTime }));
    const started = Date.now();
    await page.evaluate(to => { window.__hls.currentLevel = to; }, to);
    const name = `${variantOf(levels[from].url)} -> ${variantOf(levels[to].url)}`;
    await waitFor(`switching ${name}: no LEVEL_SWITCHED to level ${to}`, ([n, to]) =>
      window.__t.switched.slice(n).some(s => s.level === to) || window.__t.errors.some(e => e.fatal) || window.__t.mediaError,
    [before.switched, to]);
    await healthy(`switching ${name}`);
    const ms = Date.now() - started;
    const loaded = await page.evaluate(([n, to]) => window.__t.loaded.slice(n).filter(f => f.level === to).map(f => f.sn), [before.loaded, to]);
    if (!loaded.length) fail(`switching ${name}: LEVEL_SWITCHED, but no fragment of level ${to} loaded`);
    const wrong = (await page.evaluate(n => window.__t.loaded.slice(n), before.loaded)).filter(f => f.level !== to);
    await waitPlaying(`after switching ${name}`, 0.5);
    st = await state();
    if (st.currentLevel !== to) fail(`after switching ${name}: hls.currentLevel is ${st.currentLevel}`);
    switchReport.push({ from: variantOf(levels[from].url), to: variantOf(levels[to].url), ms, fragments: loaded, otherLevelLoads: wrong.length, at: +before.t.toFixed(2) });
    log(`ok - switched ${name} at ${before.t.toFixed(2)} s in ${ms} ms (segments ${loaded.join(', ')} of the new level loaded); plays on at ${st.t.toFixed(2)} s`);
    from = to;
  }

  // ---- d. Seeks to 50 % and 90 %: the segment holding the target is the one requested.
  const mediaUrl = levels[from].url;
  const media = await getText(mediaUrl, `media playlist of ${variantOf(mediaUrl)}`);
  const extinfs = [...media.body.matchAll(/^#EXTINF:([0-9.]+)/gm)].map(m => +m[1]);
  if (!extinfs.length) fail(`the media playlist of ${variantOf(mediaUrl)} has no #EXTINF:\n${media.body.slice(0, 500)}`);
  if (!/^#EXT-X-ENDLIST/m.test(media.body)) fail(`the media playlist of ${variantOf(mediaUrl)} has no #EXT-X-ENDLIST`);
  const segment = extinfs[0];
  const extinfSum = extinfs.reduce((a, b) => a + b, 0);
  const seekReport = [];
  for (const share of [0.5, 0.9]) {
    const target = +(expectedDuration * share).toFixed(3);
    const want = Math.floor(target / segment);
    const mark = requests.length;
    await page.evaluate(target => {
      const a = document.getElementById('audio');
      window.__seeked = null;
      a.addEventListener('seeked', () => { window.__seeked = a.currentTime; }, { once: true });
      a.currentTime = target;
    }, target);
    await waitFor(`seeking to ${target} s: no 'seeked' event`, tolerated => window.__seeked !== null ||
      window.__t.errors.some(e => e.fatal || !tolerated.includes(e.details)) || window.__t.mediaError, TOLERATED);
    await healthy(`seeking to ${target} s`);
    const landed = await page.evaluate(() => window.__seeked);
    if (Math.abs(landed - target) > SEEK_TOLERANCE) fail(`seeking to ${target} s landed at ${landed} s`);
    await waitPlaying(`after seeking to ${target} s`, 0.5);
    const segs = requests.slice(mark).map(r => segmentOf(r.url)).filter(Boolean);
    if (!segs.length) fail(`seeking to ${target} s requested no segment (buffered: ${JSON.stringify((await state()).buffered)})`);
    if (segs[0].index !== want || segs[0].variant !== variantOf(mediaUrl)) {
      fail(`seeking to ${target} s first requested ${segs[0].variant}/${segs[0].index}.m4s, expected ${variantOf(mediaUrl)}/${want}.m4s ` +
        `(floor(${target} / ${segment})); requested after the seek: ${segs.map(s => `${s.variant}/${s.index}`).join(', ')}`);
    }
    st = await state();
    if (st.currentLevel !== from) fail(`after seeking to ${target} s, hls.js plays level ${st.currentLevel}, not ${variantOf(mediaUrl)} (${from}) as set`);
    seekReport.push({ target, landed: +landed.toFixed(3), segment: `${segs[0].variant}/${segs[0].index}.m4s`, playingAt: +st.t.toFixed(2) });
    log(`ok - seek to ${target} s (${share * 100} %): landed at ${landed.toFixed(3)} s, first requested ${segs[0].variant}/${segs[0].index}.m4s, plays on (t=${st.t.toFixed(2)})`);
  }

  // ---- d. Plays to its end: `ended`, and the duration is still the source's.
  await page.waitForFunction(tolerated => window.__t.ended || window.__t.errors.some(e => e.fatal || !tolerated.includes(e.details)) ||
    window.__t.mediaError, TOLERATED, { timeout: WAIT + 1000 * expectedDuration * 0.2, polling: 100 })
    .catch(async () => fail(`playing from 90 % to the end: no 'ended' event: ${await stateText()}`));
  await healthy('playing to the end');
  st = await state();
  if (!(Math.abs(st.d - expectedDuration) <= DURATION_TOLERANCE)) fail(`at the end, <audio>.duration is ${st.d} s, expected ${expectedDuration} s (±${DURATION_TOLERANCE})`);
  log(`ok - played to the end (t=${st.t.toFixed(3)} s, duration ${st.d.toFixed(3)} s)`);

  // ---- e. No errors, every request under the playlist's folder with the token.
  await page.waitForTimeout(200);
  const t = await page.evaluate(() => window.__t);
  for (const { url } of requests) {
    const r = new URL(url);
    if (r.protocol === 'data:' || r.protocol === 'blob:' || url === testPage.href) continue;
    if (r.origin !== playlistUrl.origin) problems.push(`request to another origin: ${url}`);
    else if (!r.pathname.startsWith(basePath)) problems.push(`request outside the playlist's folder ${basePath}: ${url}`);
    else if (token && r.searchParams.get('token') !== token) problems.push(`request without the token: ${url}`);
  }
  if (problems.length) fail(`${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
  const hlsRequests = requests.filter(r => r.url !== testPage.href);
  log(`ok - ${hlsRequests.length} requests, all under ${basePath}${token ? ' with the token' : ''}; no fatal hls.js error, ` +
    `no console errors, no failed requests (${allowed.length} aborted segment loads ignored)`);

  const summary = {
    hlsjs: env.version, url: playlistUrl.href, duration: { expected: expectedDuration, atStart: duration0, atEnd: st.d, extinfSum: +extinfSum.toFixed(6) },
    levels: levels.map(l => ({ variant: variantOf(l.url), bandwidth: l.bitrate, codecs: l.codecs })),
    segmentDuration: segment, switches: switchReport, seeks: seekReport,
    requests: { total: hlsRequests.length, segments: hlsRequests.filter(r => segmentOf(r.url)).length, aborted: allowed.length },
    nonFatalHlsErrors: t.errors.filter(e => !e.fatal), consoleWarnings: warnings, seconds: (Date.now() - t0) / 1000,
  };
  log(JSON.stringify(summary));
}

let code = 0;
try {
  await main();
  log('PASS');
} catch (e) {
  code = 1;
  console.error(redact(`FAIL: ${e instanceof Failure ? e.message : e.stack || e}`));
  if (problems.length && !(e instanceof Failure && e.message.includes('problem(s)'))) console.error(redact(`also seen:\n  ${problems.join('\n  ')}`));
  const errors = await page?.evaluate(() => window.__t?.errors).catch(() => null);
  if (errors?.length) console.error(redact(`hls.js errors:\n  ${errors.map(e => JSON.stringify(e)).join('\n  ')}`));
  if (requests.length) console.error(redact(`last requests:\n  ${requests.slice(-12).map(r => `${r.at} ms ${r.url}`).join('\n  ')}`));
} finally {
  await context?.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
