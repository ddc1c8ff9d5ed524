// Reading the node:test spec reporter's output (what `npm test` prints): the summary counts and the names
// of the failed tests, for scripts/test-repeat.ts.

/** `ℹ <name> <n>` from the spec reporter's summary (the last one: the whole run's). */
export const summaryCount = (log: string, name: string): number | null => {
  const m = [...log.matchAll(new RegExp(`^ℹ ${name} (\\d+)$`, 'gm'))].at(-1);
  return m ? Number(m[1]) : null;
};

/** Names of the failed tests, from the spec reporter's "failing tests" list (file:line, then name). */
export function failedTests(log: string): string[] {
  const at = log.lastIndexOf('✖ failing tests:');
  if (at < 0) return [];
  const names: string[] = [];
  let where = '';
  for (const line of log.slice(at).split('\n')) {
    const m = /^test at (.+)$/.exec(line);
    if (m) where = m[1];
    const f = /^✖ (.+?)(?: \([\d.]+m?s\))?$/.exec(line);
    if (f && where) {
      names.push(`${f[1]} (${where})`);
      where = '';
    }
  }
  return names;
}
