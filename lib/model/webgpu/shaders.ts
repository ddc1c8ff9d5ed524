// WGSL of the decoder's kernels. Every kernel computes each output from its own row's data in an order fixed by
// the model's shapes alone (never by how many rows a step has), so a row gets the same bits in any batch:
// - linear: y = x·Wᵀ for weights stored [out, in] in f32, bf16, f16 (two per u32) or FP8 E4M3 (four per u32,
//   times a per-row or per-tensor scale), widened in the shader, accumulated in f32. 32 lanes split the input
//   width in units of 4 and add their partial sums in a fixed tree; a workgroup computes 16 outputs of 4 rows
//   (a GEMV at decode) or, for steps of many rows, of 32 rows, so the weights stream once per 4 or per 32 rows.
//   Both are the same code with the same per-output order (lane partials, then the tree), so a row's outputs
//   are the same bits whichever a step uses. The input may be RMS-normalised on the fly, and
//   the epilogue may add a bias, soft-cap, add into the residual stream, apply RoPE and write the KV cache (the
//   q/k/v projection, outputs permuted so each rotary pair is adjacent), or gate (SwiGLU/GeGLU, gate and up
//   rows interleaved).
// - attention: one workgroup per (token, head) over the token's own cache slot, keys in tiles of 64 with an
//   online softmax (sliding window and Gemma-2's soft-cap).
// - the unfused pieces (rmsnorm, rope + cache write, gating, residual add, post-norm + add) do the same
//   arithmetic as the fused epilogues, for hook points between them and for testing the fusion.

/**
 * The step buffer (u32): [0] tokens, [1] rows, [2] positions per cache slot, [3] where a layer's values start in its
 * cache buffer (keys first); from 4: each token's slot, then its position, then each row's last token.
 */
export const stepLayout = (mcap: number) => ({ slot: 4, pos: 4 + mcap, last: 4 + 2 * mcap, words: 4 + 3 * mcap });

export type Dtype = 'f32' | 'bf16' | 'f16' | 'fp8';
/** 32-bit words per unit of 4 weights. */
export const WORDS_PER_UNIT: Record<Dtype, number> = { f32: 4, bf16: 2, f16: 2, fp8: 1 };

export interface ModelShape {
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  eps: number;
  /** Tokens a step may hold (buffer sizes). */
  mcap: number;
}

const f = (x: number) => {
  const s = String(x);
  return /[.e]/.test(s) ? s : `${s}.0`;
};

/** What a linear kernel reads: x [rows, K] as is, or h RMS-normalised with a norm weight. */
export type LinearInput = 'x' | 'norm';
export type Epilogue =
  | { kind: 'store'; width: number; softcap: number | null }
  | { kind: 'residual' }
  | { kind: 'qkv'; scale: number }
  | { kind: 'gate'; act: 'silu' | 'gelu_tanh'; width: number };

export interface LinearSpec {
  K: number;
  /** Output columns of this block, and the block's first column in the whole matrix. */
  N: number;
  col0: number;
  dtype: Dtype;
  /** FP8: one scale per output row, or one for the tensor. */
  scale: 'row' | 'tensor' | null;
  bias: boolean;
  input: LinearInput;
  /** Input rows are the step's rows' last tokens (the lm_head at generation). */
  gather: boolean;
  epilogue: Epilogue;
  /** Rows a workgroup computes: 4 (GEMV) or LINEAR_TILE_ROWS (each weight read once per that many rows). */
  tileRows: number;
}

/** Rows of the many-row tile; the GEMV's 4 rows and the tile's partial sums are reduced 4 rows at a time. */
export const LINEAR_TILE_ROWS = 32;
export const LINEAR_GEMV_ROWS = 4;
/** Outputs a linear workgroup computes (8 groups of 32 lanes, 2 outputs each). */
export const LINEAR_COLS = 16;
const RB = LINEAR_GEMV_ROWS;
const GROUPS = 8;
const LANES = 32;

const dequant = (s: LinearSpec) => {
  switch (s.dtype) {
    case 'f32':
      return `fn w4(row: u32, u: u32) -> vec4<f32> { return w[row * UNITS + u]; }`;
    case 'bf16':
      return `fn w4(row: u32, u: u32) -> vec4<f32> {
  let p = w[row * UNITS + u];
  return vec4<f32>(bitcast<f32>(p.x << 16u), bitcast<f32>(p.x & 0xffff0000u), bitcast<f32>(p.y << 16u), bitcast<f32>(p.y & 0xffff0000u));
}`;
    case 'f16':
      return `fn w4(row: u32, u: u32) -> vec4<f32> {
  let p = w[row * UNITS + u];
  return vec4<f32>(unpack2x16float(p.x), unpack2x16float(p.y));
}`;
    case 'fp8':
      return `fn e4m3(b: u32) -> f32 {
  let sign = (b & 0x80u) << 24u;
  let e = (b >> 3u) & 0xfu;
  let m = b & 7u;
  if (e == 0u) { return bitcast<f32>(sign | bitcast<u32>(f32(m) * 0.001953125)); }
  return bitcast<f32>(sign | ((e + 120u) << 23u) | (m << 20u));
}
fn w4(row: u32, u: u32) -> vec4<f32> {
  let p = w[row * UNITS + u];
  let s = scales[${s.scale === 'row' ? 'row' : '0u'}];
  return vec4<f32>(e4m3(p & 0xffu) * s, e4m3((p >> 8u) & 0xffu) * s, e4m3((p >> 16u) & 0xffu) * s, e4m3(p >> 24u) * s);
}`;
  }
};

/**
 * 1/rms of row `row` of `input` [*, K] (read by the shader's `inputAt`): 256 threads, partial sums reduced in a
 * fixed tree (every norm reduces so).
 */
const rmsReduce = `fn rowInvRms(row: u32, t: u32) -> f32 {
  var s = 0.0;
  for (var k = t; k < K; k += 256u) { let v = inputAt(row * K + k); s += v * v; }
  ssq[t] = s;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride >>= 1u) {
    if (t < stride) { ssq[t] += ssq[t + stride]; }
    workgroupBarrier();
  }
  let r = inverseSqrt(ssq[0] / f32(K) + EPS);
  workgroupBarrier();
  return r;
}`;

/** The lines of `line(i)` for i < n (the per-row code of a linear, unrolled so each row's sums stay in registers). */
const rowsOf = (n: number, line: (i: number) => string, indent = 2) =>
  Array.from({ length: n }, (_, i) => line(i)).join(`\n${' '.repeat(indent)}`);

/** The WGSL of a linear block, and the buffers it binds in order. */
export function linearShader(s: LinearSpec, m: ModelShape): { code: string; bindings: string[] } {
  const bindings = ['step', 'input', 'w'];
  if (s.scale) bindings.push('scales');
  if (s.bias) bindings.push('bias');
  if (s.input === 'norm') bindings.push('norm');
  const ep = s.epilogue;
  if (ep.kind === 'store') bindings.push('out');
  if (ep.kind === 'residual') bindings.push('h');
  if (ep.kind === 'qkv') bindings.push('q', 'kv', 'rope');
  if (ep.kind === 'gate') bindings.push('out');
  const wType = s.dtype === 'f32' ? 'vec4<f32>' : s.dtype === 'fp8' ? 'u32' : 'vec2<u32>';
  const decl = (name: string, type: string, rw = false) =>
    `@group(0) @binding(${bindings.indexOf(name)}) var<storage, ${rw ? 'read_write' : 'read'}> ${name}: ${type};`;
  const L = stepLayout(m.mcap);
  const code = `
${decl('step', 'array<u32>')}
${decl('input', 'array<vec4<f32>>')}
${decl('w', `array<${wType}>`)}
${s.scale ? decl('scales', 'array<f32>') : ''}
${s.bias ? decl('bias', 'array<f32>') : ''}
${s.input === 'norm' ? decl('norm', 'array<f32>') : ''}
${ep.kind === 'store' || ep.kind === 'gate' ? decl('out', 'array<f32>', true) : ''}
${ep.kind === 'residual' ? decl('h', 'array<f32>', true) : ''}
${ep.kind === 'qkv' ? `${decl('q', 'array<f32>', true)}\n${decl('kv', 'array<f32>', true)}\n${decl('rope', 'array<f32>')}` : ''}
const K: u32 = ${s.K}u;
const N: u32 = ${s.N}u;
const COL0: u32 = ${s.col0}u;
const UNITS: u32 = ${s.K / 4}u;
const MT: u32 = ${s.tileRows}u;
const RB: u32 = ${RB}u;
const EPS: f32 = ${f(m.eps)};
var<workgroup> red: array<f32, ${GROUPS * LANES * RB * 2}>;
var<workgroup> ssq: array<f32, 256>;
var<workgroup> inv: array<f32, ${s.tileRows}>;
${dequant(s)}
fn inputAt(i: u32) -> f32 { return input[i / 4u][i % 4u]; }
fn inputRow(m: u32) -> u32 { return ${s.gather ? `step[${L.last}u + m]` : 'm'}; }
${epilogueCode(s, m)}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let rows = step[${s.gather ? 1 : 0}u];
  let m0 = wg.x * MT;
  let g = t / ${LANES}u;
  let lane = t % ${LANES}u;
  let n = wg.y * ${LINEAR_COLS}u + g * 2u;
  ${
    s.input === 'norm'
      ? `// 1/rms of the tile's rows, rowInvRms's sums in its order, each group of 32 lanes taking ${Math.ceil(s.tileRows / GROUPS)} row(s):
  // lane holds the partial sums of rowInvRms's threads lane + 32j, j < 8, and adds them as its tree's first 3 levels do
  for (var rr = 0u; rr < ${Math.ceil(s.tileRows / GROUPS)}u; rr++) {
    let mi = g * ${Math.ceil(s.tileRows / GROUPS)}u + rr;
    let at = inputRow(min(m0 + min(mi, MT - 1u), max(rows, 1u) - 1u)) * K;
    ${rowsOf(
      8,
      (j) => `var s${j} = 0.0;
    for (var k = lane + ${32 * j}u; k < K; k += 256u) { let v = inputAt(at + k); s${j} += v * v; }`,
      4,
    )}
    s0 += s4; s1 += s5; s2 += s6; s3 += s7;
    s0 += s2; s1 += s3;
    s0 += s1;
    ssq[t] = s0;
    workgroupBarrier();
    for (var stride = 16u; stride > 0u; stride >>= 1u) {
      if (lane < stride) { ssq[t] += ssq[t + stride]; }
      workgroupBarrier();
    }
    if (lane == 0u && mi < MT) { inv[mi] = inverseSqrt(ssq[t] / f32(K) + EPS); }
  }
  workgroupBarrier();`
      : ''
  }
  ${rowsOf(
    s.tileRows,
    (mi) => `var a${2 * mi} = 0.0;
  var a${2 * mi + 1} = 0.0;`,
  )}
  if (n < N) {
    let second = n + 1u < N;
    for (var u = lane; u < UNITS; u += ${LANES}u) {
      let w0 = w4(n, u);
      let w1 = select(vec4<f32>(0.0), w4(min(n + 1u, N - 1u), u), second);
      ${s.input === 'norm' ? 'let nv = vec4<f32>(norm[4u * u], norm[4u * u + 1u], norm[4u * u + 2u], norm[4u * u + 3u]);' : ''}
      ${rowsOf(
        s.tileRows,
        (mi) => `if (m0 + ${mi}u < rows) {
        let x${mi} = input[inputRow(m0 + ${mi}u) * UNITS + u]${s.input === 'norm' ? ` * inv[${mi}] * nv` : ''};
        a${2 * mi} += dot(x${mi}, w0);
        a${2 * mi + 1} += dot(x${mi}, w1);
      }`,
        6,
      )}
    }
  }
  // each output's 32 lane partials added in the same tree, RB rows at a time (the workgroup memory of 4 rows)
  ${rowsOf(
    s.tileRows / RB,
    (b) => `${rowsOf(RB * 2, (i) => `red[t * ${RB * 2}u + ${i}u] = a${b * RB * 2 + i};`)}
  workgroupBarrier();
  for (var stride = ${LANES / 2}u; stride > 0u; stride >>= 1u) {
    if (lane < stride) {
      for (var i = 0u; i < RB * 2u; i++) { red[t * RB * 2u + i] += red[(t + stride) * RB * 2u + i]; }
    }
    workgroupBarrier();
  }
  if (lane < RB && n < N && m0 + ${b * RB}u + lane < rows) {
    let base = g * ${LANES}u * RB * 2u + lane * 2u;
    finish(m0 + ${b * RB}u + lane, n, red[base], red[base + 1u], n + 1u < N);
  }
  workgroupBarrier();`,
  )}
}
`;
  return { code, bindings };
}

const BIAS = (s: LinearSpec, i: string) => (s.bias ? ` + bias[${i}]` : '');

function epilogueCode(s: LinearSpec, m: ModelShape): string {
  const ep = s.epilogue;
  const L = stepLayout(m.mcap);
  switch (ep.kind) {
    case 'store': {
      const cap =
        ep.softcap === null
          ? ''
          : `y0 = tanh(y0 / ${f(ep.softcap)}) * ${f(ep.softcap)}; y1 = tanh(y1 / ${f(ep.softcap)}) * ${f(ep.softcap)};`;
      return `fn finish(m: u32, n: u32, a0: f32, a1: f32, second: bool) {
  var y0 = a0${BIAS(s, 'n')};
  var y1 = a1${s.bias ? ' + bias[min(n + 1u, N - 1u)]' : ''};
  ${cap}
  out[m * ${ep.width}u + COL0 + n] = y0;
  if (second) { out[m * ${ep.width}u + COL0 + n + 1u] = y1; }
}`;
    }
    case 'residual':
      return `fn finish(m: u32, n: u32, a0: f32, a1: f32, second: bool) {
  h[m * ${m.hidden}u + COL0 + n] += a0${BIAS(s, 'n')};
  if (second) { h[m * ${m.hidden}u + COL0 + n + 1u] += a1${s.bias ? ' + bias[n + 1u]' : ''}; }
}`;
    case 'gate':
      return `fn act(g: f32) -> f32 {
  ${ep.act === 'silu' ? 'return g / (1.0 + exp(-g));' : 'return 0.5 * g * (1.0 + tanh(0.7978845608028654 * (g + 0.044715 * g * g * g)));'}
}
fn finish(m: u32, n: u32, a0: f32, a1: f32, second: bool) {
  out[m * ${ep.width}u + (COL0 + n) / 2u] = act(a0${BIAS(s, 'n')}) * (a1${s.bias ? ' + bias[n + 1u]' : ''});
}`;
    case 'qkv':
      return qkvEpilogue(s, m, ep.scale, L);
  }
}

/**
 * The q/k/v projection's epilogue: columns come permuted so that within each head output 2i is dimension i and
 * 2i + 1 is dimension i + head_dim/2 (the pair RoPE rotates); v keeps its order. q is rotated and scaled into
 * the q buffer, k rotated and v copied into the token's cache slot at its position.
 */
function qkvEpilogue(s: LinearSpec, m: ModelShape, scale: number, L: ReturnType<typeof stepLayout>): string {
  const { heads: H, kvHeads: KV, headDim: hd } = m;
  const half = hd / 2;
  return `fn finish(m: u32, n: u32, a0: f32, a1: f32, second: bool) {
  let j = COL0 + n;
  let y0 = a0${BIAS(s, 'n')};
  let y1 = a1${s.bias ? ' + bias[n + 1u]' : ''};
  let slot = step[${L.slot}u + m];
  let pos = step[${L.pos}u + m];
  let capacity = step[2];
  if (j < ${H * hd}u) {
    let head = j / ${hd}u;
    let i = (j % ${hd}u) / 2u;
    let c = rope[(pos * ${half}u + i) * 2u];
    let sn = rope[(pos * ${half}u + i) * 2u + 1u];
    q[m * ${H * hd}u + head * ${hd}u + i] = (y0 * c - y1 * sn) * ${f(scale)};
    q[m * ${H * hd}u + head * ${hd}u + i + ${half}u] = (y1 * c + y0 * sn) * ${f(scale)};
  } else if (j < ${(H + KV) * hd}u) {
    let jj = j - ${H * hd}u;
    let head = jj / ${hd}u;
    let i = (jj % ${hd}u) / 2u;
    let c = rope[(pos * ${half}u + i) * 2u];
    let sn = rope[(pos * ${half}u + i) * 2u + 1u];
    let at = ((slot * capacity + pos) * ${KV}u + head) * ${hd}u;
    kv[at + i] = y0 * c - y1 * sn;
    kv[at + i + ${half}u] = y1 * c + y0 * sn;
  } else {
    let jj = j - ${(H + KV) * hd}u;
    let at = step[3] + (slot * capacity + pos) * ${KV * hd}u + jj;
    kv[at] = y0;
    kv[at + 1u] = y1;
  }
}`;
}

/** Attention of each token over its own slot: one workgroup per (token, head), keys in tiles of 64. */
export function attentionShader(m: ModelShape, window: number | null, softcap: number | null): string {
  const { heads: H, kvHeads: KV, headDim: hd } = m;
  const L = stepLayout(m.mcap);
  const per = Math.ceil(hd / 64);
  return `
@group(0) @binding(0) var<storage, read> step: array<u32>;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> kv: array<f32>;
@group(0) @binding(3) var<storage, read_write> z: array<f32>;
const HD: u32 = ${hd}u;
const TILE: u32 = 64u;
const MASKED: f32 = -3.0e38;
var<workgroup> qs: array<f32, ${hd}>;
var<workgroup> pe: array<f32, 64>;
var<workgroup> shared_pos: u32;
var<workgroup> shared_rows: u32;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let m = wg.x;
  let head = wg.y;
  if (t == 0u) {
    shared_rows = step[0];
    shared_pos = step[${L.pos}u + min(m, ${m.mcap - 1}u)];
  }
  let rows = workgroupUniformLoad(&shared_rows);
  if (m >= rows) { return; }
  let p = workgroupUniformLoad(&shared_pos);
  let slot = step[${L.slot}u + m];
  let capacity = step[2];
  let values = step[3];
  let group = head / ${H / KV}u;
  for (var i = t; i < HD; i += 64u) { qs[i] = q[m * ${H * hd}u + head * HD + i]; }
  workgroupBarrier();
  let lo = ${window === null ? '0u' : `select(0u, p + 1u - ${window}u, p + 1u > ${window}u)`};
  var mx = MASKED;
  var l = 0.0;
  var acc: array<f32, ${per}>;
  for (var s0 = (lo / TILE) * TILE; s0 <= p; s0 += TILE) {
    let s = s0 + t;
    var score = MASKED;
    if (s >= lo && s <= p) {
      let at = ((slot * capacity + s) * ${KV}u + group) * HD;
      var d = 0.0;
      for (var i = 0u; i < HD; i++) { d += qs[i] * kv[at + i]; }
      ${softcap === null ? 'score = d;' : `score = tanh(d / ${f(softcap)}) * ${f(softcap)};`}
    }
    pe[t] = score;
    workgroupBarrier();
    var tm = mx;
    for (var j = 0u; j < TILE; j++) { tm = max(tm, pe[j]); }
    workgroupBarrier();
    pe[t] = select(0.0, exp(score - tm), score > MASKED);
    workgroupBarrier();
    let corr = exp(mx - tm);
    let last = min(TILE, p + 1u - s0);
    var tl = 0.0;
    for (var j = 0u; j < last; j++) { tl += pe[j]; }
    l = l * corr + tl;
    for (var r = 0u; r < ${per}u; r++) {
      let i = t + r * 64u;
      if (i < HD) {
        var a = 0.0;
        for (var j = 0u; j < last; j++) {
          a += pe[j] * kv[values + ((slot * capacity + s0 + j) * ${KV}u + group) * HD + i];
        }
        acc[r] = acc[r] * corr + a;
      }
    }
    mx = tm;
    workgroupBarrier();
  }
  for (var r = 0u; r < ${per}u; r++) {
    let i = t + r * 64u;
    if (i < HD) { z[m * ${H * hd}u + head * HD + i] = acc[r] / l; }
  }
}
`;
}

/** out = rmsnorm(src)·w for every token (the unfused norm; the fused linear kernels reduce the same way). */
export function rmsnormShader(m: ModelShape, width: number, mode: 'store' | 'addInto'): string {
  return `
@group(0) @binding(0) var<storage, read> step: array<u32>;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read> norm: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
const K: u32 = ${width}u;
const EPS: f32 = ${f(m.eps)};
var<workgroup> ssq: array<f32, 256>;
var<workgroup> shared_rows: u32;
fn inputAt(i: u32) -> f32 { return input[i]; }
${rmsReduce}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  if (t == 0u) { shared_rows = step[0]; }
  let rows = workgroupUniformLoad(&shared_rows);
  let row = wg.x;
  if (row >= rows) { return; }
  let r = rowInvRms(row, t);
  for (var k = t; k < K; k += 256u) {
    ${mode === 'store' ? 'out[row * K + k] = input[row * K + k] * r * norm[k];' : 'out[row * K + k] += input[row * K + k] * r * norm[k];'}
  }
}
`;
}

/** h += y, every element of the step's tokens. */
export function addShader(width: number): string {
  return `
@group(0) @binding(0) var<storage, read> step: array<u32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> h: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x + id.y * 65535u * 256u;
  if (i < step[0] * ${width}u) { h[i] += y[i]; }
}
`;
}

/**
 * The unfused second half of a paired epilogue (RoPE + cache write, or gating): reads a stored [tokens, N]
 * projection and applies the same `finish` the fused linear kernel applies, pair by pair.
 */
export function pairsShader(s: LinearSpec, m: ModelShape): { code: string; bindings: string[] } {
  const ep = s.epilogue;
  if (ep.kind !== 'qkv' && ep.kind !== 'gate') throw new Error('pairsShader: a qkv or gate epilogue');
  const spec: LinearSpec = { ...s, bias: false, col0: 0 };
  const outs = ep.kind === 'qkv' ? ['q', 'kv', 'rope'] : ['out'];
  const bindings = ['step', 'src', ...outs];
  const decl = (name: string, type: string, rw: boolean) =>
    `@group(0) @binding(${bindings.indexOf(name)}) var<storage, ${rw ? 'read_write' : 'read'}> ${name}: ${type};`;
  const code = `
${decl('step', 'array<u32>', false)}
${decl('src', 'array<f32>', false)}
${outs.map((o) => decl(o, 'array<f32>', o !== 'rope')).join('\n')}
const N: u32 = ${s.N}u;
const COL0: u32 = 0u;
${epilogueCode(spec, m)}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let n = 2u * id.x;
  let m = id.y;
  if (m >= step[0] || n >= N) { return; }
  finish(m, n, src[m * N + n], src[m * N + n + 1u], true);
}
`;
  return { code, bindings };
}

/** Candidates the sampler ranks on the device; a row that needs more falls back to sampling.ts in JS. */
export const SAMPLE_CANDIDATES = 512;
/** Candidates gathered when there is no top-k: the 256 best (and their ties). */
const SAMPLE_DEFAULT_RANK = 256;
/** Words per row at the head of the sampler's parameters. */
export const SAMPLE_PARAM_WORDS = 8;

/**
 * One token per row on the device, by sampling.ts's rule: repetition penalty from the slot's seen-token bitmap,
 * greedy argmax, else: the max, the top-k threshold (or the 256th best) found by a 4-pass radix select over
 * order-preserving keys, the candidates at or above it ranked by a bitonic sort (score descending, index
 * ascending), then the top-p cut and the draw with the row's uniform. Writes [token, 0], or [_, 1] when the
 * kept set or the draw reaches past the candidates (JS takes the row from the logits).
 * Params per row (u32 ×8): temperature (f32 bits), top-k, top-p (f32), penalty (f32), u (f32), whether to
 * clear the slot's bitmap first, then the offset and count of the token ids to add to it (after the heads).
 */
export function samplerShader(m: ModelShape, vocab: number): string {
  const L = stepLayout(m.mcap);
  const W = Math.ceil(vocab / 32);
  const C = SAMPLE_CANDIDATES;
  const P = SAMPLE_PARAM_WORDS;
  return `
@group(0) @binding(0) var<storage, read> step: array<u32>;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> params: array<u32>;
@group(0) @binding(3) var<storage, read_write> seen: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read_write> out: array<u32>;
const V: u32 = ${vocab}u;
const W: u32 = ${W}u;
const C: u32 = ${C}u;
var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> count: atomic<u32>;
var<workgroup> ckey: array<u32, ${C}>;
var<workgroup> cidx: array<u32, ${C}>;
var<workgroup> rv: array<f32, 256>;
var<workgroup> ri: array<u32, 256>;
var<workgroup> shared_u: array<u32, 4>;
var<workgroup> shared_f: f32;
var<workgroup> nonfinite: atomic<u32>;

fn key(s: f32) -> u32 {
  let b = bitcast<u32>(s);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}
fn unkey(k: u32) -> f32 {
  return bitcast<f32>(select(~k, k & 0x7fffffffu, (k & 0x80000000u) != 0u));
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let r = wg.x;
  if (t == 0u) { shared_u[0] = step[1]; }
  let rows = workgroupUniformLoad(&shared_u[0]);
  if (r >= rows) { return; }
  let slot = step[${L.slot}u + step[${L.last}u + r]];
  let head = r * ${P}u;
  let T = bitcast<f32>(params[head]);
  let topK = params[head + 1u];
  let topP = bitcast<f32>(params[head + 2u]);
  let penalty = bitcast<f32>(params[head + 3u]);
  let u = bitcast<f32>(params[head + 4u]);
  // the slot's seen-token set: emptied for a new sequence, then this step's new tokens added
  if (params[head + 5u] != 0u) {
    for (var i = t; i < W; i += 256u) { atomicStore(&seen[slot * W + i], 0u); }
  }
  storageBarrier();
  let first = params[head + 6u];
  let added = params[head + 7u];
  for (var j = t; j < added; j += 256u) {
    let id = params[first + j];
    atomicOr(&seen[slot * W + id / 32u], 1u << (id % 32u));
  }
  storageBarrier();
  workgroupBarrier();
  let base = r * V;
  if (t == 0u) { atomicStore(&nonfinite, 0u); }
  workgroupBarrier();
  // the max score (lowest index among equals); a NaN or Inf logit (all exponent bits set: checked on the
  // bits, since WGSL may assume floats are finite) sends the row to the JS rule, which refuses it
  var best = -3.4e38;
  var besti = 0u;
  for (var i = t; i < V; i += 256u) {
    if ((bitcast<u32>(logits[base + i]) & 0x7f800000u) == 0x7f800000u) { atomicStore(&nonfinite, 1u); }
    let s = score(base, slot, i, penalty);
    if (s > best) { best = s; besti = i; }
  }
  rv[t] = best;
  ri[t] = besti;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride >>= 1u) {
    if (t < stride) {
      let a = rv[t];
      let b = rv[t + stride];
      if (b > a || (b == a && ri[t + stride] < ri[t])) { rv[t] = b; ri[t] = ri[t + stride]; }
    }
    workgroupBarrier();
  }
  if (t == 0u) { shared_u[2] = atomicLoad(&nonfinite); }
  if (workgroupUniformLoad(&shared_u[2]) != 0u) {
    if (t == 0u) { out[r * 2u + 1u] = 1u; }
    return;
  }
  let top = rv[0];
  if (t == 0u) { shared_f = T; shared_u[1] = topK; }
  let temperature = workgroupUniformLoad(&shared_f);
  if (temperature == 0.0) {
    if (t == 0u) { out[r * 2u] = ri[0]; out[r * 2u + 1u] = 0u; }
    return;
  }
  let kSel = workgroupUniformLoad(&shared_u[1]);
  if (kSel > C && kSel < V) {
    if (t == 0u) { out[r * 2u + 1u] = 1u; }
    return;
  }
  workgroupBarrier();
  // the total mass, over every token (no top-k) — a top-k total is summed over the candidates below
  var z = 0.0;
  for (var i = t; i < V; i += 256u) { z += exp((score(base, slot, i, penalty) - top) / temperature); }
  rv[t] = z;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride >>= 1u) {
    if (t < stride) { rv[t] += rv[t + stride]; }
    workgroupBarrier();
  }
  let zAll = rv[0];
  // radix select: the key of the need-th best score
  if (t == 0u) {
    shared_u[1] = select(${SAMPLE_DEFAULT_RANK}u, topK, topK > 0u && topK <= C);
    shared_u[2] = 0u;
    shared_u[3] = 0u;
  }
  workgroupBarrier();
  for (var round = 0u; round < 4u; round++) {
    let shift = 24u - 8u * round;
    atomicStore(&hist[t], 0u);
    workgroupBarrier();
    let prefix = shared_u[2];
    let mask = shared_u[3];
    for (var i = t; i < V; i += 256u) {
      let k = key(score(base, slot, i, penalty));
      if ((k & mask) == prefix) { atomicAdd(&hist[(k >> shift) & 255u], 1u); }
    }
    workgroupBarrier();
    if (t == 0u) {
      var need = shared_u[1];
      var d = 255u;
      loop {
        let c = atomicLoad(&hist[d]);
        if (c >= need || d == 0u) { break; }
        need -= c;
        d -= 1u;
      }
      shared_u[1] = need;
      shared_u[2] = prefix | (d << shift);
      shared_u[3] = mask | (255u << shift);
    }
    workgroupBarrier();
  }
  let threshold = shared_u[2];
  // the candidates: every score at or above the threshold
  if (t == 0u) { atomicStore(&count, 0u); }
  for (var j = t; j < C; j += 256u) { ckey[j] = 0u; cidx[j] = 0xffffffffu; }
  workgroupBarrier();
  for (var i = t; i < V; i += 256u) {
    let k = key(score(base, slot, i, penalty));
    if (k >= threshold) {
      let at = atomicAdd(&count, 1u);
      if (at < C) { ckey[at] = k; cidx[at] = i; }
    }
  }
  workgroupBarrier();
  if (t == 0u) { shared_u[0] = atomicLoad(&count); }
  let n = workgroupUniformLoad(&shared_u[0]);
  if (n > C) {
    if (t == 0u) { out[r * 2u + 1u] = 1u; }
    return;
  }
  // bitonic sort: key descending, index ascending
  for (var size = 2u; size <= C; size <<= 1u) {
    for (var stride = size >> 1u; stride > 0u; stride >>= 1u) {
      for (var j = t; j < C; j += 256u) {
        let p = j ^ stride;
        if (p > j) {
          let before = ckey[j] > ckey[p] || (ckey[j] == ckey[p] && cidx[j] < cidx[p]);
          let up = (j & size) == 0u;
          if (before != up) {
            let k = ckey[j]; ckey[j] = ckey[p]; ckey[p] = k;
            let x = cidx[j]; cidx[j] = cidx[p]; cidx[p] = x;
          }
        }
      }
      workgroupBarrier();
    }
  }
  if (t != 0u) { return; }
  let topk = topK > 0u && topK < V;
  var total = zAll;
  if (topk) {
    total = 0.0;
    for (var j = 0u; j < n; j++) { total += exp((unkey(ckey[j]) - top) / temperature); }
  }
  // every eligible token is a candidate with top-k, or when the candidates are the whole vocabulary
  let whole = topk || n == V;
  var keep = n;
  var kept = total;
  if (topP < 1.0) {
    keep = 0u;
    kept = 0.0;
    loop {
      if (keep >= n || (keep > 0u && kept >= topP * total)) { break; }
      kept += exp((unkey(ckey[keep]) - top) / temperature);
      keep++;
    }
    if (keep == n && kept < topP * total && !whole) { out[r * 2u + 1u] = 1u; return; }
  }
  var left = u * kept;
  for (var j = 0u; j < keep; j++) {
    left -= exp((unkey(ckey[j]) - top) / temperature);
    if (left < 0.0) { out[r * 2u] = cidx[j]; out[r * 2u + 1u] = 0u; return; }
  }
  if (topP >= 1.0 && !whole) { out[r * 2u + 1u] = 1u; return; }
  out[r * 2u] = cidx[keep - 1u];
  out[r * 2u + 1u] = 0u;
}

fn score(base: u32, slot: u32, i: u32, penalty: f32) -> f32 {
  let x = logits[base + i];
  if (penalty == 1.0 || (atomicLoad(&seen[slot * W + i / 32u]) & (1u << (i % 32u))) == 0u) { return x; }
  return select(x / penalty, x * penalty, x < 0.0);
}
`;
}
