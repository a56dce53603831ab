// The gallery of this browser's images, newest first, each with its settings and actions.
import { allImages, clearImages, deleteImage } from './gallery_store.js';

const gallery = document.getElementById('gallery');
let actions = null;

function button(text, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.addEventListener('click', onClick);
  return b;
}

function summary(record) {
  const p = record.params;
  const parts = [`seed ${record.seed}`, `${record.width} × ${record.height}`];
  if (p.steps !== undefined) parts.push(`${p.steps} steps`);
  if (p.sampler) parts.push(p.schedule && p.schedule !== 'default' ? `${p.sampler} ${p.schedule}` : p.sampler);
  if (p.guidance_scale !== undefined) parts.push(`CFG ${p.guidance_scale}`);
  if (p.operation === 'image_transform') parts.push(`img2img ${p.strength ?? ''}`.trim());
  if (p.operation === 'image_inpaint') parts.push('inpaint');
  for (const l of p.loras || []) parts.push(`LoRA ${l.name} ${l.strength}`);
  return parts.join(' · ');
}

function item(record, index) {
  const li = document.createElement('li');
  li.dataset.id = record.id;
  const img = document.createElement('img');
  img.src = `data:image/png;base64,${record.image}`;
  img.alt = `Image ${index + 1}: ${record.params.prompt}`;
  img.width = record.width;
  img.height = record.height;
  const params = document.createElement('p');
  params.className = 'params';
  const prompt = document.createElement('strong');
  prompt.textContent = record.params.prompt;
  params.append(prompt);
  if (record.params.negative_prompt) params.append(document.createElement('br'), `Negative: ${record.params.negative_prompt}`);
  params.append(document.createElement('br'), summary(record));

  const download = document.createElement('a');
  download.className = 'button';
  download.href = img.src;
  download.download = `sd-${record.seed}.png`;
  download.textContent = 'Download';
  const buttons = document.createElement('div');
  buttons.className = 'buttons';
  buttons.append(
    download,
    button('Use settings', () => actions.useSettings(record)),
    button('Use as input', () => actions.useAsInput(record)),
    button('Delete', async () => {
      await deleteImage(record.id);
      await renderGallery(actions);
    }),
  );
  li.append(img, params, buttons);
  return li;
}

// Redraws the gallery from storage; `handlers` has useSettings(record) and useAsInput(record).
export async function renderGallery(handlers) {
  actions = handlers;
  let records = [];
  try {
    records = await allImages();
  } catch {
    // Storage refused (private mode, quota): the gallery stays empty; generation still works.
  }
  gallery.replaceChildren(...records.reverse().map(item));
}

document.getElementById('clear-gallery').addEventListener('click', async () => {
  if (!confirm('Delete all images kept in this browser?')) return;
  await clearImages();
  await renderGallery(actions);
});
