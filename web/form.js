// The generation form: filled from /info, read into a POST /v1/jobs body, refilled from
// saved settings. Limits are the worker's to check (a 400 names the field); the form
// only translates what was typed.

const $ = (id) => document.getElementById(id);
const ASPECTS = [
  ['1:1', 1, 1],
  ['4:3', 4, 3],
  ['3:2', 3, 2],
  ['16:9', 16, 9],
  ['3:4', 3, 4],
  ['2:3', 2, 3],
  ['9:16', 9, 16],
];

function option(value, text, selected) {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = text;
  o.selected = selected;
  return o;
}

// Sizes of about the native pixel count in common aspect ratios, sides multiples of 64
// (of 8 for small test models).
function sizePresets(native) {
  const unit = native >= 512 ? 64 : 8;
  return ASPECTS.map(([name, a, b]) => {
    const r = Math.sqrt(a / b);
    const w = Math.max(unit, Math.round((native * r) / unit) * unit);
    const h = Math.max(unit, Math.round(native / r / unit) * unit);
    return { value: `${w}x${h}`, text: `${w} × ${h} (${name})` };
  });
}

export function mode() {
  return document.querySelector('input[name=mode]:checked').value;
}

export function setMode(value) {
  document.querySelector(`input[name=mode][value=${value}]`).checked = true;
  document.querySelector('input[name=mode]:checked').dispatchEvent(new Event('change', { bubbles: true }));
}

function syncPreset() {
  const value = `${$('width').value}x${$('height').value}`;
  const preset = $('size-preset');
  preset.value = [...preset.options].some((o) => o.value === value) ? value : 'custom';
}

function syncSeed() {
  const seedMode = $('seed-mode').value;
  $('seed').disabled = seedMode !== 'fixed';
  if (seedMode === 'last') $('seed').value = localStorage.getItem('sd-worker.last-seed') || '';
  if (seedMode === 'random') $('seed').value = '';
}

export function rememberSeed(seed) {
  localStorage.setItem('sd-worker.last-seed', String(seed));
  if ($('seed-mode').value === 'last') $('seed').value = String(seed);
}

function fillSelect(select, values, chosen) {
  select.replaceChildren(...values.map((v) => option(v, v, v === chosen)));
}

function renderLoras(names) {
  const list = $('lora-list');
  list.replaceChildren(
    ...names.map((name, i) => {
      const li = document.createElement('li');
      li.dataset.name = name;
      li.innerHTML = `<label><input type="checkbox" id="lora-${i}"> <span></span></label>
        <input type="number" id="lora-${i}-strength" step="0.05" value="1">`;
      li.querySelector('span').textContent = name;
      li.querySelector('input[type=number]').setAttribute('aria-label', `${name} strength`);
      return li;
    }),
  );
  $('lora-section').hidden = names.length === 0;
}

// Fills the choices and defaults from GET /info.
export function setupForm(info) {
  const d = info.defaults || {};
  fillSelect($('sampler'), info.samplers || [], d.sampler);
  fillSelect($('schedule'), info.schedules || ['default'], 'default');
  const native = Math.max(d.width || 512, d.height || 512);
  const presets = sizePresets(native);
  $('size-preset').replaceChildren(...presets.map((p) => option(p.value, p.text, false)), option('custom', 'Custom', false));
  if (!$('width').value) $('width').value = d.width || native;
  if (!$('height').value) $('height').value = d.height || native;
  if (!$('steps').value) $('steps').value = d.steps ?? 20;
  if (!$('guidance_scale').value) $('guidance_scale').value = d.guidance_scale ?? 7.5;
  renderLoras(info.loras || []);
  syncPreset();
  syncSeed();
  restoreForm();
}

const SAVED_KEY = 'sd-worker.form';

// The settings of the last job (no images), restored when the page opens again.
export function saveForm() {
  const { input_image, mask_image, ...settings } = readJob(0, {});
  settings.seed_mode = $('seed-mode').value;
  settings.seed = $('seed').value;
  settings.count = $('count').value;
  localStorage.setItem(SAVED_KEY, JSON.stringify(settings));
}

function restoreForm() {
  let saved;
  try {
    saved = JSON.parse(localStorage.getItem(SAVED_KEY) || 'null');
  } catch {
    return;
  }
  if (!saved || typeof saved !== 'object') return;
  const { seed, seed_mode, count, ...params } = saved;
  fillForm(params);
  if (['random', 'fixed', 'last'].includes(seed_mode)) $('seed-mode').value = seed_mode;
  syncSeed();
  if (seed_mode === 'fixed') $('seed').value = seed;
  if (count) $('count').value = count;
}

export function bindForm() {
  document.addEventListener('input', (e) => e.target.removeAttribute('aria-invalid'));
  $('size-preset').addEventListener('change', () => {
    const m = /^(\d+)x(\d+)$/.exec($('size-preset').value);
    if (!m) return;
    $('width').value = m[1];
    $('height').value = m[2];
  });
  for (const id of ['width', 'height']) $(id).addEventListener('input', syncPreset);
  $('seed-mode').addEventListener('change', syncSeed);
}

// A number field: left out when empty (the worker's default), else the number typed; text
// that is not a number is sent as typed so the worker's message names it.
function numberField(body, id, name = id) {
  const el = $(id);
  const text = el.value.trim();
  if (text === '') {
    if (el.validity && el.validity.badInput) body[name] = 'not a number';
    return;
  }
  const v = Number(text);
  body[name] = Number.isFinite(v) ? v : text;
}

// The job body for image `index` of a batch (fixed seeds count up from the one given).
export function readJob(index, inputs) {
  const op = mode();
  const body = { operation: op, prompt: $('prompt').value, negative_prompt: $('negative_prompt').value };
  for (const id of ['width', 'height', 'steps', 'guidance_scale']) numberField(body, id);
  body.sampler = $('sampler').value;
  body.schedule = $('schedule').value;
  const seed = $('seed').value.trim();
  if ($('seed-mode').value !== 'random' && seed !== '') {
    body.seed = /^\d+$/.test(seed) ? (BigInt(seed) + BigInt(index)).toString() : seed;
  }
  const loras = [...$('lora-list').children]
    .filter((li) => li.querySelector('input[type=checkbox]').checked)
    .map((li) => {
      const strength = Number(li.querySelector('input[type=number]').value);
      return { name: li.dataset.name, strength: Number.isFinite(strength) ? strength : 1 };
    });
  if (loras.length) body.loras = loras;
  if (op !== 'image_generation') {
    numberField(body, 'strength');
    if (inputs.image) body.input_image = inputs.image;
    if (op === 'image_inpaint' && inputs.mask) body.mask_image = inputs.mask;
  }
  return body;
}

export function imageCount() {
  const n = Math.trunc(Number($('count').value));
  return Number.isFinite(n) ? Math.min(Math.max(n, 1), 16) : 1;
}

// Sets the fields present in `params` (a job body or settings read from a PNG).
export function fillForm(params) {
  const text = { prompt: 'prompt', negative_prompt: 'negative_prompt' };
  for (const [key, id] of Object.entries(text)) if (typeof params[key] === 'string') $(id).value = params[key];
  for (const key of ['width', 'height', 'steps', 'guidance_scale', 'strength'])
    if (params[key] !== undefined) $(key).value = params[key];
  for (const key of ['sampler', 'schedule']) {
    const select = $(key);
    if (params[key] && [...select.options].some((o) => o.value === params[key])) select.value = params[key];
  }
  if (!params.schedule && params.sampler) $('schedule').value = 'default';
  if (params.seed !== undefined && params.seed !== null) {
    $('seed-mode').value = 'fixed';
    syncSeed();
    $('seed').value = String(params.seed);
  }
  if (params.loras) {
    for (const li of $('lora-list').children) {
      const lora = params.loras.find((l) => l.name === li.dataset.name);
      li.querySelector('input[type=checkbox]').checked = Boolean(lora);
      if (lora) li.querySelector('input[type=number]').value = lora.strength;
    }
  }
  syncPreset();
}

// Marks the field a 400 named, so it is seen and focusable.
export function markInvalid(field) {
  for (const el of document.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  const id = { input_image: 'input-file', init_image: 'input-file', mask_image: 'mask-canvas' }[field] || field;
  const el = id && document.getElementById(id);
  if (el) el.setAttribute('aria-invalid', 'true');
  return el;
}
