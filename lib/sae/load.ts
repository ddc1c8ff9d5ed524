import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { InputError } from '../errors.ts';
import { openNpz } from '../io/npy.ts';
import { SafetensorsFile } from '../io/safetensors.ts';
import { openTorchStateDict } from '../io/torch.ts';
import { fileSize, sha256File } from '../io/hash.ts';
import {
  ACTIVATION_KINDS,
  type Activation,
  type ActivationKind,
  architecture,
  type LatentVectors,
  saeLensKind,
} from './architectures/index.ts';
import { gemmaScopeHook, goodfireHook, type NamedHook } from './hookNames.ts';
import { WeightMatrix } from './matrix.ts';
import { Sae, type SaeComputeOptions, type SaeFormat, type SaeParts } from './sae.ts';
import { fromNpz, fromSafetensors, fromTorch, readMatrix, readVector, type StoredTensor } from './stored.ts';
import { shown } from '../io/json.ts';

export interface LoadSaeOptions extends SaeComputeOptions {
  /** Overrides the activation the file implies (needed for TopK SAEs stored without a config). */
  activation?: ActivationKind;
  /** k for TopK. */
  k?: number;
  /** Overrides apply_b_dec_to_input (SAELens configs carry it; other formats default to false). */
  applyBDecToInput?: boolean;
  /** Stream a sha256 of every file read, for provenance (default true). */
  hash?: boolean;
}

/** The two tensor namings: SAELens/Gemma Scope (W_enc [d_in, d_sae]) and Goodfire (encoder_linear.weight [d_sae, d_in]). */
type Naming = 'saelens' | 'goodfire';

/** What a format yields before the SAE is built: tensors by canonical name plus config-implied settings. */
interface Opened {
  format: SaeFormat;
  weightFile: string;
  extraFiles: string[];
  tensors: Map<string, StoredTensor>;
  activation?: Activation;
  applyBDecToInput?: boolean;
  dims?: { dIn: number; dSae: number };
  /** The hook point the SAE names (its cfg.json, or the Gemma Scope / Goodfire naming conventions). */
  hook?: NamedHook | null;
  close(): void;
}

/**
 * Loads an SAE from a path, detecting the format:
 * - a SAELens folder (`cfg.json` + `sae_weights.safetensors`);
 * - Gemma Scope `params.npz` (or a folder holding one);
 * - a Goodfire PyTorch state dict `.pt`/`.pth` (or a folder holding exactly one);
 * - a plain `.safetensors` with SAELens or Goodfire tensor names.
 */
export function loadSae(path: string, opts: LoadSaeOptions = {}): Sae {
  const opened = open(path);
  try {
    const parts = build(opened, path, opts);
    return new Sae(parts, opts);
  } finally {
    opened.close();
  }
}

function open(path: string): Opened {
  if (!existsSync(path)) throw new InputError(`${path}: SAE path not found`);
  if (statSync(path).isDirectory()) {
    if (existsSync(join(path, 'cfg.json')) && existsSync(join(path, 'sae_weights.safetensors')))
      return openSaeLens(path);
    if (existsSync(join(path, 'params.npz'))) return openNpzFile(join(path, 'params.npz'));
    const torchFiles = readdirSync(path).filter((f) => /\.pth?$/.test(f));
    if (torchFiles.length === 1) return openTorchFile(join(path, torchFiles[0]));
    throw new InputError(
      `${path}: not an SAE folder (expected cfg.json + sae_weights.safetensors, params.npz, or one .pt/.pth file)`,
    );
  }
  if (path.endsWith('.npz')) return openNpzFile(path);
  if (/\.pth?$/.test(path)) return openTorchFile(path);
  if (path.endsWith('.safetensors')) return openSafetensorsFile(path, 'safetensors');
  throw new InputError(`${path}: unknown SAE file type (expected a SAELens folder, .npz, .pt, .pth or .safetensors)`);
}

function openSafetensorsFile(path: string, format: SaeFormat): Opened {
  const file = new SafetensorsFile(path);
  const tensors = new Map(file.names().map((n) => [n, fromSafetensors(file, n)] as const));
  return { format, weightFile: path, extraFiles: [], tensors, close: () => file.close() };
}

function openNpzFile(path: string): Opened {
  const npz = openNpz(path);
  const tensors = new Map([...npz.arrays].map(([n, a]) => [n, fromNpz(path, a)] as const));
  return {
    format: 'gemmascope',
    weightFile: path,
    extraFiles: [],
    tensors,
    activation: { kind: 'jumprelu' },
    hook: gemmaScopeHook(path),
    close: npz.close,
  };
}

function openTorchFile(path: string): Opened {
  const sd = openTorchStateDict(path);
  const tensors = new Map([...sd.tensors].map(([n, t]) => [n, fromTorch(path, t)] as const));
  return { format: 'goodfire', weightFile: path, extraFiles: [], tensors, hook: goodfireHook(path), close: sd.close };
}

function openSaeLens(dir: string): Opened {
  const cfgPath = join(dir, 'cfg.json');
  let cfg: Record<string, unknown>;
  try {
    cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
  } catch (err) {
    throw new InputError(`${cfgPath}: cannot parse (${(err as Error).message})`);
  }
  const parsed = parseSaeLensCfg(cfg, cfgPath);
  const opened = openSafetensorsFile(join(dir, 'sae_weights.safetensors'), 'saelens');
  return { ...opened, ...parsed, extraFiles: [cfgPath] };
}

/** The SAELens cfg.json fields we honour (v6 and the older activation_fn_str/activation_fn_kwargs spelling). */
function parseSaeLensCfg(cfg: Record<string, unknown>, cfgPath: string) {
  const field = (name: string, expected: string): never => {
    throw new InputError(`${cfgPath}: field ${name} is ${JSON.stringify(cfg[name])}, expected ${expected}`);
  };
  const dIn = cfg.d_in,
    dSae = cfg.d_sae;
  if (!Number.isInteger(dIn) || (dIn as number) <= 0) field('d_in', 'a positive integer');
  if (!Number.isInteger(dSae) || (dSae as number) <= 0) field('d_sae', 'a positive integer');
  const kind = saeLensKind(cfg.architecture ?? 'standard', cfg.activation_fn_str ?? 'relu', cfgPath);
  let activation: Activation;
  if (kind === 'topk') {
    const k = cfg.k ?? (cfg.activation_fn_kwargs as { k?: unknown } | undefined)?.k;
    if (!Number.isInteger(k) || (k as number) <= 0 || (k as number) > (dSae as number)) {
      throw new InputError(
        `${cfgPath}: TopK SAE needs k (field k or activation_fn_kwargs.k) as an integer in 1..d_sae, found ${shown(k)}`,
      );
    }
    activation = { kind, k: k as number };
  } else activation = { kind };
  const norm = cfg.normalize_activations ?? 'none';
  if (norm !== 'none' && norm !== null) field('normalize_activations', '"none" (input normalisation is not supported)');
  if (cfg.finetuning_scaling_factor === true) field('finetuning_scaling_factor', 'false (not supported)');
  const apply = cfg.apply_b_dec_to_input ?? true; // SAELens's default
  if (typeof apply !== 'boolean') field('apply_b_dec_to_input', 'a boolean');
  const meta = cfg.metadata as { hook_name?: unknown; hook_head_index?: unknown } | undefined;
  const hook = cfg.hook_name ?? meta?.hook_name;
  if (hook !== undefined && hook !== null && typeof hook !== 'string') field('hook_name', 'a hook name (a string)');
  const head = cfg.hook_head_index ?? meta?.hook_head_index;
  if (head !== undefined && head !== null)
    field('hook_head_index', 'null (SAEs on a single attention head are not supported)');
  return {
    activation,
    applyBDecToInput: apply as boolean,
    dims: { dIn: dIn as number, dSae: dSae as number },
    hook: typeof hook === 'string' ? { name: hook, source: 'cfg.json hook_name' } : null,
  };
}

/** Tensor names by their SAELens name, in each naming (architectures name their vectors the SAELens way). */
const NAMES: Record<Naming, Record<string, string>> = {
  saelens: { W_enc: 'W_enc', W_dec: 'W_dec', b_dec: 'b_dec' },
  goodfire: {
    W_enc: 'encoder_linear.weight',
    W_dec: 'decoder_linear.weight',
    b_enc: 'encoder_linear.bias',
    b_dec: 'decoder_linear.bias',
  },
};

/** Strips wrapper prefixes that torch adds to state-dict keys (DataParallel `module.`, torch.compile `_orig_mod.`). */
function canonical(name: string): string {
  let n = name;
  for (;;) {
    const next = n.replace(/^(module\.|_orig_mod\.)/, '');
    if (next === n) return n;
    n = next;
  }
}

function build(o: Opened, path: string, opts: LoadSaeOptions): SaeParts {
  const byName = new Map([...o.tensors].map(([n, t]) => [canonical(n), t] as const));
  const naming: Naming | null = byName.has('W_enc')
    ? 'saelens'
    : byName.has('encoder_linear.weight')
      ? 'goodfire'
      : null;
  const found = () => [...o.tensors.keys()].join(', ') || 'none';
  if (!naming)
    throw new InputError(
      `${o.weightFile}: no encoder tensor (expected W_enc or encoder_linear.weight; found ${found()})`,
    );
  const nameOf = (saeLensName: string) => NAMES[naming][saeLensName] ?? saeLensName;
  const get = (saeLensName: string): StoredTensor => {
    const t = byName.get(nameOf(saeLensName));
    if (!t) throw new InputError(`${o.weightFile}: tensor ${nameOf(saeLensName)} not found (found ${found()})`);
    return t;
  };
  const enc = get('W_enc');
  if (enc.shape.length !== 2) throw new InputError(`${enc.what}: shape [${enc.shape}], expected a matrix`);
  // SAELens naming stores W_enc as [d_in, d_sae]; Goodfire's nn.Linear weight is [d_sae, d_in].
  const encLatentAxis = naming === 'saelens' ? 1 : 0;
  const dSae = o.dims?.dSae ?? enc.shape[encLatentAxis];
  const dIn = o.dims?.dIn ?? enc.shape[1 - encLatentAxis];
  const encShape = naming === 'saelens' ? [dIn, dSae] : [dSae, dIn];
  const encMeaning = naming === 'saelens' ? '[d_in, d_sae]' : '[d_sae, d_in]';
  const decMeaning = naming === 'saelens' ? '[d_sae, d_in]' : '[d_in, d_sae]';
  // kept as [d_in, d_sae] (a latent block is a column slice) and [d_sae, d_in] (active rows are gathered)
  let encoder = readMatrix(enc, naming === 'saelens' ? 0 : 1, encShape, encMeaning);
  let decoder = readMatrix(get('W_dec'), naming === 'saelens' ? 0 : 1, [...encShape].reverse(), decMeaning);
  let bDec = readVector(get('b_dec'), dIn, '[d_in]');
  if (o.hook?.unscaledEmbedding) {
    // trained on embeddings before Gemma's √d_model scale; read at hook_embed, after it
    const s = Math.sqrt(dIn);
    encoder = scaled(encoder, 1 / s);
    decoder = scaled(decoder, s);
    bDec = bDec.map((x) => x * s);
  }

  const activation = chooseActivation(o, byName, opts, dSae);
  const vectors: Record<string, Float32Array> = {};
  for (const [key, spec] of Object.entries(architecture(activation).vectors)) {
    const hit = spec.stored.find((s) => byName.has(nameOf(s.name)));
    if (!hit)
      throw new InputError(
        `${o.weightFile}: tensor ${spec.stored.map((s) => nameOf(s.name)).join(' or ')} not found, needed by a ${activation.kind} SAE (found ${found()})`,
      );
    const v = readVector(get(hit.name), dSae, '[d_sae]');
    vectors[key] = hit.map ? v.map(hit.map) : v;
  }

  const hash = opts.hash ?? true;
  const files = [o.weightFile, ...o.extraFiles].map((f) =>
    hash ? { path: f, ...sha256File(f) } : { path: f, bytes: fileSize(f), sha256: null },
  );
  return {
    encoder,
    decoder,
    bDec,
    activation,
    vectors: vectors as LatentVectors,
    applyBDecToInput: opts.applyBDecToInput ?? o.applyBDecToInput ?? false,
    info: {
      format: o.format,
      path,
      weightDtype: encoder.dtype,
      files,
      ...(o.hook ? { hookName: o.hook.name, hookSource: o.hook.source } : {}),
    },
  };
}

/** A weight matrix times s, in f32. */
function scaled(m: WeightMatrix, s: number): WeightMatrix {
  return new WeightMatrix(
    'F32',
    m.rows,
    m.cols,
    m.columnRangeF32(0, m.cols).map((x) => x * s),
  );
}

function chooseActivation(
  o: Opened,
  byName: Map<string, StoredTensor>,
  opts: LoadSaeOptions,
  dSae: number,
): Activation {
  const what = `${basename(o.weightFile)}`;
  if (opts.activation === 'topk' || (!opts.activation && opts.k !== undefined)) {
    const k = opts.k ?? (o.activation?.kind === 'topk' ? o.activation.k : undefined);
    if (!Number.isInteger(k) || (k as number) < 1 || (k as number) > dSae)
      throw new InputError(`${what}: TopK needs k as an integer in 1..${dSae}, got ${k}`);
    return { kind: 'topk', k: k as number };
  }
  if (opts.activation) return { kind: opts.activation };
  if (o.activation) return o.activation;
  // No config: a tensor only one architecture has names it (threshold: JumpReLU, r_mag: gated); else ReLU (Goodfire, plain ReLU SAEs).
  const implied = ACTIVATION_KINDS.find((kind) => architecture({ kind }).implied?.some((n) => byName.has(n)));
  return implied === undefined || implied === 'topk' ? { kind: 'relu' } : { kind: implied };
}
