// Text inputs (prompts, general text, labels, features, responses, samples, episodes, judge prompts)
// read strictly, before any work: a file larger than a text input can sensibly be, bytes that are not
// UTF-8, a NUL (a binary file given by mistake) or, in one-item-per-line files, a line longer than any
// prompt is refused naming the file and line, instead of being tokenized for minutes or silently mangled.
import { isUtf8 } from 'node:buffer';
import { readFileSync, statSync } from 'node:fs';
import { InputError, SettingError } from '../errors.ts';

/** Largest text input read (256 MiB). */
export const MAX_TEXT_FILE_BYTES = 256 << 20;
/** Longest line of a one-item-per-line file (a prompt, a general-text passage): about 25,000 tokens. */
export const MAX_LINE_CHARS = 100_000;

/** The 1-based line of byte `at` in `buf`. */
function lineOf(buf: Buffer, at: number): number {
  let line = 1;
  for (let i = buf.indexOf(10); i !== -1 && i < at; i = buf.indexOf(10, i + 1)) line++;
  return line;
}

/** The first line of `buf` that is not valid UTF-8 (1-based). */
function firstBadLine(buf: Buffer): number {
  let start = 0;
  for (let line = 1; ; line++) {
    const nl = buf.indexOf(10, start);
    const end = nl === -1 ? buf.length : nl;
    if (!isUtf8(buf.subarray(start, end))) return line;
    if (nl === -1) return line;
    start = nl + 1;
  }
}

/**
 * A UTF-8 text file's content (a leading byte-order mark dropped); `what` names the input in errors (a flag,
 * or a setting reference such as settingRef('features'), rendered as the command's flag).
 */
export function readTextFile(path: string, what: string): string {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new SettingError(`${what} ${path}: file not found`);
  }
  if (size > MAX_TEXT_FILE_BYTES)
    throw new SettingError(
      `${what} ${path}: ${size} bytes, more than the ${MAX_TEXT_FILE_BYTES} a text input may have`,
    );
  const buf = readFileSync(path);
  if (!isUtf8(buf))
    throw new InputError(
      `${path}:${firstBadLine(buf)}: not UTF-8 text (an invalid byte sequence); save the file as UTF-8`,
    );
  const nul = buf.indexOf(0);
  if (nul !== -1) throw new InputError(`${path}:${lineOf(buf, nul)}: a NUL byte (a binary file?); expected text`);
  const text = buf.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** The non-blank lines of a one-item-per-line text file, trimmed; a line over `maxChars` is refused naming it. */
export function readItemLines(path: string, what: string, item: string, maxChars = MAX_LINE_CHARS): string[] {
  const out: string[] = [];
  readTextFile(path, what)
    .split('\n')
    .forEach((raw, i) => {
      if (raw.length > maxChars)
        throw new InputError(
          `${path}:${i + 1}: a line of ${raw.length} characters, more than the ${maxChars} one ${item} may have`,
        );
      const line = raw.trim();
      if (line) out.push(line);
    });
  return out;
}
