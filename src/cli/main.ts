#!/usr/bin/env node
// The `galvatron` command (src/cli/program.ts). Errors end through ./errors.ts (exit 2 on bad input, 1 otherwise).
import { runCli } from './errors.js';
import { createProgram } from './program.js';

// `galvatron models | head`: a reader that stops early is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

await runCli(async () => {
  await createProgram().parseAsync(process.argv);
});
