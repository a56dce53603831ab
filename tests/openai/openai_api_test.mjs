// The worker's OpenAI images API driven by the official `openai` SDK, as its users call it,
// against sd-worker-cpu processes on the tiny fixture model over loopback.
//
// Environment: as ../node/worker_process.mjs says. Exits 77 (skipped) when the SDK or the
// data is missing on a developer's machine; under CI=true that is a failure.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import zlib from 'node:zlib';

import { missing, requireWorkerParts, startWorker as startTinyWorker } from '../node/worker_process.mjs';

requireWorkerParts();
let OpenAI, toFile;
try {
  ({ default: OpenAI, toFile } = await import('openai'));
} catch {
  missing('the openai SDK is not installed (npm ci in tests/openai)');
}
// Node 18 has File only in node:buffer; the SDK asks for it as a global to upload files.
if (typeof globalThis.File === 'undefined') globalThis.File = (await import('node:buffer')).File;

// ---- PNG files, written and read without a library ------------------------------------

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}
// An 8-bit PNG from pixel(x, y) -> [r, g, b] or [r, g, b, a].
function makePng(width, height, channels, pixel) {
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * channels);
    for (let x = 0; x < width; x++) Buffer.from(pixel(x, y)).copy(row, 1 + x * channels);
    rows.push(row);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = channels === 4 ? 6 : 2;
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
// Width, height and tEXt chunks of a PNG.
function readPng(buf) {
  assert.deepEqual([...buf.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], 'not a PNG');
  const out = { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20), text: {} };
  for (let at = 8; at + 12 <= buf.length; ) {
    const len = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    if (type === 'tEXt') {
      const data = buf.subarray(at + 8, at + 8 + len);
      const nul = data.indexOf(0);
      out.text[data.toString('latin1', 0, nul)] = data.toString('latin1', nul + 1);
    }
    at += 12 + len;
  }
  return out;
}
const pngOf = (b64) => readPng(Buffer.from(b64, 'base64'));

// ---- workers --------------------------------------------------------------------------

const startWorker = (name, extra = []) => startTinyWorker(name, ['--preview', 'none', ...extra]);

let worker;
let tokenWorker;
let client;

before(async () => {
  worker = await startWorker('w-openai');
  tokenWorker = await startWorker('w-openai-token', ['--api-token', 'sesame']);
  // The SDK retries 429/5xx on its own; these tests want each answer as it is.
  client = new OpenAI({ baseURL: `${worker.url}/v1`, apiKey: 'unused-without-a-token', maxRetries: 0 });
});

after(() => {
  for (const w of [worker, tokenWorker]) w?.child.kill('SIGTERM');
});

// Small and quick: the tiny model at 64x64 with a few steps.
const quick = { size: '64x64', steps: 3 };

// How many jobs the worker has completed, from its Prometheus text.
async function jobsCompleted() {
  const text = await (await fetch(`${worker.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('sd_worker_jobs_total{outcome="completed"}'));
  assert.ok(line, text);
  return Number(line.split(' ').pop());
}

// The SDK's error for a call that must fail.
async function refusal(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail('the call succeeded');
}

// ---- the tests ------------------------------------------------------------------------

test('generate with b64_json: a PNG of the asked size carrying the generation parameters', async () => {
  const res = await client.images.generate({
    prompt: 'a red fox in the snow',
    response_format: 'b64_json',
    ...quick,
    seed: 1234,
    negative_prompt: 'blurry',
    guidance_scale: 5,
    sampler: 'euler_a',
    schedule: 'karras',
  });
  assert.equal(typeof res.created, 'number');
  assert.ok(Math.abs(res.created - Date.now() / 1000) < 600);
  assert.equal(res.data.length, 1);
  assert.equal(res.output_format, 'png');
  assert.equal(res.size, '64x64');
  const png = pngOf(res.data[0].b64_json);
  assert.equal(png.width, 64);
  assert.equal(png.height, 64);
  const params = png.text.parameters;
  assert.match(params, /^a red fox in the snow\nNegative prompt: blurry\n/);
  assert.match(params, /Steps: 3,/);
  assert.match(params, /Seed: 1234,/);
  assert.match(params, /CFG scale: 5,/);
  assert.match(params, /Sampler: Euler a, Schedule type: Karras,/);
});

test('b64_json is the default; the same seed gives the same image', async () => {
  const a = await client.images.generate({ prompt: 'a lighthouse', ...quick, seed: 5 });
  const b = await client.images.generate({ prompt: 'a lighthouse', ...quick, seed: 5, model: 'auto' });
  assert.equal(a.data[0].url, undefined);
  assert.equal(a.data[0].b64_json, b.data[0].b64_json);
});

test('url answers: the worker serves the PNG for the job retention time', async () => {
  const res = await client.images.generate({ prompt: 'a castle', ...quick, seed: 9, response_format: 'url' });
  assert.equal(res.data[0].b64_json, undefined);
  const url = new URL(res.data[0].url);
  assert.equal(url.origin, worker.url);
  assert.match(url.pathname, /^\/v1\/images\/files\/job-[0-9a-f-]{36}-0\.png$/);
  const got = await fetch(url);
  assert.equal(got.status, 200);
  assert.equal(got.headers.get('content-type'), 'image/png');
  const png = readPng(Buffer.from(await got.arrayBuffer()));
  assert.equal(png.width, 64);
  assert.match(png.text.parameters, /Seed: 9,/);
  // An unknown file is an OpenAI-shaped 404.
  const none = await fetch(`${worker.url}/v1/images/files/job-00000000-0000-0000-0000-000000000000-0.png`);
  assert.equal(none.status, 404);
  assert.equal((await none.json()).error.type, 'invalid_request_error');
  // The job's image 1 does not exist (n was 1), nor does a name without an index.
  for (const other of [url.pathname.replace('-0.png', '-1.png'), url.pathname.replace('-0.png', '.png')]) {
    const missing = await fetch(`${worker.url}${other}`);
    assert.equal(missing.status, 404, other);
  }
});

test('output_format jpeg and webp: the image in that format, by b64_json and by url', async () => {
  const jpeg = await client.images.generate({ prompt: 'a castle', ...quick, seed: 9, output_format: 'jpeg',
                                               output_compression: 90 });
  assert.equal(jpeg.output_format, 'jpeg');
  const jpegBytes = Buffer.from(jpeg.data[0].b64_json, 'base64');
  assert.deepEqual([...jpegBytes.subarray(0, 3)], [0xff, 0xd8, 0xff]);
  // A1111's metadata rides along as an EXIF UserComment (UTF-16: the seed's digits spaced by NULs).
  assert.ok(jpegBytes.includes(Buffer.from('Exif\0\0', 'latin1')));
  const webp = await client.images.generate({ prompt: 'a castle', ...quick, seed: 9, output_format: 'webp',
                                               response_format: 'url' });
  const url = new URL(webp.data[0].url);
  assert.match(url.pathname, /\.webp$/);
  const got = await fetch(url);
  assert.equal(got.status, 200);
  assert.equal(got.headers.get('content-type'), 'image/webp');
  const bytes = Buffer.from(await got.arrayBuffer());
  assert.equal(bytes.subarray(0, 4).toString('latin1'), 'RIFF');
  assert.equal(bytes.subarray(8, 12).toString('latin1'), 'WEBP');
});

test('n=2: one batch job of two images from seeds s and s+1, each the image of a single request with that seed', async () => {
  const before = await jobsCompleted();
  const two = await client.images.generate({ prompt: 'a blue bird', ...quick, seed: 77, n: 2 });
  assert.equal(await jobsCompleted(), before + 1);
  assert.equal(two.data.length, 2);
  assert.notEqual(two.data[0].b64_json, two.data[1].b64_json);
  assert.match(pngOf(two.data[0].b64_json).text.parameters, /Seed: 77,/);
  assert.match(pngOf(two.data[1].b64_json).text.parameters, /Seed: 78,/);
  const single = await client.images.generate({ prompt: 'a blue bird', ...quick, seed: 78 });
  assert.equal(two.data[1].b64_json, single.data[0].b64_json);
});

test('sizes: WxH of any multiple of 8, and auto for the model native size', async () => {
  const wide = await client.images.generate({ prompt: 'a field', size: '96x64', steps: 2 });
  assert.equal(wide.size, '96x64');
  const png = pngOf(wide.data[0].b64_json);
  assert.deepEqual([png.width, png.height], [96, 64]);
  const info = await (await fetch(`${worker.url}/info`)).json();
  const auto = await client.images.generate({ prompt: 'a field', size: 'auto', steps: 2 });
  assert.equal(auto.size, `${info.defaults.width}x${info.defaults.height}`);
});

test('bad requests are 400 invalid_request_error naming the parameter', async () => {
  const cases = [
    [{ prompt: 'x', size: '100x' }, 'size', 'invalid_value'],
    [{ prompt: 'x', size: '65x64' }, 'size', 'invalid_value'],
    [{ prompt: 'x', size: 512 }, 'size', 'invalid_type'],
    [{ prompt: 'x', n: 0 }, 'n', 'invalid_value'],
    [{ prompt: 'x', n: 9 }, 'n', 'invalid_value'],
    [{ prompt: 'x', n: 1.5 }, 'n', 'invalid_type'],
    [{ size: '64x64' }, 'prompt', 'missing_required_parameter'],
    [{ prompt: '' }, 'prompt', 'invalid_value'],
    [{ prompt: 'x', response_format: 'jpeg' }, 'response_format', 'invalid_value'],
    [{ prompt: 'x', output_format: 'gif' }, 'output_format', 'invalid_value'],
    [{ prompt: 'x', output_format: 'jpeg', output_compression: 101 }, 'output_compression', 'invalid_value'],
    [{ prompt: 'x', steps: 1000 }, 'steps', 'invalid_value'],
    [{ prompt: 'x', sampler: 'nonsense' }, 'sampler', 'invalid_value'],
    [{ prompt: 'x', guidance: 7 }, 'guidance', 'unknown_parameter'],
    [{ prompt: 'x', stream: true }, 'stream', 'invalid_value'],
  ];
  for (const [body, param, code] of cases) {
    const e = await refusal(client.images.generate(body));
    assert.ok(e instanceof OpenAI.BadRequestError, `${JSON.stringify(body)}: ${e}`);
    assert.equal(e.status, 400);
    assert.equal(e.type, 'invalid_request_error', JSON.stringify(body));
    assert.equal(e.param, param, JSON.stringify(body));
    assert.equal(e.code, code, JSON.stringify(body));
    assert.ok(e.message.length > 10);
  }
});

test('a model this worker does not hold is 404 model_not_found; models.list and retrieve', async () => {
  const e = await refusal(client.images.generate({ prompt: 'x', model: 'dall-e-3' }));
  assert.ok(e instanceof OpenAI.NotFoundError);
  assert.equal(e.code, 'model_not_found');
  assert.equal(e.param, 'model');

  const models = [];
  for await (const m of client.models.list()) models.push(m);
  assert.equal(models.length, 1);
  assert.equal(models[0].id, 'tiny-sd15');
  assert.equal(models[0].object, 'model');
  assert.equal(typeof models[0].created, 'number');
  assert.equal(typeof models[0].owned_by, 'string');
  const one = await client.models.retrieve('tiny-sd15');
  assert.equal(one.id, 'tiny-sd15');
  assert.ok((await refusal(client.models.retrieve('gpt-image-1'))) instanceof OpenAI.NotFoundError);
  // The model's own id is accepted in requests.
  const res = await client.images.generate({ prompt: 'x', model: 'tiny-sd15', size: '64x64', steps: 1 });
  assert.equal(res.data.length, 1);
});

test('the bearer token: a wrong or missing key is 401 AuthenticationError, the right one works', async () => {
  const base = `${tokenWorker.url}/v1`;
  const wrong = new OpenAI({ baseURL: base, apiKey: 'wrong', maxRetries: 0 });
  for (const call of [() => wrong.images.generate({ prompt: 'x', ...quick }), () => wrong.models.list()]) {
    const e = await refusal(call());
    assert.ok(e instanceof OpenAI.AuthenticationError, String(e));
    assert.equal(e.code, 'invalid_api_key');
  }
  const right = new OpenAI({ baseURL: base, apiKey: 'sesame', maxRetries: 0 });
  const res = await right.images.generate({ prompt: 'x', ...quick, response_format: 'url' });
  // The image URL needs the token too.
  assert.equal((await fetch(res.data[0].url)).status, 401);
  assert.equal((await fetch(res.data[0].url, { headers: tokenWorker.headers })).status, 200);
});

test('edits: image alone is img2img, image with an alpha mask is inpainting', async () => {
  const source = makePng(64, 64, 3, (x, y) => [x * 4, y * 4, 128]);
  // Transparent (alpha 0) on the left half: the part to repaint.
  const mask = makePng(64, 64, 4, (x) => [0, 0, 0, x < 32 ? 0 : 255]);
  const img2img = await client.images.edit({
    image: await toFile(source, 'source.png', { type: 'image/png' }),
    prompt: 'a watercolour',
    steps: 4,
    seed: 3,
    strength: 0.5,
  });
  const a = pngOf(img2img.data[0].b64_json);
  assert.deepEqual([a.width, a.height], [64, 64]); // the input's size
  assert.match(a.text.parameters, /Denoising strength: 0.5/);

  const inpaint = await client.images.edit({
    image: await toFile(source, 'source.png', { type: 'image/png' }),
    mask: await toFile(mask, 'mask.png', { type: 'image/png' }),
    prompt: 'a watercolour',
    size: '64x64',
    n: 2,
    response_format: 'url',
    steps: 4,
    seed: 3,
  });
  assert.equal(inpaint.data.length, 2);
  for (const item of inpaint.data) {
    const got = await fetch(item.url);
    assert.equal(got.status, 200);
    assert.equal(readPng(Buffer.from(await got.arrayBuffer())).width, 64);
  }
  assert.notEqual(inpaint.data[0].url, inpaint.data[1].url);

  // A mask that hides nothing, or of another size, is refused before any work.
  const opaque = makePng(64, 64, 4, () => [0, 0, 0, 255]);
  const small = makePng(32, 32, 4, () => [0, 0, 0, 0]);
  for (const m of [opaque, small]) {
    const e = await refusal(
      client.images.edit({
        image: await toFile(source, 'source.png', { type: 'image/png' }),
        mask: await toFile(m, 'mask.png', { type: 'image/png' }),
        prompt: 'x',
      }),
    );
    assert.ok(e instanceof OpenAI.BadRequestError, String(e));
    assert.equal(e.param, 'mask');
  }
  // Not an image.
  const e = await refusal(
    client.images.edit({ image: await toFile(Buffer.from('GIF89a....'), 'x.gif'), prompt: 'x' }),
  );
  assert.equal(e.status, 400);
  assert.equal(e.param, 'image');
});

test('waiting answers hold no thread, and a client that leaves cancels its job', async () => {
  // A long job, then more waiting requests than the server has handler threads (4): were
  // a thread held per waiting request, /health would wait for the long job.
  const abort = new AbortController();
  const long = client.images.generate({ prompt: 'a long job', size: '128x128', steps: 150 }, { signal: abort.signal });
  await new Promise((r) => setTimeout(r, 300));
  const short = Array.from({ length: 4 }, (_, i) =>
    client.images.generate({ prompt: `a tree ${i}`, size: '64x64', steps: 2, seed: i }),
  );
  await new Promise((r) => setTimeout(r, 300));
  const t0 = Date.now();
  const health = await fetch(`${worker.url}/health`);
  assert.equal(health.status, 200);
  assert.ok(Date.now() - t0 < 5000, 'the health check waited for the image requests');
  const info = await (await fetch(`${worker.url}/info`)).json();
  assert.equal(info.running, 1);
  assert.equal(info.queue_length, 4);

  // Giving up on the long request cancels its job; the others then run.
  abort.abort();
  await refusal(long);
  const results = await Promise.all(short);
  assert.equal(new Set(results.map((r) => r.data[0].b64_json)).size, 4);
  const idle = await (await fetch(`${worker.url}/info`)).json();
  assert.deepEqual([idle.running, idle.queue_length], [0, 0]);
  assert.match(worker.log(), /cancelled: its OpenAI client left/);
  assert.doesNotMatch(worker.log(), /a long job.*completed/);
});
