// Self-correction episodes (docs/design.md "Episodes"): a prompt, a response that drifts off-topic and
// recovers, and character spans of its regions in code points of the response.
import { existsSync } from 'node:fs';
import { parseSample, type CaptureSample } from '../capture/samples.ts';
import { InputError } from '../errors.ts';
import { jsonlRecords } from '../io/lines.ts';
import { readTextFile } from '../io/text.ts';
import { shown } from '../io/json.ts';

export const REGIONS = ['off_topic', 'correction', 'on_topic'] as const;
export type Region = (typeof REGIONS)[number];

/**
 * Reads JSONL lines `{id, prompt, response, spans: {off_topic, correction, on_topic}}` (or `messages`
 * in place of prompt/response). A region may be absent or null: the episode then lacks it, and the
 * comparisons that need it leave the episode out and count it. Regions must not overlap.
 */
export function readEpisodes(path: string): CaptureSample[] {
  if (!existsSync(path)) throw new InputError(`${path}: episodes file not found`);
  const out: CaptureSample[] = [];
  const seen = new Set<string>();
  for (const record of jsonlRecords(readTextFile(path, '--episodes'), path)) {
    const { where } = record;
    const value = record.value as Record<string, unknown>;
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new InputError(`${where}: expected a JSON object`);
    const spans = value.spans ?? {};
    if (typeof spans !== 'object' || spans === null || Array.isArray(spans))
      throw new InputError(`${where}: spans must be an object {off_topic, correction, on_topic}`);
    const present: Record<string, unknown> = {};
    for (const [name, span] of Object.entries(spans)) {
      if (!(REGIONS as readonly string[]).includes(name))
        throw new InputError(`${where}: spans.${name}: unknown region (expected ${REGIONS.join(', ')})`);
      if (span !== null) present[name] = span;
    }
    const sample = parseSample({ ...value, condition: 'episode', spans: present }, where);
    checkSpans(sample, where);
    if (seen.has(sample.id)) throw new InputError(`${where}: duplicate id ${sample.id}`);
    seen.add(sample.id);
    out.push(sample);
  }
  if (out.length < 2)
    throw new InputError(`${path}: found ${out.length} episode(s); paired comparisons need at least 2`);
  return out;
}

/** Each region is [start, end) inside the response (code points), and no two regions overlap. */
function checkSpans(sample: CaptureSample, where: string): void {
  const length = [...sample.messages[sample.messages.length - 1].content].length;
  for (const [name, span] of Object.entries(sample.spans) as [string, unknown][]) {
    const ok =
      Array.isArray(span) && span.length === 2 && span.every(Number.isInteger) && span[0] >= 0 && span[0] < span[1];
    if (!ok)
      throw new InputError(
        `${where}: spans.${name}: expected [start, end) with 0 <= start < end, found ${shown(span)}`,
      );
    if (span[1] > length)
      throw new InputError(
        `${where}: spans.${name}: end ${span[1]} is past the end of the response (${length} code points)`,
      );
  }
  const list = Object.entries(sample.spans).sort((a, b) => a[1][0] - b[1][0]);
  for (let i = 1; i < list.length; i++) {
    const [prevName, prev] = list[i - 1];
    const [name, span] = list[i];
    if (span[0] < prev[1])
      throw new InputError(`${where}: regions ${prevName} [${prev}) and ${name} [${span}) overlap`);
  }
}
