// Shared by the browser test and the bench: start `siamface serve` on a loopback port, launch
// Debian's chromium through puppeteer-core, and the prerequisite checks (skip or fail under CI).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

export const SKIP = 77;

export function requiredByCi() {
  return process.env.CI === 'true' || process.env.SIAMFACE_REQUIRE_DATA === '1';
}

// A missing prerequisite: skip with the reason (exit 77), or fail under CI.
export function missing(reason) {
  console.error(`SKIP: ${reason}`);
  process.exit(requiredByCi() ? 1 : SKIP);
}

export function modelsDir() {
  if (process.env.SIAMFACE_MODELS) return process.env.SIAMFACE_MODELS;
  const cache = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cache, 'siamface', 'models');
}

export function requireModels() {
  const file = path.join(modelsDir(), 'face_recognition_model.bin');
  if (!fs.existsSync(file)) missing(`models not found at ${file} (run scripts/setup.sh)`);
}

export function requireFile(file, what) {
  if (!fs.existsSync(file)) missing(`${what} not found at ${file} (set SIAMFACE_TESTDATA, or see ../shared/testdata)`);
  return file;
}

// Starts `siamface serve --port 0` and resolves once /health says the models are loaded.
export async function startServer({ cli, gallery, apiKey, extraArgs = [], log }) {
  const args = ['serve', '--host', '127.0.0.1', '--port', '0', '--gallery', gallery, '--workers', '4', ...extraArgs];
  if (apiKey) args.push('--api-key', apiKey);
  const logStream = fs.createWriteStream(log, { flags: 'a' });
  const child = spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr.pipe(logStream);
  const lines = readline.createInterface({ input: child.stdout });
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('serve printed no "listening" line in 60 s')), 60000);
    child.once('exit', (code) => reject(new Error(`serve exited with ${code} before listening; see ${log}`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        const event = JSON.parse(line);
        if (event.event === 'listening') return resolve(event.port);
      } catch { /* below */ }
      return reject(new Error(`unexpected first line from serve: ${line}`));
    });
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 180000;
  for (;;) {
    const health = await fetch(`${base}/health`, { headers: apiKey ? { 'x-api-key': apiKey } : {} }).catch(() => null);
    if (health && health.status === 200) break;
    if (Date.now() > deadline) throw new Error(`serve not ready after 180 s; see ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    base,
    child,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      return exited;
    },
  };
}

export async function launchBrowser(userDataDir) {
  const { default: puppeteer } = await import('puppeteer-core');
  return puppeteer.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    userDataDir,
    // --no-sandbox: the tests may run as root (containers, CI), where chromium's sandbox refuses to start.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check'],
  });
}

export function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
