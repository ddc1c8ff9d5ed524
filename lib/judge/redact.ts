// Keeps API keys out of everything we store or print, even when a server or SDK echoes them back.

/** Replaces every occurrence of each secret (ignoring empty ones) with `[redacted]`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret) out = out.split(secret).join('[redacted]');
  return out;
}
