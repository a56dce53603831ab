// Generation settings from a PNG's `parameters` text chunk, as this worker and
// AUTOMATIC1111 write it:
//   <prompt>
//   Negative prompt: <negative prompt>
//   Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1, Size: 512x512, ...

const PNG_SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];
const MAX_CHUNKS = 10000;

// The tEXt and uncompressed iTXt chunks of a PNG as {keyword: text}; null when not a PNG.
export function pngTextChunks(buffer) {
  const bytes = new Uint8Array(buffer);
  if (bytes.length < 8 || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) return null;
  const view = new DataView(buffer);
  const latin1 = new TextDecoder('latin1');
  const utf8 = new TextDecoder('utf-8');
  const texts = {};
  let at = 8;
  for (let n = 0; n < MAX_CHUNKS && at + 12 <= bytes.length; n++) {
    const length = view.getUint32(at);
    const type = latin1.decode(bytes.subarray(at + 4, at + 8));
    const start = at + 8;
    const end = start + length;
    if (end + 4 > bytes.length) break;
    const data = bytes.subarray(start, end);
    const nul = data.indexOf(0);
    if (type === 'tEXt' && nul > 0) {
      texts[latin1.decode(data.subarray(0, nul))] = latin1.decode(data.subarray(nul + 1));
    } else if (type === 'iTXt' && nul > 0 && data[nul + 1] === 0) {
      // keyword, 0, compression flag (0 = none), method, language tag, 0, translated keyword, 0, text
      const lang = data.indexOf(0, nul + 3);
      const translated = lang < 0 ? -1 : data.indexOf(0, lang + 1);
      if (translated >= 0) texts[latin1.decode(data.subarray(0, nul))] = utf8.decode(data.subarray(translated + 1));
    } else if (type === 'IEND') {
      break;
    }
    at = end + 4;
  }
  return texts;
}

// A1111's sampler names to this worker's; a trailing "Karras"/"Exponential" is the schedule.
const SAMPLERS = {
  'euler a': 'euler_a',
  euler: 'euler',
  ddim: 'ddim',
  heun: 'heun',
  lms: 'lms',
  plms: 'pndm',
  pndm: 'pndm',
  'dpm++ 2m': 'dpmpp_2m',
  'dpm++ 2m sde': 'dpmpp_2m_sde',
  lcm: 'lcm',
  unipc: 'unipc',
};

function sampler(name) {
  let schedule = '';
  let base = name.trim().toLowerCase();
  const suffix = /\s+(karras|exponential)$/.exec(base);
  if (suffix) {
    schedule = suffix[1];
    base = base.slice(0, suffix.index);
  }
  return { sampler: SAMPLERS[base] || base, schedule };
}

// "key: value, key: value" where a value may be a quoted string holding commas.
function settings(line) {
  const out = {};
  const re = /\s*([\w \-/+]+?):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)/g;
  let m;
  while ((m = re.exec(line)) && m[0]) out[m[1].trim().toLowerCase()] = m[2].trim();
  return out;
}

function number(text) {
  const v = Number(text);
  return text !== undefined && text !== '' && Number.isFinite(v) ? v : undefined;
}

// <lora:name:weight> tags in an A1111 prompt become loras; the prompt keeps the rest.
function extractLoraTags(prompt, loras) {
  return prompt
    .replace(/,?[ \t]*<lora:([^:>]+)(?::([-\d.]+))?>/g, (_, name, weight) => {
      loras.push({ name: name.trim(), strength: number(weight) ?? 1 });
      return '';
    })
    .trim();
}

// The settings in `text` as job fields (prompt, negative_prompt, steps, sampler, schedule,
// guidance_scale, seed, width, height, strength, clip_skip, loras); absent ones are left out.
export function parseParameters(text) {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  let settingsLine = '';
  if (lines.length > 1 && /^\s*Steps:\s*\d+/.test(lines[lines.length - 1])) settingsLine = lines.pop();
  const negativeAt = lines.findIndex((l) => l.startsWith('Negative prompt:'));
  const promptLines = negativeAt >= 0 ? lines.slice(0, negativeAt) : lines;
  const negativeLines = negativeAt >= 0 ? lines.slice(negativeAt) : [];
  if (negativeLines.length) negativeLines[0] = negativeLines[0].slice('Negative prompt:'.length).trimStart();

  const loras = [];
  const out = {
    prompt: extractLoraTags(promptLines.join('\n'), loras),
    negative_prompt: negativeLines.join('\n'),
  };
  const s = settings(settingsLine);
  if (s.sampler) Object.assign(out, sampler(s.sampler));
  if (s['schedule type']) out.schedule = s['schedule type'].toLowerCase();
  if (out.schedule === 'automatic' || out.schedule === '') delete out.schedule;
  const fields = { steps: 'steps', 'cfg scale': 'guidance_scale', 'denoising strength': 'strength', 'clip skip': 'clip_skip' };
  for (const [key, name] of Object.entries(fields)) if (number(s[key]) !== undefined) out[name] = number(s[key]);
  if (/^\d+$/.test(s.seed || '')) out.seed = s.seed; // a string: seeds go past 2^53
  const size = /^(\d+)x(\d+)$/.exec(s.size || '');
  if (size) {
    out.width = Number(size[1]);
    out.height = Number(size[2]);
  }
  // This worker writes "Lora: <path>:<strength>" once per LoRA.
  for (const m of settingsLine.matchAll(/Lora: ([^,]+):([-\d.]+)/g)) {
    const name = m[1].split('/').pop().replace(/\.safetensors$/, '');
    loras.push({ name, strength: Number(m[2]) });
  }
  if (loras.length) out.loras = loras;
  return out;
}
