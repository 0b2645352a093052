// One error type for bad user input: the CLI prints its one-line message and exits with code 2.
import type { ZodError } from 'zod';

export class UserInputError extends Error {
  /** The input field at fault, e.g. "--tp", "tp" (a library config key) or "model.hidden". */
  readonly field: string;
  /** The problem and the fix; `{{key}}` marks a config key that a front end shows its own way (the CLI: a flag). */
  readonly detail: string;
  constructor(field: string, problemAndFix: string) {
    super(`${field}: ${renderKeys(problemAndFix, (key) => key)}`);
    this.name = 'UserInputError';
    this.field = field;
    this.detail = problemAndFix;
  }

  /** The message with the field and every marked config key shown through `name`. */
  render(name: (key: string) => string): string {
    return `${name(this.field)}: ${renderKeys(this.detail, name)}`;
  }
}

function renderKeys(text: string, name: (key: string) => string): string {
  return text.replace(/\{\{([A-Za-z]+)\}\}/g, (_, key: string) => name(key));
}

/**
 * A known failure outside the input: a missing tool, a failed install, a run that stopped. The CLI prints
 * its message as is (no "unexpected error") and exits 1.
 */
export class RunFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunFailure';
  }
}

/**
 * Turns the first zod issue into a UserInputError naming the field path under `prefix`. Pass the parsed
 * `input` so that an absent field reads "missing" rather than the schema's type message.
 */
export function zodToUserError(prefix: string, error: ZodError, input?: unknown): UserInputError {
  const issue = error.issues[0];
  if (!issue) return new UserInputError(prefix, 'invalid value');
  // Array indices as [i], as the Python side names fields: plan.layers[0].tp.
  const path = issue.path.reduce<string>((text, key) => (typeof key === 'number' ? `${text}[${key}]` : text ? `${text}.${String(key)}` : String(key)), '');
  const field = path ? `${prefix}.${path}` : prefix;
  if (issue.code === 'invalid_type' && input !== undefined && valueAt(input, issue.path) === undefined) {
    return new UserInputError(field, 'missing; add this field');
  }
  const message = issue.code === 'unrecognized_keys' ? `${issue.message}; remove it or check its spelling` : issue.message;
  return new UserInputError(field, message);
}

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  let value = root;
  for (const key of path) value = value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  return value;
}
