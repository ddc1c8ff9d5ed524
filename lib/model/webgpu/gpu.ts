// Our own use of the WebGPU device tfjs runs on: buffers we allocate once and account for, compute pipelines
// compiled once per shader, bind groups made once per (kernel, buffers), and one command encoder per step that
// records every dispatch into a single compute pass. tfjs's per-op overhead (a uniform buffer, a bind group and
// a shader key per dispatch) is what made decode overhead-bound; here a dispatch is three encoder calls.
// Hooks and read-outs still see tfjs tensors: values cross by buffer copies, ordered by submitting in turn.
import * as tf from '@tensorflow/tfjs';

/** The tfjs WebGPU backend internals we order our work against (tfjs-backend-webgpu 4.x). */
interface TfjsWebgpu {
  device: GPUDevice;
  commandEncoder: GPUCommandEncoder | null;
  tensorMap: { get(id: object): { resource?: GPUBuffer } };
  bufferManager: { numBytesAllocated: number };
  uploadToGPU(id: object): void;
  makeTensorInfo(shape: number[], dtype: 'float32'): { dataId: object; shape: number[]; dtype: 'float32' };
  endComputePassEncoder(): void;
  submitQueue(): void;
}

export interface GpuBuffer {
  /** Unique in this process: bind groups are cached by the buffers they bind. */
  readonly id: number;
  readonly buffer: GPUBuffer;
  readonly bytes: number;
  readonly label: string;
}

const STORAGE = 0x80 | 0x4 | 0x8; // STORAGE | COPY_SRC | COPY_DST
let nextId = 0;

export class Gpu {
  readonly device: GPUDevice;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private live = 0;
  private peak = 0;
  /** Dispatches recorded since the counter was last read (bench/forward prints them per token). */
  dispatches = 0;

  constructor() {
    this.device = this.tfjs().device;
  }

  private tfjs(): TfjsWebgpu {
    return tf.backend() as unknown as TfjsWebgpu;
  }

  /** A storage buffer of `bytes` (rounded up to 4), zero-filled, counted in our device bytes. */
  buffer(bytes: number, label: string): GpuBuffer {
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const buffer = this.device.createBuffer({ size, usage: STORAGE, label });
    this.live += size;
    this.notePeak();
    return { id: nextId++, buffer, bytes: size, label };
  }

  /** A buffer holding `data`. */
  upload(data: ArrayBufferView, label: string): GpuBuffer {
    const b = this.buffer(data.byteLength, label);
    this.write(b, data);
    return b;
  }

  free(b: GpuBuffer): void {
    b.buffer.destroy();
    this.live -= b.bytes;
  }

  write(b: GpuBuffer, data: ArrayBufferView, byteOffset = 0): void {
    // writeBuffer wants a multiple of 4 bytes; our data are 4-byte elements or padded packs.
    this.device.queue.writeBuffer(b.buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Our buffers' bytes, and tfjs's (tensors and its pool). */
  bytes(): number {
    return this.live + this.tfjs().bufferManager.numBytesAllocated;
  }

  /** The most device bytes (ours + tfjs's) seen at any allocation or flush. */
  peakBytes(): number {
    return this.peak;
  }

  resetPeak(): void {
    this.peak = this.bytes();
  }

  private notePeak(): void {
    this.peak = Math.max(this.peak, this.bytes());
  }

  pipeline(code: string): GPUComputePipeline {
    let p = this.pipelines.get(code);
    if (!p) {
      this.device.pushErrorScope('validation');
      const module = this.device.createShaderModule({ code });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      this.compileErrors.push(this.device.popErrorScope());
      this.pipelines.set(code, p);
    }
    return p;
  }

  /** Compilation errors of new pipelines, awaited at the next read (an invalid pipeline would compute nothing). */
  private compileErrors: Promise<GPUError | null>[] = [];

  private async checkCompiled(): Promise<void> {
    const errors = (await Promise.all(this.compileErrors.splice(0))).filter((e) => e !== null);
    if (errors.length) throw new Error(`WebGPU kernel failed to compile: ${errors[0].message}`);
  }

  bindGroup(pipeline: GPUComputePipeline, buffers: GpuBuffer[]): GPUBindGroup {
    return this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: buffers.map((b, binding) => ({ binding, resource: { buffer: b.buffer } })),
    });
  }

  /** Records one dispatch into this step's compute pass. */
  dispatch(pipeline: GPUComputePipeline, group: GPUBindGroup, x: number, y = 1, z = 1): void {
    if (x === 0 || y === 0 || z === 0) return;
    this.encoder ??= this.device.createCommandEncoder();
    this.pass ??= this.encoder.beginComputePass();
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, group);
    this.pass.dispatchWorkgroups(x, y, z);
    this.dispatches++;
  }

  private copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.encoder ??= this.device.createCommandEncoder();
    this.pass?.end();
    this.pass = null;
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Submits what has been recorded. */
  flush(): void {
    this.pass?.end();
    this.pass = null;
    if (this.encoder) this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.notePeak();
  }

  /** tfjs's recorded work, submitted, so that ours comes after it on the queue. */
  private flushTfjs(): void {
    const t = this.tfjs();
    t.endComputePassEncoder();
    if (t.commandEncoder) t.submitQueue();
  }

  /** Bytes [offset, offset + bytes) of a buffer, read back after everything recorded so far. */
  async read(b: GpuBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    await this.checkCompiled();
    const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.copy(b.buffer, offset, staging, 0, bytes);
    this.flush();
    await staging.mapAsync(GPUMapMode.READ);
    const out = staging.getMappedRange().slice(0);
    staging.destroy();
    return out;
  }

  /** A tfjs tensor [rows, cols] with a copy of f32 elements [offset, offset + rows·cols) of `b`. */
  toTensor(b: GpuBuffer, offset: number, rows: number, cols: number): tf.Tensor2D {
    this.flushTfjs();
    const t = this.tfjs();
    const info = t.makeTensorInfo([rows, cols], 'float32');
    t.uploadToGPU(info.dataId);
    const dst = t.tensorMap.get(info.dataId).resource!;
    this.copy(b.buffer, 4 * offset, dst, 0, 4 * rows * cols);
    this.flush();
    return tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor2D;
  }

  /** Copies a tfjs tensor's values into `b` at f32 element `offset` (after tfjs's pending work, before ours). */
  fromTensor(x: tf.Tensor, b: GpuBuffer, offset: number): void {
    this.flush();
    const t = this.tfjs();
    t.uploadToGPU(x.dataId);
    this.flushTfjs();
    this.copy(t.tensorMap.get(x.dataId).resource!, 0, b.buffer, 4 * offset, 4 * x.size);
    this.flush();
  }
}
