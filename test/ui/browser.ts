// Shared by the browser tests and bench/ui.bench.ts: `galvatron ui` started on a free port, Debian's
// chromium driven by playwright-core, and waiting for the page to settle on its current inputs.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { MAIN } from '../cli/helpers.js';

export const CHROMIUM = process.env['GALVATRON_CHROMIUM'] ?? '/usr/bin/chromium';

/** Debian's chromium, headless; a clear failure (not a skip) when it is not installed. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: the plan explorer's browser tests need Debian's chromium; install it with \`apt-get install -y chromium\` (.ci/run does) or point GALVATRON_CHROMIUM at a Chromium binary`);
  }
  // Headless with a fresh profile (playwright's own); no sandbox (root in CI) and nothing that reaches the network.
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface UiServer {
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** `galvatron ui --port 0 --no-open`: the address it prints, and a way to stop it. */
export function startUi(): Promise<UiServer> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, 'ui', '--port', '0', '--no-open'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => fail(new Error(`galvatron ui printed no address in 30 s: ${out}${err}`)), 30_000);
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill();
      reject(error);
    };
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const url = /plan explorer at (http:\/\/\S+\/)/.exec(out)?.[1];
      if (!url) return;
      clearTimeout(timer);
      resolve({
        url,
        process: child,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    });
    child.on('exit', (code) => fail(new Error(`galvatron ui exited with ${code}: ${err.trim()}`)));
    child.on('error', fail);
  });
}

/**
 * Waits until the page shows the outcome (a plan, or messages) of the inputs its URL holds now: nothing is
 * running and the inputs behind the screen are the URL's.
 */
export async function settled(page: Page, timeoutMs = 120_000): Promise<'ready' | 'error'> {
  await page.waitForFunction(
    () => {
      const app = document.querySelector('.app');
      return app !== null && app.getAttribute('data-status') !== 'busy' && app.getAttribute('data-done-query') === location.search.slice(1);
    },
    null,
    { timeout: timeoutMs, polling: 20 },
  );
  return (await page.locator('.app').getAttribute('data-status')) as 'ready' | 'error';
}
