// The "current job" panel: queue place, progress with time left, live previews, the
// result, and errors in words. Its state is also in data-state for styling and tests.

const $ = (id) => document.getElementById(id);

function duration(seconds) {
  if (!Number.isFinite(seconds)) return '';
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

export class JobView {
  constructor() {
    this.section = $('job');
    this.status = $('job-status');
    this.progress = $('job-progress');
    this.detail = $('job-detail');
    this.error = $('job-error');
    this.preview = $('job-preview');
    this.cancel = $('cancel');
  }

  #state(state, title, detail = '') {
    this.section.dataset.state = state;
    this.status.textContent = title;
    this.detail.textContent = detail;
    this.cancel.hidden = !['submitting', 'queued', 'running'].includes(state);
  }

  // A new job, `label` like "Image 2 of 4".
  submitting(label) {
    this.label = label;
    this.started = null;
    this.progress.value = 0;
    this.progress.removeAttribute('value'); // indeterminate until the first step
    this.error.hidden = true;
    this.preview.hidden = true;
    this.#state('submitting', `${label}: submitting…`);
  }

  // `position` from GET /v1/jobs/{id}: 1 runs next; 0 before the first answer.
  queued(position) {
    if (this.section.dataset.state === 'running') return;
    const detail = position > 1 ? `Position ${position} in the queue` : position === 1 ? 'Next in the queue' : '';
    this.#state('queued', `${this.label}: queued`, detail);
  }

  // A progress or preview event.
  step(event) {
    const now = performance.now();
    if (!this.started) this.started = { at: now, step: event.step - 1 };
    const done = event.step - this.started.step;
    const perStep = done > 0 ? (now - this.started.at) / 1000 / done : NaN;
    const left = perStep * (event.total - event.step);
    this.progress.max = event.total;
    this.progress.value = event.step;
    const eta = event.step < event.total && Number.isFinite(left) && done > 1 ? ` · about ${duration(left)} left` : '';
    this.#state('running', `${this.label}: generating`, `Step ${event.step} of ${event.total} (${Math.round(event.percent ?? (100 * event.step) / event.total)}%)${eta}`);
    if (event.image) this.#show(event.image, 'preview');
  }

  done(event) {
    this.progress.max = 1;
    this.progress.value = 1;
    const seconds = event.timings && event.timings.total;
    this.#state('done', `${this.label}: done`, `${event.width} × ${event.height}, seed ${event.seed}${seconds ? `, ${seconds.toFixed(1)} s` : ''}`);
    this.#show(event.image, 'final');
  }

  cancelled() {
    this.#state('cancelled', `${this.label}: cancelled`);
  }

  failed(message) {
    this.#state('failed', this.label ? `${this.label}: failed` : 'Failed');
    this.progress.max = 1;
    this.progress.value = 0;
    this.error.textContent = message;
    this.error.hidden = false;
  }

  #show(base64, kind) {
    this.preview.src = `data:image/png;base64,${base64}`;
    this.preview.dataset.kind = kind;
    this.preview.alt = kind === 'final' ? 'The finished image' : 'Live preview of the running job';
    this.preview.hidden = false;
  }
}
