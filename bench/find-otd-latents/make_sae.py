"""Creates (once) a random 16,384-wide ReLU SAE in SAELens layout for a model, calibrated to be sparse.

Usage: make_sae.py MODEL_DIR OUT_DIR LAYER TEXTS.json
Encoder directions are random unit vectors; each latent's bias is set so that it fires on about 1% of the
residual-stream vectors at resid_post.LAYER of the given texts (so ~160 latents per token, a realistic L0).
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer

D_SAE = 16384
FIRE = 0.01

model_dir, out, layer, texts_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
if not os.path.exists(os.path.join(out, "cfg.json")):
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    texts = json.load(open(texts_path))
    hs = []
    with torch.no_grad():
        for t in texts:
            ids = tok(t, return_tensors="pt").input_ids
            hs.append(model(ids, output_hidden_states=True).hidden_states[layer + 1][0])
    h = torch.cat(hs)
    d_in = h.shape[1]
    w_enc = torch.randn(d_in, D_SAE)
    w_enc /= w_enc.norm(dim=0, keepdim=True)
    pre = h @ w_enc
    b_enc = -torch.quantile(pre, 1 - FIRE, dim=0)
    w_dec = w_enc.T.contiguous() * h.norm(dim=1).mean() / (FIRE * D_SAE) ** 0.5
    os.makedirs(out, exist_ok=True)
    save_file({"W_enc": w_enc.contiguous(), "W_dec": w_dec, "b_enc": b_enc.contiguous(), "b_dec": torch.zeros(d_in)},
              os.path.join(out, "sae_weights.safetensors"))
    cfg = {"architecture": "standard", "d_in": d_in, "d_sae": D_SAE, "dtype": "float32", "device": "cpu",
           "apply_b_dec_to_input": False, "normalize_activations": "none", "hook_name": f"blocks.{layer}.hook_resid_post",
           "hook_layer": layer, "model_name": "llama-110m-random"}
    json.dump(cfg, open(os.path.join(out, "cfg.json"), "w"), indent=2)
    l0 = ((h @ w_enc + b_enc) > 0).float().sum(1).mean().item()
    print(f"created {out}: d_sae {D_SAE}, L0 {l0:.0f} on {h.shape[0]} calibration tokens", file=sys.stderr)
