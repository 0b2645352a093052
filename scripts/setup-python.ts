// `npm test` runs this first: the executor's Python environment (.venv, pinned PyTorch) is set up on first
// use, so a fresh clone needs no other command. Quick when it is already there.
import { ensurePythonEnv, installedTorchVersion, torchSupported, SUPPORTED_TORCH } from '../src/runtime/python-env.js';

try {
  ensurePythonEnv();
  const version = installedTorchVersion();
  if (!version || !torchSupported(version)) {
    console.error(`setup-python: torch ${version ?? 'does not import'} in .venv; the executor needs ${SUPPORTED_TORCH.label}`);
    process.exit(1);
  }
  console.log(`setup-python: .venv ready (torch ${version})`);
} catch (error) {
  console.error(`setup-python: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
