// Distractions written by an LLM instead of cut from another prompt's response (--llm PROVIDER:MODEL): the
// model is asked for a passage that has drifted from the question into the partner prompt's subject. Each text is
// appended to distractions.jsonl as it arrives, so a killed run resumes without asking again.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import pLimit from 'p-limit';
import { InputError } from '../errors.ts';
import { sha256Text } from '../io/hash.ts';
import { JUDGE_HTTP_DEFAULTS, openRemoteChat, type RemoteChat } from '../judge/create.ts';
import { Budget, systemClock } from '../judge/http.ts';
import type { JudgeOptions } from '../judge/types.ts';
import { repairTornTail } from '../trials/store.ts';
import { sentenceEnds } from './plan.ts';

export const DISTRACTION_PROMPT = `You are writing training data for a study of language models that drift off topic and then correct themselves.

A user asked an assistant: "{prompt}"

Write what the assistant says after it has drifted away from that question: {sentences} sentence(s) about this other subject instead: "{partner}". Write them as the assistant's own words, in plain prose. Write only those sentences: no preamble, no quotation marks, no headings, and no apology or return to the user's question.`;

export interface DistractionRequest {
  id: string;
  prompt: string;
  partner: string;
  sentences: number;
}

export interface LlmDistractionOptions {
  spec: string;
  /** The client (openLlm): made before any work, so a missing key is refused up front. */
  remote: RemoteChat;
  /** The JSONL file the texts are appended to (and read back from on a rerun). */
  file: string;
  concurrency?: number;
  log?: (line: string) => void;
}

interface Stored {
  id: string;
  key: string;
  text: string;
  model: string | null;
}

/** The text of a reply as a distraction: trimmed, quotes around it removed, at most the sentences asked for. */
export function cleanDistraction(reply: string, sentences: number): string {
  const text = reply
    .trim()
    .replace(/^["“](.*)["”]$/s, '$1')
    .replace(/\s+/g, ' ')
    .trim();
  const ends = sentenceEnds(text);
  return text.slice(0, ends[Math.min(sentences, ends.length) - 1]).trim();
}

/** Reads what a previous run stored, by id, after dropping a torn last line (that one is asked again). */
function readStored(file: string): Map<string, Stored> {
  const out = new Map<string, Stored>();
  if (!existsSync(file)) return out;
  repairTornTail(file);
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      try {
        const s = JSON.parse(line) as Stored;
        out.set(s.id, s);
      } catch {
        throw new InputError(`${file}:${i + 1}: not JSON; delete the file to ask for every distraction again`);
      }
    });
  return out;
}

/** Texts by request id; requests already in `file` under the same key are not asked again. */
/** The chat client of --llm (sampling at temperature 0.7 unless told otherwise). */
export function openLlm(spec: string, judge: JudgeOptions): RemoteChat {
  return openRemoteChat(spec, { temperature: 0.7, maxTokens: 400, ...judge }, () => {}, 'llm');
}

export async function llmDistractions(
  requests: DistractionRequest[],
  o: LlmDistractionOptions,
): Promise<{ texts: Map<string, string>; asked: number; model: string }> {
  const { remote } = o;
  const keyOf = (r: DistractionRequest) =>
    sha256Text(JSON.stringify([o.spec, remote.baseUrl, DISTRACTION_PROMPT, r.prompt, r.partner, r.sentences]));
  const stored = readStored(o.file);
  const texts = new Map<string, string>();
  const todo = requests.filter((r) => {
    const s = stored.get(r.id);
    if (s && s.key === keyOf(r)) texts.set(r.id, s.text);
    return !texts.has(r.id);
  });
  if (todo.length) o.log?.(`asking ${o.spec} for ${todo.length} distractions (${texts.size} stored)`);
  const limit = pLimit(o.concurrency ?? 4);
  await Promise.all(
    todo.map((r) =>
      limit(async () => {
        const content = DISTRACTION_PROMPT.replace('{prompt}', r.prompt)
          .replace('{partner}', r.partner)
          .replace('{sentences}', String(r.sentences));
        let reply: Awaited<ReturnType<typeof remote.chat>>;
        try {
          reply = await remote.chat([{ role: 'user', content }], new Budget(systemClock, JUDGE_HTTP_DEFAULTS.budgetMs));
        } catch (err) {
          throw new Error(`--llm ${o.spec}: distraction ${r.id}: ${remote.scrub((err as Error).message)}`);
        }
        const text = cleanDistraction(remote.scrub(reply.text), r.sentences);
        if (!text)
          throw new InputError(
            `--llm ${o.spec}: an empty distraction for ${r.id} (reply ${JSON.stringify(reply.text.slice(0, 80))})`,
          );
        appendFileSync(
          o.file,
          `${JSON.stringify({ id: r.id, key: keyOf(r), text, model: reply.model } satisfies Stored)}\n`,
        );
        texts.set(r.id, text);
      }),
    ),
  );
  return { texts, asked: todo.length, model: remote.model };
}
