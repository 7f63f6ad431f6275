// Web page bench (docs/web-ui.md, "Performance"): a gallery of 10,000 faces, `siamface serve`
// with an API key, and Debian's headless chromium (puppeteer-core from tests/browser); prints the
// time from navigation start to the first page of people rendered, the median of several loads.
// Run through bench/web_ui_bench.sh, which checks the prerequisites.
//   env: SIAMFACE_CLI, SIAMFACE_TESTDATA, FACES (10000), PEOPLE (2000), LOADS (9)
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { launchBrowser, requireFile, requireModels, startServer, tempDir } from '../tests/browser/serve.mjs';

const cli = process.env.SIAMFACE_CLI;
const faces = Number(process.env.FACES || 10000);
const people = Number(process.env.PEOPLE || 2000);
const loads = Number(process.env.LOADS || 9);
const API_KEY = 'bench-key';

requireModels();
const photo = requireFile(path.join(process.env.SIAMFACE_TESTDATA || '', 'face_recognition_ageitgey', 'tests',
  'test_images', 'obama.jpg'), 'test photo');

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const work = tempDir('siamface_web_ui_bench_');
try {
  // One real face, exported, is the template of every synthetic one: same model, a slightly
  // different embedding, its own id, photo hash and person.
  const seed = path.join(work, 'seed.db');
  execFileSync(cli, ['enroll', '--gallery', seed, '--name', 'seed', photo], { stdio: 'ignore' });
  execFileSync(cli, ['export', '--gallery', seed, path.join(work, 'seed.jsonl')], { stdio: 'ignore' });
  const [header, line] = fs.readFileSync(path.join(work, 'seed.jsonl'), 'utf8').trim().split('\n');
  const template = JSON.parse(line);
  const out = fs.openSync(path.join(work, 'gallery.jsonl'), 'w');
  fs.writeSync(out, `${header}\n`);
  for (let i = 0; i < faces; i++) {
    const face = { ...template };
    face.id = crypto.randomUUID();
    face.person = `Person ${String(i % people).padStart(5, '0')}`;
    face.source_path = `synthetic/${i}.jpg`;
    face.image_sha256 = crypto.createHash('sha256').update(`face ${i}`).digest('hex');
    face.embedding = template.embedding.map((v) => v + (Math.random() - 0.5) * 0.02);
    face.created_unix_ms = template.created_unix_ms + i;
    fs.writeSync(out, `${JSON.stringify(face)}\n`);
  }
  fs.closeSync(out);
  const gallery = path.join(work, 'gallery.db');
  let started = Date.now();
  execFileSync(cli, ['import', '--gallery', gallery, path.join(work, 'gallery.jsonl')], { stdio: 'ignore' });
  console.log(`gallery: ${faces} faces of ${people} people imported in ${Date.now() - started} ms`);

  const server = await startServer({ cli, gallery, apiKey: API_KEY, log: path.join(work, 'server.log') });
  // Imported faces carry no thumbnail: the people of the first page get a real photo each (the
  // same photo may be enrolled for different people), so the page loads real thumbnails.
  const bytes = fs.readFileSync(photo);
  started = Date.now();
  for (let i = 0; i < 50; i++) {
    const form = new FormData();
    form.append('image', new Blob([bytes], { type: 'image/jpeg' }), 'obama.jpg');
    const name = encodeURIComponent(`Person ${String(i).padStart(5, '0')}`);
    const r = await fetch(`${server.base}/v1/people/${name}/faces`, { method: 'POST', body: form, headers: { 'x-api-key': API_KEY } });
    if (!r.ok) throw new Error(`enrolling a thumbnail photo: HTTP ${r.status} ${await r.text()}`);
  }
  console.log(`50 photos enrolled (thumbnails for the first page) in ${Date.now() - started} ms`);
  const browser = await launchBrowser(path.join(work, 'profile'));
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    await page.goto(`${server.base}/`, { waitUntil: 'networkidle0' });
    await page.type('#login-key', API_KEY);
    await page.click('#login-submit');
    await page.waitForSelector('#view[data-ready="people"]');
    const paged = await page.evaluate(async () => Array.isArray((await (await fetch('/v1/people?offset=0&limit=50')).json()).items));

    const measure = async (cold) => {
      await page.setCacheEnabled(!cold);
      await page.goto('about:blank');  // a full load each time, not a same-document hash change
      started = Date.now();
      await page.goto(`${server.base}/#/people`, { waitUntil: 'domcontentloaded' });
      await page.waitForSelector('#view[data-ready="people"] .person-card', { timeout: 60000 });
      const wall = Date.now() - started;
      const mark = await page.evaluate(() => {
        const entry = performance.getEntriesByName('siamface:people-rendered').pop();
        return entry ? entry.startTime : NaN;
      });
      // Then until every thumbnail in the viewport has loaded (the lazy ones below wait for a scroll).
      await page.waitForFunction(() => Array.from(document.querySelectorAll('.person-card img.thumb')).every((img) => {
        const r = img.getBoundingClientRect();
        return r.top > innerHeight || (img.complete && img.naturalWidth > 0);
      }), { timeout: 60000 });
      const images = await page.evaluate(() => performance.now());
      const cards = await page.$$eval('.person-card', (c) => c.length);
      const thumbnails = await page.$$eval('.person-card img.thumb', (i) => i.filter((x) => x.complete && x.naturalWidth > 0).length);
      return { mark, images, wall, cards, thumbnails };
    };
    const cold = [];
    const warm = [];
    for (let i = 0; i < loads; i++) cold.push(await measure(true));
    for (let i = 0; i < loads; i++) warm.push(await measure(false));
    const apiMs = await page.evaluate(async () => {
      const times = [];
      for (let i = 0; i < 9; i++) {
        const t = performance.now();
        await (await fetch('/v1/people?offset=0&limit=50', { cache: 'no-store' })).json();
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      return times[4];
    });
    const fmt = (v) => `${v.toFixed(0)} ms`;
    console.log(`server: ${paged ? 'paged /v1/people (offset/limit)' : 'unpaged /v1/people (every person in one answer)'}; ` +
      `${cold[0].cards} cards on the first page`);
    console.log(`GET /v1/people first page, median of 9: ${apiMs.toFixed(1)} ms`);
    console.log(`first page of people rendered (navigation start -> cards in the DOM), median of ${loads} loads:`);
    console.log(`  no browser cache:   ${fmt(median(cold.map((r) => r.mark)))} (wall ${fmt(median(cold.map((r) => r.wall)))}); ` +
      `visible thumbnails loaded: ${fmt(median(cold.map((r) => r.images)))}`);
    console.log(`  with browser cache: ${fmt(median(warm.map((r) => r.mark)))} (wall ${fmt(median(warm.map((r) => r.wall)))}); ` +
      `visible thumbnails loaded: ${fmt(median(warm.map((r) => r.images)))}`);
    console.log(`thumbnails loaded at that point: ${cold[0].thumbnails} of ${cold[0].cards} cards (loading="lazy": chromium fetches those near the viewport)`);
    const worst = Math.max(median(cold.map((r) => r.mark)), median(warm.map((r) => r.mark)));
    console.log(`target under 1000 ms: ${worst < 1000 ? 'met' : 'NOT met'}`);
  } finally {
    await browser.close();
    await server.stop();
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
