"""PyTorch peer for bench/forward and bench/forward/sizes.ts: prefill and greedy decode timings on the same
checkpoint and ids, or, where DIR holds only a config.json (sizes.ts: a paper model's exact shapes), on random
weights of that config made directly on the device in DTYPE (the timing does not depend on the values).
Usage: peer_torch.py DIR PROMPT_LEN STEPS BATCH THREADS [DEVICE cpu|cuda] [DTYPE float32|bfloat16] [DECODE_PROMPT 32]
Prefill: one PROMPT_LEN-token prompt. Decode: BATCH prompts of DECODE_PROMPT tokens, STEPS new tokens each; the
rate counts every new token over the whole generate call (prompt prefill included)."""
import glob
import json
import os
import sys
import time

import torch
import transformers

model_dir, prompt_len, decode_steps, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(int(sys.argv[5]))
device = sys.argv[6] if len(sys.argv) > 6 else "cpu"
dtype = getattr(torch, sys.argv[7] if len(sys.argv) > 7 else "float32")
decode_prompt = int(sys.argv[8]) if len(sys.argv) > 8 else 32
if glob.glob(os.path.join(model_dir, "*.safetensors")):
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(device)
else:
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    cls = getattr(transformers, cfg["architectures"][0])
    torch.manual_seed(0)
    torch.set_default_dtype(dtype)
    with torch.device(device):
        model = cls(cls.config_class(**cfg))
model.eval()
g = torch.Generator().manual_seed(0)
ids = torch.randint(3, model.config.vocab_size, (1, prompt_len), generator=g).to(device)
short = torch.randint(3, model.config.vocab_size, (batch, decode_prompt), generator=g).to(device)
sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)


def decode(steps):
    return model.generate(short, attention_mask=torch.ones_like(short), do_sample=False, max_new_tokens=steps,
                          min_new_tokens=steps, pad_token_id=0)


with torch.inference_mode():
    model(ids)  # warm-up
    if device == "cuda":
        decode(8)  # warm-up (kernel selection)
    sync()
    t0 = time.perf_counter()
    model(ids)
    sync()
    prefill = time.perf_counter() - t0
    t0 = time.perf_counter()
    decode(decode_steps)
    sync()
    total = time.perf_counter() - t0
print(json.dumps({"prefill_tok_s": prompt_len / prefill, "decode_tok_s": batch * decode_steps / total,
                  "threads": torch.get_num_threads(), "device": device, "dtype": str(dtype).removeprefix("torch."),
                  "gpu": torch.cuda.get_device_name() if device == "cuda" else None,
                  "peak_bytes": torch.cuda.max_memory_allocated() if device == "cuda" else None}))
