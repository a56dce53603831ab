// What the Node tests share: the paths ctest passes them, the rule for a part that is
// missing, and sd-worker-cpu processes on loopback that die with the test.
//
// Environment (set by the tests' tests.cmake):
//   SD_WORKER_BIN   the built sd-worker-cpu
//   SD_SOURCE_DIR   the source tree
//   SD_FIXTURES     the tiny models (default ../shared/fixtures beside the source tree)
//   SD_TEST_DATA    third-party data (the CLIP vocabulary in clip/)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const env = process.env;
export const sourceDir = env.SD_SOURCE_DIR || path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const workerBin = env.SD_WORKER_BIN;
export const dataDir = env.SD_TEST_DATA || path.resolve(sourceDir, '../shared/data');
export const fixturesDir = env.SD_FIXTURES || path.resolve(sourceDir, '../shared/fixtures');
const SKIP = 77;

// A part a developer's machine may lack: the test is skipped (exit 77), except under
// CI=true, where it fails.
export function missing(what) {
  if (env.CI === 'true') {
    console.error(`FAIL: ${what} (CI=true: scripts/setup.sh installs it)`);
    process.exit(1);
  }
  console.log(`SKIP: ${what}`);
  process.exit(SKIP);
}

// What every worker test needs: the built worker (always a failure when absent), the
// tiny model and the CLIP vocabulary.
export function requireWorkerParts() {
  if (!workerBin || !fs.existsSync(workerBin)) {
    console.error(`FAIL: SD_WORKER_BIN (${workerBin}) is not a built sd-worker-cpu`);
    process.exit(1);
  }
  if (!fs.existsSync(path.join(dataDir, 'clip', 'vocab.json'))) missing(`no CLIP vocabulary in ${dataDir}/clip`);
  if (!fs.existsSync(path.join(fixturesDir, 'tiny-sd15'))) missing(`no test fixtures in ${fixturesDir} (set SD_FIXTURES)`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Workers still running when this process is stopped (a timeout, Ctrl+C) die with it.
const children = new Set();
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    for (const child of children) child.kill('SIGKILL');
    process.exit(1);
  });
}
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

// A worker on the tiny model, f32 on one thread, with `extra` flags; resolves once its
// /ready answers 200 (with the --api-token among `extra`, if any). `url` has no
// trailing slash; `headers` carry the token.
export async function startWorker(name, extra = []) {
  const port = await freePort();
  const args = [
    '--worker-id', name, '--port', String(port),
    '--model-path', path.join(fixturesDir, 'tiny-sd15'),
    '--tokenizer-dir', path.join(dataDir, 'clip'),
    '--threads', '1', '--dtype', 'f32',
    ...extra,
  ];
  // One thread that sleeps when idle: ctest runs other tests beside this one on 2 cores.
  const child = spawn(workerBin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, OMP_WAIT_POLICY: 'passive' } });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  const token = extra.includes('--api-token') ? extra[extra.indexOf('--api-token') + 1] : '';
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}:\n${log}`);
    try {
      if ((await fetch(`${url}/ready`, { headers })).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${name} not ready after 60 s:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, child, headers, log: () => log };
}
