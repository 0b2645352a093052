// `galvatron ui`'s server without a browser: the built page is served with its content types, nothing
// outside the page's folder is (../, encoded ../, absolute paths), and a busy port or bad flag is refused in one line.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pageUrl, serveStatic, WEB_ROOT } from '../../src/cli/ui-command.js';
import { runCli } from './helpers.js';

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    // A raw path, sent as written (no URL normalisation on this side).
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('galvatron ui server', () => {
  const root = mkdtempSync(join(tmpdir(), 'galvatron-web-'));
  let server: Server;
  let port: number;

  before(async () => {
    mkdirSync(join(root, 'site', 'assets'), { recursive: true });
    writeFileSync(join(root, 'site', 'index.html'), '<!doctype html><title>page</title>');
    writeFileSync(join(root, 'site', 'assets', 'app-1234.js'), 'console.log(1)');
    writeFileSync(join(root, 'secret.txt'), 'not for the page');
    server = createServer(serveStatic(join(root, 'site')));
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((done) => server.close(() => done())));

  it('serves the page, its assets and query strings, with types and cache headers', async () => {
    const index = await get(port, '/?model=llama2-7b&gpus=8');
    assert.equal(index.status, 200);
    assert.equal(index.type, 'text/html; charset=utf-8');
    assert.equal(index.body, '<!doctype html><title>page</title>');
    assert.equal(index.headers['cache-control'], 'no-cache');
    assert.match(String(index.headers['content-security-policy']), /default-src 'self'/);
    const script = await get(port, '/assets/app-1234.js');
    assert.equal(script.status, 200);
    assert.equal(script.type, 'text/javascript; charset=utf-8');
    assert.match(String(script.headers['cache-control']), /immutable/);
    const head = await get(port, '/index.html', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });

  it('serves nothing outside its folder and refuses other methods', async () => {
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/%2e%2e/%2e%2e/secret.txt', '/..%2fsecret.txt', '//etc/passwd', '/%00', '/%E0%A4%A', '/assets', '/missing.js']) {
      const res = await get(port, path);
      assert.equal(res.status, 404, `${path} → ${res.status} ${res.body}`);
      assert.ok(!res.body.includes('not for the page'), path);
    }
    assert.equal((await get(port, '/', 'POST')).status, 405);
  });

  it('prints an address a browser can open', () => {
    assert.equal(pageUrl({ address: '0.0.0.0', family: 'IPv4', port: 8080 }, '0.0.0.0'), 'http://localhost:8080/');
    assert.equal(pageUrl({ address: '::1', family: 'IPv6', port: 81 }, '::1'), 'http://[::1]:81/');
    assert.equal(pageUrl({ address: '127.0.0.1', family: 'IPv4', port: 4177 }, '127.0.0.1'), 'http://127.0.0.1:4177/');
  });

  it('the built page is where the command serves it from, and imports no Node built-in', () => {
    assert.ok(existsSync(join(WEB_ROOT, 'index.html')), `${WEB_ROOT}index.html: npm run build builds the page (build:web)`);
    const scripts = readdirSync(join(WEB_ROOT, 'assets')).filter((f) => f.endsWith('.js'));
    assert.ok(scripts.some((f) => f.startsWith('worker')), `a worker bundle among ${scripts.join(', ')}`);
    for (const f of scripts) {
      const code = readFileSync(join(WEB_ROOT, 'assets', f), 'utf8');
      // Vite replaces a node: import in browser code with an empty stub and a warning; the page would then fail at run time.
      assert.doesNotMatch(code, /["'](node:[a-z_/]+)["']|__vite-browser-external/, `${f} imports a Node built-in`);
    }
  });

  it('refuses a busy port and a bad --port in one line, exit code 2', async () => {
    const busy = await runCli(['ui', '--port', String(port), '--host', '127.0.0.1', '--no-open'], root);
    assert.equal(busy.code, 2);
    assert.equal(busy.stderr, `galvatron: --port: ${port} is in use on 127.0.0.1; pick another, or --port 0 for any free port\n`);
    const bad = await runCli(['ui', '--port', '70000', '--no-open'], root);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, 'galvatron: --port: must be a port number 0–65535 (0: any free port), got "70000"\n');
  });
});
