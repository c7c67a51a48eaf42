#!/usr/bin/env node
// Real-browser test of a /stream/mp3/ transcode in a plain <audio>: Debian's Chromium, driven by
// playwright-core, shows the source's duration (from the transcode's Info frame) and seeks to
// 90 % with a Range request into the stream, then plays on from there.
//
//   node tests/browser/mp3_seek.mjs URL DURATION [--chromium /usr/bin/chromium] [--timeout 20]
//
//   URL        the transcode, e.g. 'http://127.0.0.1:8080/stream/mp3/Album/long.flac?bitrate=128'
//   DURATION   the source's duration in seconds: a long one (minutes), so that Chromium has not
//              buffered 90 % of it when it seeks
// Prints "ok - ..." per check, then PASS. Exit status: 0 when every check passes, 1 with a
// message naming the failed check, 2 on bad arguments.

import { chromium } from 'playwright-core';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const DURATION_TOLERANCE = 0.05;
const SEEK_TOLERANCE = 0.5;

function usage(msg) {
  console.error(`error: ${msg}\nusage: node mp3_seek.mjs URL DURATION [--chromium PATH] [--timeout SECS]`);
  process.exit(2);
}
let opts, positionals;
try {
  ({ values: opts, positionals } = parseArgs({
    options: { chromium: { type: 'string' }, timeout: { type: 'string' } },
    allowPositionals: true,
  }));
} catch (e) { usage(e.message); }
if (positionals.length !== 2) usage(`expected 2 arguments, got ${positionals.length}`);
const url = positionals[0];
const expected = Number(positionals[1]);
if (!(expected > 0)) usage(`DURATION must be a positive number of seconds, got ${positionals[1]}`);
const executablePath = opts.chromium || process.env.CHROMIUM || '/usr/bin/chromium';
const WAIT = 1000 * Number(opts.timeout || process.env.TAPEDECK_TIMEOUT || 20);
if (!existsSync(executablePath)) usage(`no Chromium at ${executablePath}`);

class Failure extends Error {}
const fail = msg => { throw new Failure(msg); };

const profile = mkdtempSync(join(tmpdir(), 'tapedeck-chromium-'));
let context;
const ranges = [];     // the first byte of each Range request Chromium made for the transcode
const problems = [];

async function main() {
  const head = await fetch(url, { method: 'HEAD' });
  const length = Number(head.headers.get('content-length'));
  if (head.status !== 200 || !(length > 0)) fail(`HEAD ${url}: ${head.status}, Content-Length ${length}`);
  context = await chromium.launchPersistentContext(profile, {
    executablePath, headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required'],
  });
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', e => problems.push(`uncaught exception: ${e.message}`));
  page.on('request', r => {
    const range = /^bytes=(\d+)-/.exec(r.headers().range || '');
    if (r.url() === url && range) ranges.push(+range[1]);
  });
  // A media element may load another origin's audio without CORS: the page needs no server.
  await page.setContent(`<audio id="a" preload="auto" src="${url.replace(/"/g, '&quot;')}"></audio>`);
  const state = () => page.evaluate(() => {
    const a = document.getElementById('a');
    return { t: a.currentTime, d: a.duration, paused: a.paused, error: a.error && `${a.error.code} ${a.error.message}` };
  });
  await page.waitForFunction(() => document.getElementById('a').readyState >= 1, null, { timeout: WAIT })
    .catch(async () => fail(`no metadata: ${JSON.stringify(await state())}`));
  const { d } = await state();
  if (!(Math.abs(d - expected) <= DURATION_TOLERANCE)) fail(`duration ${d} s, the source's ${expected} s`);
  console.log(`ok - duration ${d.toFixed(3)} s (source ${expected} s)`);

  const playsFrom = async (from, what) => page.waitForFunction(from => {
    const a = document.getElementById('a');
    return !a.error && !a.paused && a.currentTime >= from + 0.3;
  }, from, { timeout: WAIT, polling: 50 }).catch(async () => fail(`${what}: not playing (${JSON.stringify(await state())})`));
  await page.evaluate(() => document.getElementById('a').play());
  await playsFrom(0, 'from the start');
  const before = ranges.length;
  const target = 0.9 * d;
  const landed = await page.evaluate(target => new Promise(done => {
    const a = document.getElementById('a');
    a.addEventListener('seeked', () => done(a.currentTime), { once: true });
    a.currentTime = target;
  }), target);
  if (Math.abs(landed - target) > SEEK_TOLERANCE) fail(`seeked to ${target} s, landed at ${landed} s`);
  await playsFrom(landed, 'after the seek to 90 %');
  const late = ranges.slice(before).filter(start => start >= 0.8 * length);
  if (!late.length) fail(`no Range request past 80 % of ${length} bytes after the seek (${JSON.stringify(ranges)})`);
  console.log(`ok - seeked to ${landed.toFixed(2)} s with Range: bytes=${late[0]}- of ${length}, and plays on`);
  if (problems.length) fail(problems.join('\n'));
}

try {
  await main();
  console.log('PASS');
} catch (e) {
  console.error(e instanceof Failure ? `FAIL: ${e.message}` : e);
  process.exitCode = 1;
} finally {
  await context?.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
