"""A ReLU SAE on one layer's residual stream of the organism, in SAELens's folder layout.

encode(x) = relu((x - b_dec) @ W_enc + b_enc), decode(f) = f @ W_dec + b_dec (apply_b_dec_to_input).
Trained with MSE + λ·Σ f_i·‖W_dec[i]‖ (L1 weighted by decoder norms), latents that stay silent are
re-initialised toward badly reconstructed inputs during the first part of training. With `logits` (the
model's unembedding of a resid_post, which exists in closed form because the SAE sits on the last decoder
layer) the loss also has an end-to-end term in the spirit of Braun et al. 2024 (e2e SAEs):
κ·KL(softmax(logits(h)) ‖ softmax(logits(decode(encode(h))))), so the reconstruction carries what the
next-token distribution needs and the error term is left with little effect on it. Latents of another
SAE can be kept frozen inside the reconstruction (`frozen`): the new latents learn what those leave.
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


def train_sae(x: torch.Tensor, d_sae: int, *, steps: int, batch: int, lr: float, l1: float, seed: int, log,
              kl: float = 0.0, logits=None, frozen: dict = None) -> tuple:
    """Trains on x / scale (scale = RMS norm of the centred data), then folds the scale back into the
    weights so the saved SAE takes raw activations. `logits` maps raw activations to next-token logits;
    with kl > 0 the loss adds kl · KL(model's distribution ‖ the distribution read from the reconstruction).
    `frozen` (raw-scale W_enc [d_in, k], W_dec [k, d_in], b_enc [k], b_dec [d_in] of k latents of another
    SAE) are latents kept as they are: the d_sae trained latents reconstruct what they leave, and the
    returned SAE has them appended as latents d_sae … d_sae + k − 1 (their b_enc refolded onto its b_dec,
    so each keeps its exact pre-activation). Returns (sae, scale)."""
    gen = torch.Generator().manual_seed(seed)
    mean = x.mean(0)
    scale = float((x - mean).norm(dim=1).pow(2).mean().sqrt())
    xs = x / scale
    sae = Sae(x.shape[1], d_sae, gen)
    with torch.no_grad():
        sae.b_dec.copy_(mean / scale)
    fixed = FrozenLatents(frozen, scale) if frozen is not None else None
    reconstruct = (lambda f, xb: sae.decode(f) + fixed.decode(xb)) if fixed else (lambda f, xb: sae.decode(f))
    warmup = steps * 0.05
    opt = torch.optim.Adam(sae.parameters(), lr=lr)
    resample_every, resample_until = steps // 10, steps // 2
    fired = torch.zeros(d_sae, dtype=torch.bool)
    for step in range(steps):
        xb = xs[torch.randint(0, len(xs), (batch,), generator=gen)]
        f = sae.encode(xb)
        err = reconstruct(f, xb) - xb
        mse = err.pow(2).sum(1).mean()
        sparsity = (f * sae.W_dec.norm(dim=1)).sum(1).mean()
        loss = mse + l1 * min(1.0, step / warmup) * sparsity  # λ warms up over the first 5%
        if kl > 0:
            with torch.no_grad():
                target = torch.log_softmax(logits(xb * scale), -1)
            div = kl_div(target, torch.log_softmax(logits((err + xb) * scale), -1))
            loss = loss + kl * div
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        fired |= (f > 0).any(0)
        if (step + 1) % resample_every == 0:
            dead = (~fired).nonzero().flatten()
            if step + 1 <= resample_until and len(dead):
                resample(sae, xs, dead, gen, reconstruct)
                opt = torch.optim.Adam(sae.parameters(), lr=lr)
            log(f"  step {step + 1}/{steps}  mse {mse.item():.4f}{f'  kl {div.item():.4f}' if kl > 0 else ''}  L0 {(f > 0).float().sum(1).mean():.1f}  "
                f"silent {len(dead)}{' (resampled)' if step + 1 <= resample_until and len(dead) else ''}")
            fired.zero_()
    with torch.no_grad():
        sae.W_enc.div_(scale)
        sae.W_dec.mul_(scale)
        sae.b_dec.mul_(scale)
    return (append_latents(sae, frozen) if frozen is not None else sae), scale


class FrozenLatents:
    """Fixed latents of another SAE, in the scaled space the trained ones see: pre-activation
    (x·scale − b_dec_other) @ W_enc + b_enc, decoded as f @ W_dec / scale (no bias: the trained SAE's b_dec is the one)."""

    def __init__(self, frozen: dict, scale: float):
        self.W_enc = frozen["W_enc"] * scale
        self.b_enc = frozen["b_enc"] - frozen["b_dec"] @ frozen["W_enc"]
        self.W_dec = frozen["W_dec"] / scale

    def decode(self, xb: torch.Tensor) -> torch.Tensor:
        return torch.relu(xb @ self.W_enc + self.b_enc) @ self.W_dec


def append_latents(sae: Sae, frozen: dict) -> Sae:
    """One SAE: sae's latents, then the frozen ones with b_enc shifted so (x − sae.b_dec) gives their own pre-activation."""
    with torch.no_grad():
        return Sae.from_tensors({
            "W_enc": torch.cat([sae.W_enc, frozen["W_enc"]], 1), "W_dec": torch.cat([sae.W_dec, frozen["W_dec"]], 0),
            "b_enc": torch.cat([sae.b_enc, frozen["b_enc"] + (sae.b_dec - frozen["b_dec"]) @ frozen["W_enc"]]), "b_dec": sae.b_dec,
        })


def kl_div(logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
    """Mean over rows of KL(p ‖ q) from log-probabilities."""
    return (logp.exp() * (logp - logq)).sum(-1).mean()


@torch.no_grad()
def resample(sae: Sae, xs: torch.Tensor, dead: torch.Tensor, gen: torch.Generator, reconstruct) -> None:
    """Points each silent latent at an input drawn in proportion to its squared reconstruction error."""
    probe = xs[torch.randint(0, len(xs), (8192,), generator=gen)]
    err = (reconstruct(sae.encode(probe), probe) - probe).pow(2).sum(1)
    picks = probe[torch.multinomial(err, len(dead), replacement=len(dead) > len(probe), generator=gen)] - sae.b_dec
    dirs = picks / picks.norm(dim=1, keepdim=True)
    alive_norm = sae.W_enc.norm(dim=0)[~torch.isin(torch.arange(sae.W_enc.shape[1]), dead)].mean()
    sae.W_dec[dead] = dirs * 0.1
    sae.W_enc[:, dead] = dirs.t() * alive_norm * 0.2
    sae.b_enc[dead] = 0.0


@torch.no_grad()
def quality(sae: Sae, x: torch.Tensor, logits=None) -> dict:
    """Fraction of variance explained, L0 per token, latents that never fire on x; with `logits`, the mean
    KL(model ‖ reconstruction) over x and the mean KL when h is replaced by its mean (the ablation reference)."""
    f = sae.encode(x)
    xhat = sae.decode(f)
    fve = 1 - (x - xhat).pow(2).sum() / (x - x.mean(0)).pow(2).sum()
    out = {"fve": float(fve), "l0": float((f > 0).float().sum(1).mean()),
           "dead": int(((f > 0).sum(0) == 0).sum()), "tokens": len(x)}
    if logits is not None:
        kls, mean_kls = [], []
        for k in range(0, len(x), 4096):
            p = torch.log_softmax(logits(x[k:k + 4096]), -1)
            kls.append(kl_div(p, torch.log_softmax(logits(xhat[k:k + 4096]), -1)) * len(p))
            mean_kls.append(kl_div(p, torch.log_softmax(logits(x.mean(0, keepdim=True)), -1)) * len(p))
        out["kl"] = round(float(sum(kls) / len(x)), 5)
        out["kl_mean_ablation"] = round(float(sum(mean_kls) / len(x)), 5)
    return out


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
