"""The drift subspace of an exp.py run (drift_basis.pt) or of a make_default_new.py build (drift_subspace.safetensors)."""
from pathlib import Path

import torch
from safetensors.torch import load_file


def load_basis(build, run_dir: Path):
    """[d_model, k] orthonormal columns, or None when the variant was trained without a drift subspace."""
    if build:
        f = Path(build) / "drift_subspace.safetensors"
        return load_file(str(f))["basis"] if f.exists() else None
    f = run_dir / "drift_basis.pt"
    return torch.load(f) if f.exists() else None
