// Keeps API keys out of everything we store or print, even when a server or SDK echoes them back: every
// string that comes from a server (reply text, model id, error text) passes through a scrubber first.

/** Shorter "keys" (`x`, `-` for a local server that checks none) protect nothing; scrubbing them would mangle text. */
const MIN_SECRET_CHARS = 4;

export type Scrub = (text: string) => string;

/**
 * A function replacing every occurrence of each secret with `[redacted]`, in the forms a server may echo
 * it: as sent, URL-encoded, and JSON-escaped.
 */
export function scrubber(secrets: readonly (string | null | undefined)[]): Scrub {
  const forms = new Set<string>();
  for (const s of secrets) {
    if (!s || s.length < MIN_SECRET_CHARS) continue;
    forms.add(s);
    forms.add(encodeURIComponent(s));
    forms.add(JSON.stringify(s).slice(1, -1));
  }
  // longest first, so a form containing another is replaced whole
  const list = [...forms].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const f of list) if (out.includes(f)) out = out.split(f).join('[redacted]');
    return out;
  };
}
