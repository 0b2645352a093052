// Runs one of the executor's Python entry points under torchrun on CPU ranks and collects its JSON lines.
import { spawn } from 'node:child_process';
import { runtimeEnv } from '../../src/runtime/launch.js';
import { venvPython } from '../../src/runtime/python-env.js';

export interface TorchrunResult<T> {
  events: T[];
  stderr: string;
  code: number | null;
}

/** `python -m torch.distributed.run --nproc-per-node ranks -m module ...args`; events: stdout lines whose `event` is eventName (or one of them). */
export function runTorchrunModule<T>(module: string, args: string[], ranks: number, eventName: string | string[]): Promise<TorchrunResult<T>> {
  const wanted = new Set(Array.isArray(eventName) ? eventName : [eventName]);
  return new Promise((resolve, reject) => {
    const all = ['-m', 'torch.distributed.run', '--standalone', '--nnodes', '1', '--nproc-per-node', String(ranks), '-m', module, ...args];
    const child = spawn(venvPython(), all, { env: runtimeEnv('cpu'), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => {
      const events = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { event?: string })
        .filter((e) => e.event !== undefined && wanted.has(e.event)) as T[];
      resolve({ events, stderr, code });
    });
  });
}
