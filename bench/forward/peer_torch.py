"""PyTorch peer for bench/forward: prefill and greedy decode timings on the same checkpoint and ids.
Usage: peer_torch.py DIR PROMPT_LEN STEPS BATCH THREADS [DEVICE cpu|cuda] [DTYPE float32|bfloat16]"""
import json
import sys
import time

import torch
from transformers import LlamaForCausalLM

model_dir, prompt_len, decode_steps, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(int(sys.argv[5]))
device = sys.argv[6] if len(sys.argv) > 6 else "cpu"
dtype = getattr(torch, sys.argv[7] if len(sys.argv) > 7 else "float32")
model = LlamaForCausalLM.from_pretrained(model_dir, dtype=dtype).to(device).eval()
g = torch.Generator().manual_seed(0)
ids = torch.randint(3, model.config.vocab_size, (1, prompt_len), generator=g).to(device)
short = torch.randint(3, model.config.vocab_size, (batch, 32), generator=g).to(device)
sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)


def decode():
    return model.generate(short, attention_mask=torch.ones_like(short), do_sample=False, max_new_tokens=decode_steps,
                          min_new_tokens=decode_steps, pad_token_id=0)


with torch.inference_mode():
    model(ids)  # warm-up
    if device == "cuda":
        decode()  # warm-up (kernel selection)
    sync()
    t0 = time.perf_counter()
    model(ids)
    sync()
    prefill = time.perf_counter() - t0
    t0 = time.perf_counter()
    decode()
    sync()
    total = time.perf_counter() - t0
print(json.dumps({"prefill_tok_s": prompt_len / prefill, "decode_tok_s": batch * decode_steps / total,
                  "threads": torch.get_num_threads(), "device": device, "dtype": str(dtype).removeprefix("torch."),
                  "gpu": torch.cuda.get_device_name() if device == "cuda" else None}))
