// The paper's degraded-output filter, as a sensitivity analysis: a response holding a run of at least 5
// identical consecutive whitespace-separated words longer than one character (a generation stuck in a loop).

const DEGRADED_RUN = 5;
export const DEGRADED_RULE = `a run of ≥ ${DEGRADED_RUN} identical consecutive whitespace-separated words longer than one character`;

export function isDegraded(text: string): boolean {
  const words = text.split(/\s+/).filter(Boolean);
  let run = 1;
  for (let i = 1; i < words.length; i++) {
    run = words[i] === words[i - 1] && words[i].length > 1 ? run + 1 : 1;
    if (run >= DEGRADED_RUN) return true;
  }
  return false;
}
