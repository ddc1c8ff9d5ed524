"""A ReLU SAE on one layer's residual stream of the organism, in SAELens's folder layout.

encode(x) = relu((x - b_dec) @ W_enc + b_enc), decode(f) = f @ W_dec + b_dec (apply_b_dec_to_input).
Trained with MSE + λ·Σ f_i·‖W_dec[i]‖ (L1 weighted by decoder norms) only: no term ties the latents to the
model's output. Latents that stay silent are re-initialised toward badly reconstructed inputs during the
first part of training.
"""

import json
from pathlib import Path

import torch
from safetensors.torch import save_file


class Sae(torch.nn.Module):
    def __init__(self, d_in: int, d_sae: int, gen: torch.Generator):
        super().__init__()
        w = torch.randn(d_sae, d_in, generator=gen)
        w = w / w.norm(dim=1, keepdim=True) * 0.1
        self.W_dec = torch.nn.Parameter(w)
        self.W_enc = torch.nn.Parameter(w.t().clone())
        self.b_enc = torch.nn.Parameter(torch.zeros(d_sae))
        self.b_dec = torch.nn.Parameter(torch.zeros(d_in))

    @staticmethod
    @torch.no_grad()
    def from_tensors(t: dict) -> "Sae":
        """An SAE with these W_enc [d_in, d_sae], W_dec, b_enc, b_dec (a saved sae_weights.safetensors)."""
        sae = Sae(*t["W_enc"].shape, torch.Generator().manual_seed(0))
        for k in ("W_enc", "W_dec", "b_enc", "b_dec"):
            getattr(sae, k).copy_(t[k])
        return sae

    def encode(self, x):
        return torch.relu((x - self.b_dec) @ self.W_enc + self.b_enc)

    def decode(self, f):
        return f @ self.W_dec + self.b_dec


def train_sae(x: torch.Tensor, d_sae: int, *, steps: int, batch: int, lr: float, l1: float, seed: int, log) -> tuple:
    """Trains on x / scale (scale = RMS norm of the centred data), then folds the scale back into the
    weights so the saved SAE takes raw activations. Returns (sae, scale)."""
    gen = torch.Generator().manual_seed(seed)
    mean = x.mean(0)
    scale = float((x - mean).norm(dim=1).pow(2).mean().sqrt())
    xs = x / scale
    sae = Sae(x.shape[1], d_sae, gen)
    with torch.no_grad():
        sae.b_dec.copy_(mean / scale)
    warmup = steps * 0.05
    opt = torch.optim.Adam(sae.parameters(), lr=lr)
    resample_every, resample_until = steps // 10, steps // 2
    fired = torch.zeros(d_sae, dtype=torch.bool)
    for step in range(steps):
        xb = xs[torch.randint(0, len(xs), (batch,), generator=gen)]
        f = sae.encode(xb)
        mse = (sae.decode(f) - xb).pow(2).sum(1).mean()
        sparsity = (f * sae.W_dec.norm(dim=1)).sum(1).mean()
        loss = mse + l1 * min(1.0, step / warmup) * sparsity  # λ warms up over the first 5%
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        fired |= (f > 0).any(0)
        if (step + 1) % resample_every == 0:
            dead = (~fired).nonzero().flatten()
            if step + 1 <= resample_until and len(dead):
                resample(sae, xs, dead, gen)
                opt = torch.optim.Adam(sae.parameters(), lr=lr)
            log(f"  step {step + 1}/{steps}  mse {mse.item():.4f}  L0 {(f > 0).float().sum(1).mean():.1f}  "
                f"silent {len(dead)}{' (resampled)' if step + 1 <= resample_until and len(dead) else ''}")
            fired.zero_()
    with torch.no_grad():
        sae.W_enc.div_(scale)
        sae.W_dec.mul_(scale)
        sae.b_dec.mul_(scale)
    return sae, scale


@torch.no_grad()
def resample(sae: Sae, xs: torch.Tensor, dead: torch.Tensor, gen: torch.Generator) -> None:
    """Points each silent latent at an input drawn in proportion to its squared reconstruction error."""
    probe = xs[torch.randint(0, len(xs), (8192,), generator=gen)]
    err = (sae.decode(sae.encode(probe)) - probe).pow(2).sum(1)
    picks = probe[torch.multinomial(err, len(dead), replacement=len(dead) > len(probe), generator=gen)] - sae.b_dec
    dirs = picks / picks.norm(dim=1, keepdim=True)
    alive_norm = sae.W_enc.norm(dim=0)[~torch.isin(torch.arange(sae.W_enc.shape[1]), dead)].mean()
    sae.W_dec[dead] = dirs * 0.1
    sae.W_enc[:, dead] = dirs.t() * alive_norm * 0.2
    sae.b_enc[dead] = 0.0


@torch.no_grad()
def quality(sae: Sae, x: torch.Tensor) -> dict:
    """Fraction of variance explained, L0 per token, latents that never fire on x."""
    f = sae.encode(x)
    fve = 1 - (x - sae.decode(f)).pow(2).sum() / (x - x.mean(0)).pow(2).sum()
    return {"fve": round(float(fve), 4), "l0": round(float((f > 0).float().sum(1).mean()), 2),
            "dead": int(((f > 0).sum(0) == 0).sum()), "tokens": len(x)}


def save_saelens(sae: Sae, out: Path, *, layer: int, model_name: str, context_size: int) -> None:
    """cfg.json in SAELens's flat layout (the fields of its SAEConfig dict) and sae_weights.safetensors."""
    out.mkdir(parents=True, exist_ok=True)
    d_sae, d_in = sae.W_dec.shape
    cfg = {
        "architecture": "standard",
        "d_in": d_in,
        "d_sae": d_sae,
        "activation_fn_str": "relu",
        "activation_fn_kwargs": {},
        "apply_b_dec_to_input": True,
        "finetuning_scaling_factor": False,
        "dtype": "float32",
        "device": "cpu",
        "model_name": model_name,
        "hook_name": f"blocks.{layer}.hook_resid_post",
        "hook_layer": layer,
        "hook_head_index": None,
        "context_size": context_size,
        "prepend_bos": True,
        "normalize_activations": "none",
        "dataset_path": "data/organism_corpus.py",
        "dataset_trust_remote_code": False,
        "sae_lens_training_version": None,
        "neuronpedia_id": None,
    }
    (out / "cfg.json").write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
    tensors = {k: getattr(sae, k).detach().contiguous().clone() for k in ("W_enc", "W_dec", "b_enc", "b_dec")}
    save_file(tensors, str(out / "sae_weights.safetensors"))
