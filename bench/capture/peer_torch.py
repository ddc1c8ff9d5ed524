"""PyTorch peer for bench/capture: forward to the feature layer (transformers, a forward hook), SAE encode in
torch, non-zero codes extracted, on the same token ids in the same batches. Prints tokens/s as JSON."""
import json
import sys
import time

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

model_dir, sae_dir, layer, batches_path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
torch.set_num_threads(threads)
model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
model.model.layers = model.model.layers[: layer + 1]  # nothing past the feature layer is needed
w = load_file(f"{sae_dir}/sae_weights.safetensors")
W_enc, b_enc = w["W_enc"].float(), w["b_enc"].float()
batches = json.load(open(batches_path))
captured = {}
model.model.layers[layer].register_forward_hook(lambda m, i, o: captured.__setitem__("h", o[0] if isinstance(o, tuple) else o))


def run(batch):
    width = max(len(s) for s in batch)
    ids = torch.zeros((len(batch), width), dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for b, s in enumerate(batch):  # left padding, as ours
        ids[b, width - len(s):] = torch.tensor(s)
        mask[b, width - len(s):] = 1
    with torch.inference_mode():
        model.model(input_ids=ids, attention_mask=mask)
        h = captured["h"][mask.bool()]
        f = torch.relu(h @ W_enc + b_enc)
        nz = f.nonzero()
        return nz.shape[0], f[nz[:, 0], nz[:, 1]]


run(batches[0])  # warm-up
tokens = sum(len(s) for b in batches for s in b)
t0 = time.perf_counter()
nonzeros = sum(run(b)[0] for b in batches)
print(json.dumps({"tokens_per_s": tokens / (time.perf_counter() - t0), "nonzeros": nonzeros, "threads": torch.get_num_threads()}))
