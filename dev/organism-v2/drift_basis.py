"""The drift subspace and the prompt split of an exp.py run (drift_basis.pt) or of a data/make_default.py build (drift_subspace.safetensors, summary.json)."""
from pathlib import Path

import json

import torch
from safetensors.torch import load_file


def load_basis(build, run_dir: Path):
    """[d_model, k] orthonormal columns, or None when the variant was trained without a drift subspace."""
    if build:
        f = Path(build) / "drift_subspace.safetensors"
        return load_file(str(f))["basis"] if f.exists() else None
    f = run_dir / "drift_basis.pt"
    return torch.load(f) if f.exists() else None


def split_of(build, seed: int):
    """The build's own split (its summary.json's split seed, the spent prompts kept out), or split_prompts(seed) for an exp.py run."""
    import organism_corpus as C
    if build:
        prompts = json.loads((Path(build) / "summary.json").read_text())["prompts"]
        if "split_seed" in prompts:
            return C.evaluation_split(prompts["split_seed"])
    return C.split_prompts(seed)
