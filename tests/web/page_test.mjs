// The worker's web page in a real headless Chromium (Debian's), driven by playwright-core,
// against real sd-worker-cpu processes on the tiny fixture model. Each state the page goes
// through is saved as a screenshot under SD_SCREENSHOT_DIR for review.
//
// Usage (ctest passes these): node page_test.mjs, with the environment of
// ../node/worker_process.mjs and
//   SD_SCREENSHOT_DIR where the screenshots go
//   CHROMIUM        the browser (default /usr/bin/chromium)
// Exits 77 (skipped) when the browser, playwright-core or the data is missing on a
// developer's machine; under CI=true that is a failure.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { fixturesDir, missing, requireWorkerParts, startWorker as startTinyWorker } from '../node/worker_process.mjs';

const shots = process.env.SD_SCREENSHOT_DIR || path.resolve('web-screenshots');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

requireWorkerParts();
if (!fs.existsSync(chromiumPath)) missing(`no Chromium at ${chromiumPath} (apt-get install chromium)`);
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch {
  missing('playwright-core is not installed (npm ci in tests/web)');
}

fs.mkdirSync(shots, { recursive: true });

// ---- workers --------------------------------------------------------------------------

// A worker with the tiny LoRA in its own --lora-dir, and a preview at every step.
async function startWorker(name, extra = []) {
  const loraDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-web-loras-'));
  fs.copyFileSync(path.join(fixturesDir, 'tiny-lora-sd15.safetensors'), path.join(loraDir, 'tiny-lora.safetensors'));
  return { ...(await startTinyWorker(name, ['--lora-dir', loraDir, '--preview-every', '1', ...extra])), loraDir };
}

function stopWorker(w) {
  if (!w) return;
  w.child.kill('SIGTERM');
  fs.rmSync(w.loraDir, { recursive: true, force: true });
}

// ---- the browser ----------------------------------------------------------------------

let worker;
let tokenWorker;
let page;
const userDataDirs = [];

async function newPage(viewport = { width: 1280, height: 900 }) {
  // A fresh profile per page: no state leaks between the open and the token worker.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-web-chromium-'));
  userDataDirs.push(dir);
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: chromiumPath,
    headless: true,
    viewport,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
    ],
  });
  const p = context.pages()[0] || (await context.newPage());
  const problems = [];
  const note = (text) => problems.push(text.slice(0, 300));
  p.on('pageerror', (e) => note(`page error: ${e.message}`));
  // The 400 and 401 answers the tests provoke are logged by the browser as failed loads.
  p.on('console', (m) => m.type() === 'error' && !/status of (400|401)/.test(m.text()) && note(`console: ${m.text()}`));
  p.problems = problems;
  return p;
}

async function shot(name, p = page) {
  await p.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

// Records every state of the job panel and every preview image shown, in the page, so
// states that last a few milliseconds are not missed by polling from here.
async function recordJobStates(p = page) {
  await p.evaluate(() => {
    window.__states = [];
    window.__previews = 0;
    const job = document.getElementById('job');
    const img = document.getElementById('job-preview');
    new MutationObserver(() => window.__states.push(job.dataset.state)).observe(job, { attributeFilter: ['data-state'] });
    new MutationObserver(() => img.dataset.kind === 'preview' && window.__previews++).observe(img, { attributeFilter: ['src'] });
  });
}

const jobState = (p = page) => p.locator('#job').getAttribute('data-state');
async function waitForState(state, p = page, timeout = 240_000) {
  await p.waitForFunction((s) => document.getElementById('job').dataset.state === s, state, { timeout });
}

const horizontalOverflow = (p = page) => p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

async function decodedSize(p, selector) {
  return p.locator(selector).evaluate(async (img) => {
    await img.decode();
    return [img.naturalWidth, img.naturalHeight];
  });
}

before(async () => {
  worker = await startWorker('web-test');
  page = await newPage();
  await page.goto(`${worker.url}/`);
});

after(async () => {
  if (page) await page.context().close();
  stopWorker(worker);
  stopWorker(tokenWorker);
  for (const dir of userDataDirs) fs.rmSync(dir, { recursive: true, force: true });
});

// ---- the tests --------------------------------------------------------------------------

test('the page loads from the worker and fills its choices from /info', async () => {
  await page.waitForFunction(() => document.getElementById('worker-info').textContent.includes('web-test'));
  const samplers = await page.locator('#sampler option').allTextContents();
  assert.ok(samplers.includes('euler_a') && samplers.includes('ddim'), `samplers: ${samplers}`);
  assert.deepEqual(await page.locator('#lora-list li').evaluateAll((lis) => lis.map((li) => li.dataset.name)), ['tiny-lora']);
  assert.ok((await page.locator('#size-preset option').count()) >= 7);
  // Every visible control has a label (keyboard and screen-reader use).
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea, button')]
      .filter((el) => el.offsetParent !== null && el.type !== 'hidden')
      .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
      .map((el) => el.id || el.outerHTML),
  );
  assert.deepEqual(unlabelled, []);
  await shot('01-loaded');
});

test('Ctrl+Enter generates: queue, progress, live previews, the final image at its size, kept in the gallery', async () => {
  await page.fill('#prompt', 'a red fox in the snow, (golden light:1.2)');
  await page.fill('#negative_prompt', 'blurry');
  await page.fill('#width', '96');
  await page.fill('#height', '64');
  await page.fill('#steps', '3');
  await page.selectOption('#sampler', 'euler_a');
  await page.selectOption('#seed-mode', 'fixed');
  await page.fill('#seed', '1234');
  await page.check('#lora-0');
  await recordJobStates();
  const submitted = page.waitForRequest((r) => r.url().endsWith('/v1/jobs') && r.method() === 'POST');
  await page.focus('#prompt');
  await page.keyboard.press('Control+Enter');
  const body = (await submitted).postDataJSON();
  assert.equal(body.operation, 'image_generation');
  assert.equal(body.prompt, 'a red fox in the snow, (golden light:1.2)');
  assert.equal(body.seed, 1234);
  assert.deepEqual(body.loras, [{ name: 'tiny-lora', strength: 1 }]);
  await page.waitForFunction(() => window.__states.includes('running'));
  await shot('02-running');
  await waitForState('done');
  const states = await page.evaluate(() => window.__states);
  assert.ok(states.includes('running'), `states: ${states}`);
  assert.ok((await page.evaluate(() => window.__previews)) >= 1, 'no live preview was shown');
  assert.equal(await page.locator('#job-preview').getAttribute('data-kind'), 'final');
  assert.deepEqual(await decodedSize(page, '#job-preview'), [96, 64]);
  assert.match(await page.locator('#job-detail').textContent(), /96 × 64, seed 1234/);
  assert.equal(await page.locator('#gallery li').count(), 1);
  assert.deepEqual(await decodedSize(page, '#gallery li img'), [96, 64]);
  assert.match(await page.locator('#gallery li .params').textContent(), /a red fox.*seed 1234.*3 steps.*euler_a.*LoRA tiny-lora/s);
  await shot('03-done');
});

test('a job waits behind other clients\' jobs showing its place, then runs, and Cancel stops it', async () => {
  // Two jobs of another client: one holds the engine, one waits; ours is third.
  const others = [];
  for (let i = 0; i < 2; i++) {
    const r = await fetch(`${worker.url}/v1/jobs`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ operation: 'image_generation', prompt: 'another client', steps: 150, width: 128, height: 128 }),
    });
    assert.equal(r.status, 200);
    others.push((await r.json()).job_id);
  }
  await page.uncheck('#lora-0');
  await page.fill('#width', '128');
  await page.fill('#height', '128');
  await page.fill('#steps', '150');
  await recordJobStates();
  await page.click('#generate');
  await page.waitForFunction(() => document.getElementById('job-detail').textContent === 'Position 2 in the queue');
  assert.equal(await jobState(), 'queued');
  await shot('04-queued');
  for (const id of others) assert.equal((await fetch(`${worker.url}/v1/jobs/${id}`, { method: 'DELETE' })).status, 200);
  await waitForState('running');
  await page.waitForFunction(() => /Step \d+ of 150/.test(document.getElementById('job-detail').textContent));
  await shot('05-long-job-running');
  await page.click('#cancel');
  await waitForState('cancelled');
  assert.equal(await page.locator('#gallery li').count(), 1);
  assert.ok(await page.locator('#generate').isEnabled());
  await shot('06-cancelled');
});

test("a bad request shows the worker's 400 message and marks the field", async () => {
  await page.fill('#width', '100');
  await page.fill('#steps', '4');
  await page.click('#generate');
  await waitForState('failed');
  const message = await page.locator('#job-error').textContent();
  assert.equal(message, 'width must be a multiple of 8, got 100');
  assert.equal(await page.locator('#width').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'width');
  await shot('07-bad-request');
  await page.fill('#width', '96');
  await page.fill('#height', '64');
});

test('an image from the gallery becomes the input of an inpaint job with a painted mask', async () => {
  await page.click('#gallery li button:text("Use as input")');
  await page.check('input[name=mode][value=image_inpaint]');
  const canvas = page.locator('#mask-canvas');
  await canvas.waitFor({ state: 'visible' });
  const box = await canvas.boundingBox();
  await page.fill('#brush-size', '40');
  await page.locator('#brush-size').dispatchEvent('input');
  // A stroke across the left half of the image.
  await page.mouse.move(box.x + box.width * 0.1, box.y + box.height * 0.5);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.4, { steps: 5 });
  await page.mouse.move(box.x + box.width * 0.4, box.y + box.height * 0.6, { steps: 5 });
  await page.mouse.up();
  assert.equal(await horizontalOverflow(), 0, 'the input image section widens the page');
  // Invert swaps painted and unpainted pixels; twice gives the mask back.
  const maskAt = () =>
    page.evaluate(() => {
      const c = document.getElementById('mask-canvas');
      const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const alpha = (x, y) => px[(Math.round(y * c.height) * c.width + Math.round(x * c.width)) * 4 + 3];
      return [alpha(0.2, 0.45) > 0, alpha(0.95, 0.05) > 0];
    });
  assert.deepEqual(await maskAt(), [true, false]);
  await page.click('#mask-invert');
  assert.deepEqual(await maskAt(), [false, true]);
  await page.click('#mask-invert');
  assert.deepEqual(await maskAt(), [true, false]);
  await shot('08-inpaint-mask');
  await page.fill('#strength', '0.9');
  await recordJobStates();
  const submitted = page.waitForRequest((r) => r.url().endsWith('/v1/jobs') && r.method() === 'POST');
  await page.click('#generate');
  const body = (await submitted).postDataJSON();
  assert.equal(body.operation, 'image_inpaint');
  assert.equal(body.strength, 0.9);
  assert.ok(body.input_image.length > 100);
  // The mask sent is the image's size, white where painted (left) and black elsewhere (right).
  const mask = await page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.naturalWidth;
    c.height = img.naturalHeight;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const px = ctx.getImageData(0, 0, c.width, c.height).data;
    let white = 0;
    let black = 0;
    for (let i = 0; i < px.length; i += 4) (px[i] === 255 ? white++ : px[i] === 0 ? black++ : 0);
    const at = (x, y) => px[(y * c.width + x) * 4];
    return { size: [c.width, c.height], white, black, left: at(Math.round(c.width * 0.2), Math.round(c.height * 0.45)), right: at(c.width - 2, 2) };
  }, body.mask_image);
  assert.deepEqual(mask.size, [96, 64]);
  assert.ok(mask.white > 100 && mask.black > 100, JSON.stringify(mask));
  assert.equal(mask.left, 255);
  assert.equal(mask.right, 0);
  await waitForState('done');
  assert.deepEqual(await decodedSize(page, '#job-preview'), [96, 64]);
  assert.equal(await page.locator('#gallery li').count(), 2);
  assert.match(await page.locator('#gallery li .params').first().textContent(), /inpaint/);
  await shot('09-inpaint-done');
});

test('the gallery survives a reload, and a dropped PNG fills the form from its parameters', async () => {
  await page.reload();
  await page.waitForFunction(() => document.getElementById('worker-info').textContent.includes('web-test'));
  await page.waitForFunction(() => document.querySelectorAll('#gallery li').length === 2);
  // The last job's settings come back with the page.
  assert.equal(await page.inputValue('#prompt'), 'a red fox in the snow, (golden light:1.2)');
  assert.equal(await page.inputValue('#strength'), '0.9');
  assert.equal(await page.inputValue('#seed'), '1234');
  for (const id of ['#prompt', '#negative_prompt', '#seed']) await page.fill(id, '');
  await page.fill('#steps', '20');
  await page.fill('#width', '64');
  await page.uncheck('#lora-0');
  // The first image (the fox) dropped onto the page, as a file from the desktop would be.
  await page.evaluate(async () => {
    const img = document.querySelectorAll('#gallery li img')[1];
    const bytes = Uint8Array.from(atob(img.src.split(',')[1]), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], 'fox.png', { type: 'image/png' }));
    document.querySelector('.results').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  await page.waitForFunction(() => document.getElementById('prompt').value.includes('red fox'));
  assert.equal(await page.inputValue('#prompt'), 'a red fox in the snow, (golden light:1.2)');
  assert.equal(await page.inputValue('#negative_prompt'), 'blurry');
  assert.equal(await page.inputValue('#steps'), '3');
  assert.equal(await page.inputValue('#sampler'), 'euler_a');
  assert.equal(await page.inputValue('#seed'), '1234');
  assert.equal(await page.inputValue('#width'), '96');
  assert.equal(await page.inputValue('#height'), '64');
  assert.ok(await page.isChecked('#lora-0'), 'the LoRA of the PNG is selected');
  await shot('10-reloaded-settings-from-png');
});

test('phone width and the dark colour scheme', async () => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await shot('11-dark');
  await page.setViewportSize({ width: 390, height: 844 });
  assert.equal(await horizontalOverflow(), 0, 'the page is wider than a phone screen');
  await shot('12-phone-dark');
  await page.check('input[name=mode][value=image_inpaint]');
  assert.equal(await horizontalOverflow(), 0, 'the inpaint tools are wider than a phone screen');
  await page.check('input[name=mode][value=image_generation]');
  await page.emulateMedia({ colorScheme: 'light' });
  await shot('13-phone-light');
});

test('with --api-token the page asks for the token and works once it is entered', async () => {
  tokenWorker = await startWorker('web-token', ['--api-token', 'open-sesame']);
  const p = await newPage();
  try {
    await p.goto(`${tokenWorker.url}/`);
    await p.locator('#token-dialog').waitFor({ state: 'visible' });
    await shot('14-token-asked', p);
    await p.fill('#token-input', 'wrong');
    await p.press('#token-input', 'Enter');
    await p.waitForFunction(() => document.getElementById('token-dialog').open && document.getElementById('token-input').value === '');
    await p.fill('#token-input', 'open-sesame');
    await p.press('#token-input', 'Enter');
    await p.waitForFunction(() => document.getElementById('worker-info').textContent.includes('web-token'));
    assert.equal(await p.locator('#token-dialog').isVisible(), false);
    await p.fill('#prompt', 'a lighthouse');
    await p.fill('#width', '64');
    await p.fill('#height', '64');
    await p.fill('#steps', '2');
    await p.fill('#count', '2');
    await p.selectOption('#seed-mode', 'fixed');
    await p.fill('#seed', '7');
    await p.click('#generate');
    // Two images, one job each, fixed seeds counting up.
    await p.waitForFunction(() => document.querySelectorAll('#gallery li').length === 2, null, { timeout: 240_000 });
    await waitForState('done', p);
    assert.deepEqual(await decodedSize(p, '#job-preview'), [64, 64]);
    assert.match(await p.locator('#job-status').textContent(), /Image 2 of 2: done/);
    const seeds = await p.locator('#gallery li .params').allTextContents();
    assert.ok(/seed 8 /.test(seeds[0]) && /seed 7 /.test(seeds[1]), seeds.join(' | '));
    await p.reload();
    await p.waitForFunction(() => document.getElementById('worker-info').textContent.includes('web-token'));
    assert.equal(await p.locator('#token-dialog').isVisible(), false, 'the token is kept in the browser');
    await shot('15-token-accepted', p);
    assert.deepEqual(p.problems, []);
  } finally {
    await p.context().close();
  }
  assert.deepEqual(page.problems, []);
});
