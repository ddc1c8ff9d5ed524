"""A variant of the shipped build (development only): data/make_default.py with its split seed, spent splits and SAE
settings patched. Without --from: a full build into --out. With --from BUILD: make_default.sae_stage re-run on BUILD's
language model (LM, drift basis, prompts and corpus copied), plus the tuning-prompt halves tune_a.txt / tune_b.txt for
toolkit runs (ninth session: v4 was made this way from a 512-latent build, and `--verify` reproduced it from scratch).

  .venv-ref/bin/python dev/organism-v2/variant.py --out /tmp/organism/v4-512 --split 20261205
  .venv-ref/bin/python dev/organism-v2/variant.py --from /tmp/organism/v4-512 --out /tmp/organism/v4-1205 --sae '{"d_sae": 256}'
  .venv-ref/bin/python dev/organism-v2/variant.py --out /tmp/organism/v4-1206 --split 20261206 --spent 20261205 --sae '{"d_sae": 256}'
"""
import argparse
import json
import shutil
import sys
from pathlib import Path

sys.dont_write_bytecode = True
sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[2] / "data")]  # these scripts, then data/
import torch  # noqa: E402
from transformers import AutoTokenizer, LlamaForCausalLM  # noqa: E402

import make_default as md  # noqa: E402
import organism_corpus as oc  # noqa: E402
from drift_basis import load_basis, split_of  # noqa: E402
from organism_lm import DriftSubspace, Encoder  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--out", required=True)
ap.add_argument("--from", dest="src", help="a build whose language model the SAE stage is re-run on")
ap.add_argument("--split", type=int, help="split seed of the never-trained prompts (a full build; default make_default.SPLIT_SEED)")
ap.add_argument("--spent", default="", help="split seeds added to organism_corpus.SPENT_SPLIT_SEEDS (comma-separated)")
ap.add_argument("--sae", default="{}", help="JSON overrides of make_default.SAE")
a = ap.parse_args()
if a.spent:
    oc.SPENT_SPLIT_SEEDS = oc.SPENT_SPLIT_SEEDS + tuple(int(x) for x in a.spent.split(","))
md.SAE = {**md.SAE, **json.loads(a.sae)}
md.deterministic()
out = Path(a.out)
if not a.src:
    md.SPLIT_SEED = a.split or md.SPLIT_SEED
    out.mkdir(parents=True, exist_ok=True)
    md.build(out)
    sys.exit(0)

src = Path(a.src)
summary = json.loads((src / "summary.json").read_text())
train_p, disc, held = split_of(src, md.SEED)
assert [p.text for p in disc] == (src / "prompts.txt").read_text().splitlines(), "the split does not give BUILD's prompts (--spent?)"
tune = md.tuning_halves(train_p)
shutil.rmtree(out, ignore_errors=True)
shutil.copytree(src, out, ignore=shutil.ignore_patterns("sae", "MANIFEST.sha256"))
(out / "sae").mkdir()
for name, ps in (("tune_a.txt", tune[0]), ("tune_b.txt", tune[1])):
    (out / name).write_text("".join(p.text + "\n" for p in ps))
model = LlamaForCausalLM.from_pretrained(str(src / "model"), dtype=torch.float32).eval()
enc = Encoder(AutoTokenizer.from_pretrained(str(src / "model")))
basis = load_basis(src, None)
drift = DriftSubspace(basis.shape[0], basis.shape[1], 0)
drift.basis.copy_(basis)
part = md.sae_stage(model, enc, drift, train_p, tune, disc + held, out / "sae")
summary["sae"] = part.pop("sae")
summary.update(part)
(out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
