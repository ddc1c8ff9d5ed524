import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { InputError } from '../errors.ts';
import { readJsonObject, shown } from '../io/json.ts';

/** [start, end) character range in the input text. */
export type Offset = [number, number];

export interface Encoded {
  ids: number[];
  /** Per token, [start, end) in UTF-16 code units of the input (JavaScript string indices). */
  offsets: Offset[];
  /** Per token, [start, end) in Unicode code points: what Python's `offset_mapping` reports. */
  codePointOffsets: Offset[];
}

export interface EncodeOptions {
  /** Add the post-processor's special tokens (BOS …), as `tokenizer(text)` does in transformers. Default true. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  skipSpecialTokens?: boolean;
}

/** The named special tokens transformers passes to chat templates (`special_tokens_map`). */
const SPECIAL_TOKEN_ATTRIBUTES = [
  'bos_token',
  'eos_token',
  'unk_token',
  'sep_token',
  'pad_token',
  'cls_token',
  'mask_token',
] as const;

type Json = Record<string, unknown>;

export interface Tokenizer {
  readonly dir: string;
  /** Base vocabulary plus added tokens (transformers' `len(tokenizer)`). */
  readonly vocabSize: number;
  readonly bosId: number | null;
  /** Generation stops on these: generation_config.json, else config.json, else tokenizer_config's eos_token. */
  readonly eosIds: number[];
  /** Named special tokens from tokenizer_config.json (bos_token, eos_token, …) as strings. */
  readonly specialTokens: Record<string, string>;
  /** The default chat template (chat_template.jinja beside the tokenizer wins over tokenizer_config.json), or null. */
  readonly chatTemplate: string | null;
  /** The file the chat template was read from (for errors), or null. */
  readonly chatTemplateFile: string | null;
  encode(text: string, options?: EncodeOptions): Encoded;
  decode(ids: readonly number[], options?: DecodeOptions): string;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
}

const readJson = readJsonObject;

function readJsonIfExists(path: string): Json | null {
  return existsSync(path) ? readJson(path) : null;
}

/** A special token in tokenizer_config.json is a string or an AddedToken object with `content`. */
function tokenContent(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as Json).content === 'string') {
    return (value as Json).content as string;
  }
  return null;
}

/** GPT-2's byte ↔ printable-unicode table used by ByteLevel pre-tokenizers: unicode code point → byte. */
function byteLevelDecoder(): Map<number, number> {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const map = new Map<number, number>();
  for (const b of printable) map.set(b, b);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    if (!printable.includes(b)) map.set(256 + next++, b);
  }
  return map;
}

function componentTypes(component: unknown, listKey: string): string[] {
  if (typeof component !== 'object' || component === null) return [];
  const c = component as Json;
  if (c.type === 'Sequence' && Array.isArray(c[listKey])) {
    return (c[listKey] as unknown[]).flatMap((sub) => componentTypes(sub, listKey));
  }
  return typeof c.type === 'string' ? [c.type] : [];
}

/**
 * The special tokens the post-processor puts before and after a single sequence. transformers 5
 * takes them from tokenizer.json's post_processor (tokenizer_config's add_bos_token/add_eos_token
 * are dropped when a tokenizer.json exists); a null post_processor adds nothing.
 */
function specialAffixes(file: string, post: unknown): { prefix: number[]; suffix: number[] } {
  if (post === null || post === undefined) return { prefix: [], suffix: [] };
  const parts = (post as Json).type === 'Sequence' ? ((post as Json).processors as Json[]) : [post as Json];
  const prefix: number[] = [];
  const suffix: number[] = [];
  for (const part of parts) {
    if (part.type === 'ByteLevel') {
      // trim_offsets would shift offsets off leading/trailing spaces; not implemented, so refuse it.
      if (part.trim_offsets === true) {
        throw new InputError(
          `${file}: post_processor ByteLevel with trim_offsets=true is not supported (expected false)`,
        );
      }
      continue;
    }
    if (part.type !== 'TemplateProcessing') {
      throw new InputError(
        `${file}: post_processor type ${String(part.type)} is not supported (expected TemplateProcessing or ByteLevel)`,
      );
    }
    const specials = part.special_tokens as Record<string, { ids: number[] }>;
    let seenA = false;
    for (const piece of part.single as Json[]) {
      if ('Sequence' in piece) {
        seenA = true;
      } else {
        const name = (piece.SpecialToken as Json).id as string;
        const ids = specials[name]?.ids;
        if (!ids) throw new InputError(`${file}: post_processor special token ${name} has no ids`);
        (seenA ? suffix : prefix).push(...ids);
      }
    }
  }
  return { prefix, suffix };
}

type TokenBytes = (token: string, id: number) => number[];

/** How a token string maps back to bytes of the original text, per supported tokenizer family. */
function tokenByteMapper(file: string, json: Json, addedContent: Map<number, string>): TokenBytes {
  const encoder = new TextEncoder();
  const model = json.model as Json;
  const preTypes = componentTypes(json.pre_tokenizer, 'pretokenizers');
  const normTypes = componentTypes(json.normalizer, 'normalizers');
  const added = (id: number): number[] | null => {
    const content = addedContent.get(id);
    return content === undefined ? null : [...encoder.encode(content)];
  };
  if (preTypes.includes('ByteLevel')) {
    const table = byteLevelDecoder();
    return (token, id) => {
      const special = added(id);
      if (special) return special;
      const bytes: number[] = [];
      for (const ch of token) {
        const b = table.get(ch.codePointAt(0)!);
        if (b === undefined)
          throw new InputError(`${file}: token ${JSON.stringify(token)} (id ${id}) is not byte-level encoded`);
        bytes.push(b);
      }
      return bytes;
    };
  }
  const spaceToMeta = normTypes.includes('Replace') && preTypes.length === 0;
  if (spaceToMeta) {
    const byteFallback = model.byte_fallback === true;
    return (token, id) => {
      const special = added(id);
      if (special) return special;
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(token);
      if (byteFallback && m) return [parseInt(m[1], 16)];
      return [...encoder.encode(token.replaceAll('\u2581', ' '))];
    };
  }
  throw new InputError(
    `${file}: unsupported tokenizer pipeline for offsets (pre_tokenizer ${preTypes.join('+') || 'none'}, ` +
      `normalizer ${normTypes.join('+') || 'none'}); supported: ByteLevel BPE (Llama-3) and ▁/byte-fallback BPE (Gemma-2)`,
  );
}

/**
 * Offsets from the tokens' bytes: a token covers every character any of its bytes belongs to, so
 * tokens that split a multi-byte character each get that whole character (as Hugging Face does).
 * The bytes must reproduce the text exactly; anything else is an error, never a guess.
 */
function offsetsFromBytes(
  file: string,
  text: string,
  tokenBytes: number[][],
): { utf16: Offset[]; codePoints: Offset[] } {
  const textBytes = new TextEncoder().encode(text);
  const byteToCp = new Int32Array(textBytes.length + 1);
  const cpToUtf16: number[] = [];
  let b = 0;
  let cp = 0;
  let unit = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    const n = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    for (let k = 0; k < n; k++) byteToCp[b + k] = cp;
    cpToUtf16.push(unit);
    b += n;
    cp += 1;
    unit += ch.length;
  }
  byteToCp[b] = cp;
  cpToUtf16.push(unit);
  const utf16: Offset[] = [];
  const codePoints: Offset[] = [];
  let pos = 0;
  for (const bytes of tokenBytes) {
    for (let k = 0; k < bytes.length; k++) {
      if (pos + k >= textBytes.length || textBytes[pos + k] !== bytes[k]) {
        throw new InputError(
          `${file}: tokens do not reproduce the input text at byte ${pos + k} (the tokenizer's normalizer or ` +
            `pre-tokenizer changes the text in a way offsets cannot be computed for)`,
        );
      }
    }
    const start = byteToCp[pos];
    const end = bytes.length === 0 ? start : byteToCp[pos + bytes.length - 1] + 1;
    codePoints.push([start, end]);
    utf16.push([cpToUtf16[start], cpToUtf16[end]]);
    pos += bytes.length;
  }
  if (pos !== textBytes.length) {
    throw new InputError(`${file}: tokens cover ${pos} of ${textBytes.length} bytes of the input text`);
  }
  return { utf16, codePoints };
}

function eosIdsFrom(
  dir: string,
  tokenToId: (t: string) => number | undefined,
  vocabSize: number,
  eosToken: string | null,
): number[] {
  const check = (file: string, value: unknown): number[] => {
    const ids = Array.isArray(value) ? value : [value];
    for (const id of ids) {
      if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= vocabSize) {
        throw new InputError(`${file}: eos_token_id must be token ids in [0, ${vocabSize}), found ${shown(value)}`);
      }
    }
    return ids as number[];
  };
  for (const name of ['generation_config.json', 'config.json']) {
    const path = join(dir, name);
    const json = readJsonIfExists(path);
    if (json && json.eos_token_id !== undefined && json.eos_token_id !== null) return check(path, json.eos_token_id);
  }
  const id = eosToken === null ? undefined : tokenToId(eosToken);
  return id === undefined ? [] : [id];
}

function chatTemplateFrom(dir: string, config: Json): string | null {
  const file = join(dir, 'chat_template.jinja');
  if (existsSync(file)) return readFileSync(file, 'utf8');
  const t = config.chat_template;
  if (t === undefined || t === null) return null;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const named = t.find((x) => (x as Json)?.name === 'default') as Json | undefined;
    if (named && typeof named.template === 'string') return named.template;
  }
  throw new InputError(
    `${join(dir, 'tokenizer_config.json')}: chat_template must be a string or a list with a "default" entry`,
  );
}

/**
 * Refuses a tokenizer whose ids reach past the model's embedding table (config.json vocab_size): such a
 * token would fail mid-run, or index another token's row.
 */
function checkIdsFitModel(modelDir: string, file: string, vocab: Map<string, number>): void {
  const modelVocab = readJsonIfExists(join(modelDir, 'config.json'))?.vocab_size;
  if (typeof modelVocab !== 'number') return;
  let top: [string, number] | null = null;
  for (const entry of vocab) if (top === null || entry[1] > top[1]) top = entry;
  if (top !== null && top[1] >= modelVocab)
    throw new InputError(
      `${file}: token ${JSON.stringify(top[0])} has id ${top[1]}, outside the model's vocabulary (${join(modelDir, 'config.json')}: vocab_size ${modelVocab})`,
    );
}

/** Loads the tokenizer of a Hugging Face model directory (tokenizer.json + tokenizer_config.json). */
export function loadTokenizer(modelDir: string): Tokenizer {
  const file = join(modelDir, 'tokenizer.json');
  const json = readJson(file);
  const config = readJsonIfExists(join(modelDir, 'tokenizer_config.json')) ?? {};
  const model = json.model as Json | undefined;
  if (model?.type !== 'BPE') {
    throw new InputError(
      `${file}: model.type must be BPE (Llama-3 / Gemma-2 tokenizers), found ${String(model?.type)}`,
    );
  }
  const hf = new HfTokenizer(json, config);
  const addedTokens = (json.added_tokens as Json[] | undefined) ?? [];
  const addedContent = new Map(addedTokens.map((t) => [t.id as number, t.content as string]));
  const tokenBytes = tokenByteMapper(file, json, addedContent);
  const { prefix, suffix } = specialAffixes(file, json.post_processor);
  const vocab = hf.get_vocab(true);
  const vocabSize = vocab.size;
  checkIdsFitModel(modelDir, file, vocab);
  const tokenToId = (t: string) => hf.token_to_id(t);
  const specialTokens: Record<string, string> = {};
  for (const attr of SPECIAL_TOKEN_ATTRIBUTES) {
    const content = tokenContent(config[attr]);
    if (content !== null) specialTokens[attr] = content;
  }
  const bos = specialTokens.bos_token;
  const bosId = bos === undefined ? null : (tokenToId(bos) ?? null);
  return {
    dir: modelDir,
    vocabSize,
    bosId,
    eosIds: eosIdsFrom(modelDir, tokenToId, vocabSize, specialTokens.eos_token ?? null),
    specialTokens,
    chatTemplate: chatTemplateFrom(modelDir, config),
    chatTemplateFile: existsSync(join(modelDir, 'chat_template.jinja'))
      ? join(modelDir, 'chat_template.jinja')
      : join(modelDir, 'tokenizer_config.json'),
    encode(text, options = {}) {
      const enc = hf.encode(text, { add_special_tokens: false });
      const bytes = enc.ids.map((id: number, i: number) => tokenBytes(enc.tokens[i], id));
      const { utf16, codePoints } = offsetsFromBytes(file, text, bytes);
      if (options.addSpecialTokens === false) return { ids: enc.ids, offsets: utf16, codePointOffsets: codePoints };
      const none = (ids: number[]): Offset[] => ids.map(() => [0, 0]);
      return {
        ids: [...prefix, ...enc.ids, ...suffix],
        offsets: [...none(prefix), ...utf16, ...none(suffix)],
        codePointOffsets: [...none(prefix), ...codePoints, ...none(suffix)],
      };
    },
    decode(ids, options = {}) {
      // transformers 5 never applies clean_up_tokenization_spaces to BPE tokenizers.
      return hf.decode([...ids], {
        skip_special_tokens: options.skipSpecialTokens ?? false,
        clean_up_tokenization_spaces: false,
      });
    },
    tokenToId,
    idToToken: (id) => hf.id_to_token(id),
  };
}
