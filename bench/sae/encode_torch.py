"""Peer of bench/sae/encode.ts: writes a synthetic Goodfire-format SAE, and times torch encoding it.

  encode_torch.py write DIR D_IN D_SAE   -> DIR/sae.pth (bf16 state dict) + DIR/x.npy (64 tokens, f32)
  encode_torch.py run DIR REPS           -> prints JSON: timings and the codes of the first token

Weights are random (seeded); b_enc is set so that about 0.1% of latents fire, like a trained SAE.
"""

import json
import os
import sys
import time

import numpy as np
import torch

N_TOK = 64


def write(out, d_in, d_sae):
    os.makedirs(out, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    w_std = 1.0 / d_in**0.5
    enc = (torch.randn(d_sae, d_in, generator=g) * w_std).to(torch.bfloat16)
    dec = (torch.randn(d_in, d_sae, generator=g) * 0.05).to(torch.bfloat16)
    x = torch.randn(N_TOK, d_in, generator=g)
    # pre ~ N(b, 1) per latent: a threshold 3 sd up leaves ~0.13% active
    b_enc = (torch.full((d_sae,), -3.0) + torch.randn(d_sae, generator=g) * 0.1).to(torch.bfloat16)
    b_dec = torch.zeros(d_in, dtype=torch.bfloat16)
    torch.save({"encoder_linear.weight": enc, "encoder_linear.bias": b_enc,
                "decoder_linear.weight": dec, "decoder_linear.bias": b_dec}, os.path.join(out, "sae.pth"))
    np.save(os.path.join(out, "x.npy"), x.numpy())


def run(out, reps):
    torch.set_grad_enabled(False)
    t0 = time.perf_counter()
    sd = torch.load(os.path.join(out, "sae.pth"), mmap=True, weights_only=True)
    enc, b_enc = sd["encoder_linear.weight"], sd["encoder_linear.bias"]
    x = torch.from_numpy(np.load(os.path.join(out, "x.npy")))
    load_s = time.perf_counter() - t0

    def timed(fn):
        fn()  # warm-up
        best = float("inf")
        for _ in range(reps):
            t = time.perf_counter()
            r = fn()
            best = min(best, time.perf_counter() - t)
        return best, r

    # the paper's setting: bf16 weights and activations
    bf16_s, _ = timed(lambda: torch.relu(torch.nn.functional.linear(x.bfloat16(), enc, b_enc)))
    enc32, b32 = enc.float(), b_enc.float()
    # the same arithmetic as ours: bf16 weights widened to f32
    f32_s, codes = timed(lambda: torch.relu(torch.nn.functional.linear(x, enc32, b32)))
    nz = codes[0].nonzero().flatten()
    print(json.dumps({
        "torch": torch.__version__, "threads": torch.get_num_threads(), "load_s": load_s,
        "bf16_s": bf16_s, "f32_s": f32_s, "nnz": int((codes != 0).sum()),
        "token0": {"latents": nz.tolist(), "values": codes[0, nz].tolist()},
    }))


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        run(sys.argv[2], int(sys.argv[3]))
