// The worker's public routes (worker-api.md section 2), with the bearer token when one is set.
// URLs are relative, so the page also works behind a proxy that mounts the worker on a prefix.

const TOKEN_KEY = 'sd-worker.token';

export class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field || '';
  }
}

export function storedToken() {
  return localStorage.getItem(TOKEN_KEY) || '';
}

export function storeToken(token) {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

// Seeds go up to 2^64-1, past what a JS number holds exactly: they travel as digit strings
// inside the page and as JSON numbers on the wire.
export function parseJson(text) {
  return JSON.parse(text.replace(/"seed":\s*(\d+)/g, '"seed":"$1"'));
}

function toJson(body) {
  return JSON.stringify(body).replace(/"seed":"(\d+)"/g, '"seed":$1');
}

function headers(extra) {
  const h = new Headers(extra);
  const token = storedToken();
  if (token) h.set('Authorization', `Bearer ${token}`);
  return h;
}

async function errorFrom(response) {
  let message = `HTTP ${response.status} ${response.statusText}`;
  let field = '';
  try {
    const body = parseJson(await response.text());
    if (body && body.error) {
      message = body.error.message || message;
      field = body.error.field || '';
    }
  } catch {
    // Not JSON (a proxy's page): the status line says enough.
  }
  return new ApiError(response.status, message, field);
}

async function call(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      body: body === undefined ? undefined : toJson(body),
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, `The worker cannot be reached (${e.message}).`);
  }
  if (!response.ok) throw await errorFrom(response);
  return parseJson(await response.text());
}

export const getInfo = () => call('GET', 'info');
export const submitJob = (body) => call('POST', 'v1/jobs', body);
export const getJob = (id) => call('GET', `v1/jobs/${encodeURIComponent(id)}`);
export const cancelJob = (id) => call('DELETE', `v1/jobs/${encodeURIComponent(id)}`);

// Reads the job's Server-Sent Events with fetch (EventSource cannot send a token) and calls
// onEvent(object) for each JSON event. Resolves with the end marker: 'DONE', 'ERROR' or
// 'CANCELLED' (or 'CLOSED' when the stream ends without one).
export async function streamJob(id, onEvent, signal) {
  let response;
  try {
    response = await fetch(`v1/jobs/${encodeURIComponent(id)}/stream`, {
      headers: headers({ Accept: 'text/event-stream' }),
      cache: 'no-store',
      signal,
    });
  } catch (e) {
    throw new ApiError(0, `The event stream cannot be opened (${e.message}).`);
  }
  if (!response.ok) throw await errorFrom(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return 'CLOSED';
    buffer += value.replace(/\r\n?/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const message = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = message
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5))
        .join('\n');
      if (!data) continue; // a keep-alive comment
      const marker = /^\[(DONE|ERROR|CANCELLED)\]/.exec(data);
      if (marker) {
        reader.cancel().catch(() => {});
        return marker[1];
      }
      onEvent(parseJson(data));
    }
  }
}
