// web/png_params.js on its own: the settings read back from the `parameters` text of
// PNGs made by this worker and by AUTOMATIC1111, and the PNG chunk reader.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';

// The page's modules are browser files outside any package.json that says "module":
// imported from their text, as the browser does.
const source = fs.readFileSync(new URL('../../web/png_params.js', import.meta.url), 'utf8');
const { parseParameters, pngTextChunks } = await import(`data:text/javascript,${encodeURIComponent(source)}`);

test('AUTOMATIC1111 parameters: sampler with schedule, LoRA tags, multi-line prompts', () => {
  const text = [
    'a castle on a hill, (masterpiece:1.2), <lora:castles_v2:0.7>',
    'at golden hour',
    'Negative prompt: blurry, lowres',
    'Steps: 28, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 18446744073709551615, Size: 768x512, ' +
      'Model hash: abc123, Model: dreamshaper, Denoising strength: 0.55, Clip skip: 2, ' +
      'Lora hashes: "castles_v2: 0f0f, other: 1e1e", Version: v1.9.4',
  ].join('\n');
  assert.deepEqual(parseParameters(text), {
    prompt: 'a castle on a hill, (masterpiece:1.2)\nat golden hour',
    negative_prompt: 'blurry, lowres',
    sampler: 'dpmpp_2m',
    schedule: 'karras',
    steps: 28,
    guidance_scale: 6.5,
    strength: 0.55,
    clip_skip: 2,
    seed: '18446744073709551615',
    width: 768,
    height: 512,
    loras: [{ name: 'castles_v2', strength: 0.7 }],
  });
});

test("this worker's parameters: schedule type and LoRA paths", () => {
  const text =
    'a red fox\nNegative prompt: blurry\nSteps: 3, Sampler: euler_a, Schedule type: exponential, CFG scale: 7.5, ' +
    'Seed: 1234, Size: 96x64, Model: v1-5, Lora: /srv/loras/tiny-lora.safetensors:0.8';
  assert.deepEqual(parseParameters(text), {
    prompt: 'a red fox',
    negative_prompt: 'blurry',
    sampler: 'euler_a',
    schedule: 'exponential',
    steps: 3,
    guidance_scale: 7.5,
    seed: '1234',
    width: 96,
    height: 64,
    loras: [{ name: 'tiny-lora', strength: 0.8 }],
  });
});

test('a prompt alone (no settings line) is only a prompt', () => {
  assert.deepEqual(parseParameters('just words'), { prompt: 'just words', negative_prompt: '' });
});

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  return out; // CRC left 0: the reader does not check it
}

test('tEXt and uncompressed iTXt chunks are read; other files are not PNGs', () => {
  const png = Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', Buffer.alloc(13)),
    chunk('tEXt', Buffer.from('parameters\0a cat\nSteps: 4', 'latin1')),
    chunk('iTXt', Buffer.concat([Buffer.from('Comment\0\0\0en\0\0', 'latin1'), Buffer.from('café ☕', 'utf8')])),
    chunk('IEND', Buffer.alloc(0)),
  ]);
  const buffer = png.buffer.slice(png.byteOffset, png.byteOffset + png.length);
  assert.deepEqual(pngTextChunks(buffer), { parameters: 'a cat\nSteps: 4', Comment: 'café ☕' });
  assert.equal(pngTextChunks(new TextEncoder().encode('GIF89a not a png').buffer), null);
  // A chunk whose length runs past the end stops the reader instead of reading beyond.
  const cut = png.subarray(0, 60);
  assert.deepEqual(pngTextChunks(cut.buffer.slice(cut.byteOffset, cut.byteOffset + cut.length)), {});
});
