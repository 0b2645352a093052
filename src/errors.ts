// One error type for bad user input: the CLI prints its one-line message and exits with code 2.
import type { ZodError } from 'zod';

export class UserInputError extends Error {
  /** The input field at fault, e.g. "--tp" or "model.hidden". */
  readonly field: string;
  constructor(field: string, problemAndFix: string) {
    super(`${field}: ${problemAndFix}`);
    this.name = 'UserInputError';
    this.field = field;
  }
}

/** Turns the first zod issue into a UserInputError naming the field path under `prefix`. */
export function zodToUserError(prefix: string, error: ZodError): UserInputError {
  const issue = error.issues[0];
  if (!issue) return new UserInputError(prefix, 'invalid value');
  const path = issue.path.map(String).join('.');
  const field = path ? `${prefix}.${path}` : prefix;
  let message = issue.message;
  if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) {
    message = 'missing; add this field';
  } else if (issue.code === 'unrecognized_keys') {
    message = `${issue.message}; remove it or check its spelling`;
  }
  return new UserInputError(field, message);
}
