// The page: connects to the worker (asking for the token when it needs one), runs the
// form's jobs one after another, and keeps the results in this browser.
import { ApiError, cancelJob, getInfo, getJob, storedToken, storeToken, streamJob, submitJob } from './api.js';
import { bindForm, fillForm, imageCount, markInvalid, mode, readJob, rememberSeed, saveForm, setMode, setupForm } from './form.js';
import { renderGallery } from './gallery_view.js';
import { addImage } from './gallery_store.js';
import { JobView } from './job_view.js';
import { MaskPainter } from './mask.js';
import { parseParameters, pngTextChunks } from './png_params.js';

const $ = (id) => document.getElementById(id);
const QUEUE_POLL_MS = 700;
const MAX_INPUT_BYTES = 24 << 20; // the worker takes 32 MiB bodies; base64 adds a third

const view = new JobView();
const mask = new MaskPainter($('mask-canvas'), '#ff285a');
const input = { image: '', type: '' }; // base64 without the data: prefix
let running = null; // {id, cancelled}

// ---- connecting ----------------------------------------------------------------------

function describeWorker(info) {
  const parts = [info.worker_id, `${info.model} (${info.sd_version})`, `${info.device} ${info.dtype}`];
  parts.push(info.ready ? `queue ${info.queue_length}/${info.queue_capacity}` : 'model loading…');
  $('worker-info').textContent = parts.join(' · ');
}

function askForToken(message) {
  $('worker-info').textContent = 'Waiting for the API token';
  $('token-message').textContent = message;
  $('token-input').value = '';
  if (!$('token-dialog').open) $('token-dialog').showModal();
  $('token-input').focus();
}

async function connect() {
  try {
    const info = await getInfo();
    describeWorker(info);
    setupForm(info);
    if (!info.ready) setTimeout(connect, 2000);
  } catch (e) {
    if (e.status === 401) {
      askForToken(
        storedToken()
          ? 'The worker refused that token. Enter the one it was started with.'
          : 'This worker was started with --api-token. Enter that token; it is kept in this browser.',
      );
    } else {
      $('worker-info').textContent = `Not connected: ${e.message}`;
      setTimeout(connect, 3000);
    }
  }
}

$('token-form').addEventListener('submit', () => {
  storeToken($('token-input').value.trim());
  connect();
});

// ---- the input image and its mask ----------------------------------------------------

function showModeParts() {
  const op = mode();
  $('input-section').hidden = op === 'image_generation';
  $('mask-tools').hidden = op !== 'image_inpaint';
  $('mask-canvas').hidden = op !== 'image_inpaint';
}

function setInputImage(base64, type) {
  const img = $('input-preview');
  img.onload = () => {
    input.image = base64;
    input.type = type;
    mask.reset(img.naturalWidth, img.naturalHeight);
    $('canvas-wrap').hidden = false;
    $('width').value = Math.max(64, Math.floor(img.naturalWidth / 8) * 8);
    $('height').value = Math.max(64, Math.floor(img.naturalHeight / 8) * 8);
    $('width').dispatchEvent(new Event('input'));
  };
  img.onerror = () => view.failed('That file is not an image this browser can read.');
  img.src = `data:${type};base64,${base64}`;
}

function base64Of(buffer) {
  const bytes = new Uint8Array(buffer);
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

async function loadInputFile(file) {
  if (!/^image\/(png|jpeg)$/.test(file.type)) return view.failed(`${file.name} is not a PNG or JPEG.`);
  if (file.size > MAX_INPUT_BYTES) return view.failed(`${file.name} is over ${MAX_INPUT_BYTES >> 20} MiB.`);
  setInputImage(base64Of(await file.arrayBuffer()), file.type);
  if (mode() === 'image_generation') setMode('image_transform');
}

// A PNG dropped outside the input area: its settings go into the form.
async function loadSettingsFrom(file) {
  const texts = file.type === 'image/png' ? pngTextChunks(await file.arrayBuffer()) : null;
  if (!texts || !texts.parameters) return view.failed(`${file.name} holds no generation parameters.`);
  fillForm(parseParameters(texts.parameters));
  $('prompt').focus();
}

$('input-file').addEventListener('change', (e) => e.target.files[0] && loadInputFile(e.target.files[0]));
$('remove-input').addEventListener('click', () => {
  input.image = '';
  $('canvas-wrap').hidden = true;
  $('input-file').value = '';
});
$('brush-size').addEventListener('input', (e) => (mask.brush = Number(e.target.value)));
$('erase').addEventListener('change', (e) => (mask.erase = e.target.checked));
$('mask-clear').addEventListener('click', () => mask.clear());
$('mask-invert').addEventListener('click', () => mask.invert());
document.addEventListener('change', (e) => e.target.name === 'mode' && showModeParts());

document.addEventListener('dragover', (e) => {
  e.preventDefault();
  document.body.classList.add('dragging');
});
document.addEventListener('dragleave', (e) => e.relatedTarget === null && document.body.classList.remove('dragging'));
document.addEventListener('drop', (e) => {
  e.preventDefault();
  document.body.classList.remove('dragging');
  const file = e.dataTransfer.files[0];
  if (!file) return;
  const onInput = e.target.closest('#input-section');
  if (onInput) loadInputFile(file);
  else loadSettingsFrom(file);
});

// ---- running jobs --------------------------------------------------------------------

// Polls the queue place until the job's first event arrives.
async function watchQueue(job) {
  while (!job.started && !job.ended) {
    try {
      const status = await getJob(job.id);
      if (status.status !== 'queued') return;
      if (!job.started) view.queued(status.position);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, QUEUE_POLL_MS));
  }
}

// Runs one job to its end; resolves false when the batch should stop.
async function runOne(body, label) {
  view.submitting(label);
  const { job_id } = await submitJob(body);
  const job = { id: job_id, started: false, ended: false, cancelled: false, complete: null, error: '' };
  running = job;
  view.queued(0);
  watchQueue(job);
  const marker = await streamJob(job_id, (event) => {
    const type = event.type || event.event;
    if (type === 'progress' || type === 'preview') {
      job.started = true;
      view.step(event);
    } else if (type === 'complete') {
      job.complete = event;
    } else if (type === 'error') {
      job.error = event.message;
    }
  });
  job.ended = true;
  running = null;
  if (marker === 'DONE' && job.complete) {
    view.done(job.complete);
    rememberSeed(job.complete.seed);
    const { input_image, mask_image, ...params } = body;
    await addImage({
      created: Date.now(),
      image: job.complete.image,
      width: job.complete.width,
      height: job.complete.height,
      seed: job.complete.seed,
      params: { ...params, seed: job.complete.seed },
    });
    await renderGallery(galleryActions);
    return true;
  }
  if (marker === 'CANCELLED' || job.cancelled) {
    view.cancelled();
    return false;
  }
  view.failed(job.error || 'The event stream ended before the job finished.');
  return false;
}

async function generate() {
  if (running !== null || $('generate').disabled) return;
  markInvalid('');
  const op = mode();
  if (op !== 'image_generation' && !input.image) {
    markInvalid('input_image');
    return view.failed('Choose or drop an input image first.');
  }
  if (op === 'image_inpaint' && mask.isEmpty()) {
    markInvalid('mask_image');
    return view.failed('Paint the area to repaint on the image first.');
  }
  const inputs = op === 'image_generation' ? {} : { image: input.image, mask: op === 'image_inpaint' ? mask.toBase64Png() : '' };
  const count = imageCount();
  saveForm();
  $('generate').disabled = true;
  try {
    for (let i = 0; i < count; i++) {
      const label = count > 1 ? `Image ${i + 1} of ${count}` : 'Image';
      if (!(await runOne(readJob(i, inputs), label))) break;
    }
  } catch (e) {
    running = null;
    if (e instanceof ApiError && e.status === 401) askForToken('The worker refused the token. Enter it again.');
    const el = e instanceof ApiError ? markInvalid(e.field) : null;
    view.failed(e.message);
    if (el) el.focus();
  } finally {
    $('generate').disabled = false;
  }
}

$('job-form').addEventListener('submit', (e) => {
  e.preventDefault();
  generate();
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    generate();
  }
});
$('cancel').addEventListener('click', async () => {
  const job = running;
  if (!job) return;
  job.cancelled = true;
  try {
    await cancelJob(job.id);
  } catch (e) {
    if (e.status !== 409) view.failed(e.message); // 409: it finished first
  }
});

// ---- the gallery -----------------------------------------------------------------------

const galleryActions = {
  useSettings(record) {
    fillForm(record.params);
    $('prompt').focus();
  },
  useAsInput(record) {
    setInputImage(record.image, 'image/png');
    if (mode() === 'image_generation') setMode('image_transform');
    $('input-section').scrollIntoView({ block: 'nearest' });
  },
};

bindForm();
showModeParts();
renderGallery(galleryActions);
connect();
