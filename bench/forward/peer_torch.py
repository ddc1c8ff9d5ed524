"""PyTorch peer for bench/forward: prefill and greedy decode timings on the same checkpoint and ids."""
import json
import sys
import time

import torch
from transformers import LlamaForCausalLM

model_dir, prompt_len, decode_steps, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(int(sys.argv[5]))
model = LlamaForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
g = torch.Generator().manual_seed(0)
ids = torch.randint(3, model.config.vocab_size, (1, prompt_len), generator=g)
with torch.inference_mode():
    model(ids[:, :16])  # warm-up
    t0 = time.perf_counter()
    model(ids)
    prefill = time.perf_counter() - t0
    short = torch.randint(3, model.config.vocab_size, (batch, 32), generator=g)
    t0 = time.perf_counter()
    out = model.generate(short, attention_mask=torch.ones_like(short), do_sample=False, max_new_tokens=decode_steps,
                         min_new_tokens=decode_steps, pad_token_id=0)
    total = time.perf_counter() - t0
print(json.dumps({"prefill_tok_s": prompt_len / prefill, "decode_tok_s": batch * decode_steps / total,
                  "threads": torch.get_num_threads()}))
