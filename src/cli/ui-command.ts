// `galvatron ui`: serves the plan explorer (web/, built into dist/web by `npm run build`) on a local port
// with node:http. The page is static: the search runs in the browser, in a Web Worker, on the same library
// code as the CLI, so nothing but files crosses this server and nothing is fetched from the network.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { RunFailure, UserInputError } from '../errors.js';

export const DEFAULT_UI_PORT = 4177;
export const DEFAULT_UI_HOST = '127.0.0.1';

/** The built page: dist/web next to dist/src (this file is dist/src/cli/ui-command.js). */
export const WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

// The page loads only its own files; the worker is a file of its own; downloads are blob: URLs.
const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'self'; script-src 'self'; worker-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

interface UiFlags {
  port: number;
  host: string;
  /** False with --no-open. */
  open: boolean;
}

function portNumber(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw new UserInputError('--port', `must be a port number 0–65535 (0: any free port), got "${value}"`);
  }
  return n;
}

function hostName(value: string): string {
  if (value.trim() === '') throw new UserInputError('--host', 'must not be empty; give an address of this machine, e.g. 127.0.0.1');
  return value.trim();
}

function send(res: ServerResponse, status: number, body: string | Buffer, type: string, extra: Record<string, string> = {}, head = false): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': String(Buffer.byteLength(body)), ...SECURITY_HEADERS, ...extra });
  res.end(head ? undefined : body);
}

/** The file under `root` that a request path names, or undefined (outside the root, or not a file). */
async function fileFor(root: string, pathname: string): Promise<string | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const relative = decoded === '/' || decoded === '' ? 'index.html' : decoded.replace(/^\/+/, '');
  const path = resolve(root, relative);
  if (path !== root && !path.startsWith(root.endsWith(sep) ? root : root + sep)) return undefined;
  try {
    return (await stat(path)).isFile() ? path : undefined;
  } catch {
    return undefined;
  }
}

/** The request handler: GET and HEAD of the page's files; anything else refused. */
export function serveStatic(root: string): (req: IncomingMessage, res: ServerResponse) => void {
  const absolute = resolve(root);
  return (req, res) => {
    void (async () => {
      const head = req.method === 'HEAD';
      if (req.method !== 'GET' && !head) {
        send(res, 405, 'only GET and HEAD\n', 'text/plain; charset=utf-8', { Allow: 'GET, HEAD' });
        return;
      }
      const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
      const file = await fileFor(absolute, pathname);
      if (!file) {
        send(res, 404, 'not found\n', 'text/plain; charset=utf-8', {}, head);
        return;
      }
      const body = await readFile(file);
      const type = CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
      // Vite names assets by content hash: they never change under one name; the page itself always might.
      const cache = /[\\/]assets[\\/]/.test(file) ? 'public, max-age=31536000, immutable' : 'no-cache';
      send(res, 200, body, type, { 'Cache-Control': cache }, head);
    })().catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, `server error: ${error instanceof Error ? error.message : String(error)}\n`, 'text/plain; charset=utf-8');
      else res.destroy();
    });
  };
}

/** The address a browser should open for the server's address. */
export function pageUrl(address: AddressInfo, host: string): string {
  const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  return `http://${shown.includes(':') ? `[${shown}]` : shown}:${address.port}/`;
}

function openBrowser(url: string): void {
  const [command, args] =
    process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '""', url]] : ['xdg-open', [url]];
  try {
    const child = spawn(command, args as string[], { detached: true, stdio: 'ignore' });
    child.on('error', () => process.stderr.write(`galvatron: could not start a browser (${command}); open ${url} yourself\n`));
    child.unref();
  } catch {
    process.stderr.write(`galvatron: could not start a browser; open ${url} yourself\n`);
  }
}

async function runUi(flags: UiFlags): Promise<void> {
  if (!existsSync(resolve(WEB_ROOT, 'index.html'))) {
    throw new RunFailure(`the web page is not built (${resolve(WEB_ROOT, 'index.html')} is missing); run \`npm run build\``);
  }
  const server = createServer(serveStatic(WEB_ROOT));
  await new Promise<void>((done, fail) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') fail(new UserInputError('--port', `${flags.port} is in use on ${flags.host}; pick another, or --port 0 for any free port`));
      else if (error.code === 'EACCES') fail(new UserInputError('--port', `${flags.port} needs privileges on this machine; use a port above 1023, or --port 0`));
      else if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN') fail(new UserInputError('--host', `cannot listen on "${flags.host}" (${error.code}); use an address of this machine, e.g. 127.0.0.1`));
      else fail(error);
    });
    server.listen(flags.port, flags.host, () => done());
  });
  const url = pageUrl(server.address() as AddressInfo, flags.host);
  process.stdout.write(`galvatron: plan explorer at ${url} (Ctrl-C to stop)\n`);
  if (flags.open) openBrowser(url);
  await new Promise<void>((done) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      server.close(() => done());
      server.closeAllConnections();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

export function registerUi(program: Command): void {
  program
    .command('ui')
    .summary('the plan explorer: a local web page to search, compare and export plans in the browser')
    .description(
      'Serve the plan explorer on a local port and open it in a browser. Pick a model (a preset, or paste a ModelSpec or a ' +
        'HuggingFace config.json), a cluster (a preset, its figures editable), GPUs, memory, batch and sequence length; the ' +
        'search runs in the browser on the same library as `galvatron plan` and shows the plan per layer, the memory of ' +
        'each stage, the simulated pipeline timeline, the baselines and the explanation, with the plan and its exports to ' +
        'download. The URL holds the inputs, so a view can be shared. The page is static files shipped in the package: ' +
        'nothing is fetched from the network.',
    )
    .option('--port <n>', `port to listen on (0: any free port)`, portNumber, DEFAULT_UI_PORT)
    .option('--host <address>', 'address to listen on (0.0.0.0: every interface; the page has no login)', hostName, DEFAULT_UI_HOST)
    .option('--no-open', 'do not open a browser; print the address only')
    .addHelpText('after', '\nExamples:\n  $ galvatron ui\n  $ galvatron ui --port 8080 --no-open\n  $ galvatron ui --port 0 --no-open    # any free port; the address is printed')
    .action((flags: UiFlags) => runUi(flags));
}
