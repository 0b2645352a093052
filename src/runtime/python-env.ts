// The project's Python environment for the executor (DESIGN.md §6): a virtualenv at <repo>/.venv with the
// pinned python/requirements.txt, created on first use by `npm test` and by `galvatron train`.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { RunFailure } from '../errors.js';
import { writeFileAtomic } from '../io/atomic-write.js';

/** The repository root (this file is dist/src/runtime/python-env.js once built). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const PYTHON_DIR = join(REPO_ROOT, 'python');
export const REQUIREMENTS = join(PYTHON_DIR, 'requirements.txt');
export const VENV_DIR = process.env['GALVATRON_VENV'] ?? join(REPO_ROOT, '.venv');
const STAMP = join(VENV_DIR, '.galvatron-requirements.sha256');

/** The PyTorch versions the executor supports (checked again by the runtime at start-up). */
export const SUPPORTED_TORCH = { min: [2, 4] as const, label: 'PyTorch 2.4 or newer (2.x); pinned: python/requirements.txt' };

export function venvPython(): string {
  return join(VENV_DIR, process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python');
}

function requirementsHash(): string {
  return createHash('sha256').update(readFileSync(REQUIREMENTS)).digest('hex');
}

/** True when the virtualenv exists and was installed from the current requirements file. */
export function pythonEnvReady(): boolean {
  return existsSync(venvPython()) && existsSync(STAMP) && readFileSync(STAMP, 'utf8').trim() === requirementsHash();
}

function run(command: string, args: string[], log: (line: string) => void): void {
  log(`$ ${[command, ...args].join(' ')}`);
  const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'], cwd: REPO_ROOT });
  if (result.error) throw new RunFailure(`${command} could not start (${result.error.message}); the executor needs Python 3.9+ as python3 (or set PYTHON)`);
  if (result.status !== 0) throw new RunFailure(`setting up the Python environment failed: ${[command, ...args].join(' ')} exited with ${result.status ?? result.signal}`);
}

/**
 * Creates .venv and installs the pinned requirements unless that is already done. Logs each command
 * (pip prints its own progress); throws with the failing command on error.
 */
export function ensurePythonEnv(log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): string {
  if (pythonEnvReady()) return venvPython();
  log(`setting up the executor's Python environment in ${VENV_DIR} (first use; PyTorch is a large download)`);
  const python = process.env['PYTHON'] ?? 'python3';
  if (!existsSync(venvPython())) run(python, ['-m', 'venv', VENV_DIR], log);
  run(venvPython(), ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', '-r', REQUIREMENTS], log);
  writeFileAtomic(STAMP, `${requirementsHash()}\n`);
  return venvPython();
}

/** The installed torch version, e.g. "2.13.0+cu130", or undefined when torch does not import. */
export function installedTorchVersion(): string | undefined {
  const result = spawnSync(venvPython(), ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

/** Whether a torch version string is one the executor supports. */
export function torchSupported(version: string): boolean {
  const [major, minor] = version.split(/[.+]/).map(Number);
  if (major === undefined || minor === undefined || Number.isNaN(major) || Number.isNaN(minor)) return false;
  return major === SUPPORTED_TORCH.min[0] && minor >= SUPPORTED_TORCH.min[1];
}
