/** Bad usage or bad input: the CLI prints the message and exits with code 2. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** Exit code for an error: 2 for bad input, 1 for everything else. */
export function exitCodeFor(err: unknown): number {
  return err instanceof InputError ? 2 : 1;
}
