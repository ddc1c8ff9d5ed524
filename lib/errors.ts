/** Bad usage or bad input: the CLI prints the message and exits with code 2. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** Marks a setting's name in a SettingError's text: `‹maxTokens›`. */
export const settingRef = (name: string): string => `‹${name}›`;

const REF = /‹([A-Za-z][A-Za-z0-9]*)›/g;

/** Text with `‹name›` references, each named by `name` (a setting's name, or its flag). */
export const renderRefs = (text: string, name: (setting: string) => string): string =>
  text.replace(REF, (_, s: string) => name(s));

/** A setting's command-line flag: its name in kebab case (`maxTokens` → `--max-tokens`). */
export const flagOf = (name: string): string => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/**
 * A bad setting (value, combination, or one that is missing). The text names settings as `‹name›`: the
 * message shows the library's names (a notebook's `maxTokens`), and the command line renders the same
 * text with flags (`--max-tokens`) through `render(flagOf)`.
 */
export class SettingError extends InputError {
  readonly text: string;
  constructor(text: string) {
    super(renderRefs(text, (s) => s));
    this.name = 'SettingError';
    this.text = text;
  }

  render(name: (setting: string) => string): string {
    return renderRefs(this.text, name);
  }
}

/** Exit code for an error: 2 for bad input, 1 for everything else. */
export function exitCodeFor(err: unknown): number {
  return err instanceof InputError ? 2 : 1;
}
