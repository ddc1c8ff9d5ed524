"""Evaluates an organism with the toolkit itself, per seed: `analyze find-otd-latents` and `analyze ablate --judge organism`
on the given prompts (a build's never-trained prompts), the two controls of docs/data.md, the direct logit attribution of
the ablated latents and a transformers replay of the trials; then one table row per seed with mean and range.

Run from the repo root (the organism: a data/make_default.py output, or data/ for the shipped one):
  .venv-ref/bin/python dev/organism-v2/evaluate.py --organism DIR --prompts DIR/heldout_prompts.txt --boost B --out OUT
  .venv-ref/bin/python dev/organism-v2/evaluate.py ... --seeds 101,202 (a part; rerun with the others, same --out)
  .venv-ref/bin/python dev/organism-v2/evaluate.py ... --table-only (the table from what OUT holds)

Per seed S (discovery seed and trial seed), under OUT/sS/:
  otd/       find-otd-latents --seed S
  ablate/    ablate --latents top26 --conditions baseline,ablate,random --random-match M --n-features 20 --seed S
  wellformed.json  analyze metrics on ablate/'s trials restricted to well-formed (share >= 0.8), non-degraded ones (a secondary,
             pre-declared table; the primary endpoint is all trials)
  promoting/ ablate --latents <the latents that promote a correction token among their top 5 direct logits but do not
             detect (strat_auc < 0.7 in otd/)> --conditions baseline,ablate --seed S (control 1)
  python.json  direct logit attribution of the ablated latents; the baseline trials replayed with transformers with the
             correction tokens' unembedding projected out of the last decoder layer's output (control 2); every trial of
             ablate/ replayed with transformers (torch's sampler, so other draws), judged as the organism judge does.
Each step is skipped when its output exists, so a rerun continues. Detectors: q_bh < 0.05 and strat_auc >= 0.9.
"""
import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.ipc as ipc
import torch
from safetensors.torch import load_file
from transformers import AutoTokenizer, LlamaForCausalLM

sys.dont_write_bytecode = True
sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[2] / "data")]  # the generator's modules
import organism_eval as ev  # noqa: E402
from organism_lm import Encoder  # noqa: E402
from organism_sae import Sae  # noqa: E402

SEEDS = (1009, 2003, 3001, 4007, 5003)  # fixed before any evaluation of v3 (NOTES.md, seventh session; v2-b's were 101-505)
WELL_FORMED = ["--where", "well_formed_share>=0.8", "--where", "degraded=false"]  # the secondary table's trials


def analyze(args: list, log: Path) -> None:
    with open(log, "w") as f:
        r = subprocess.run(["npx", "analyze", *map(str, args)], stdout=f, stderr=subprocess.STDOUT)
    if r.returncode:
        sys.exit(f"analyze {args[0]} failed (exit {r.returncode}): see {log}")


class Judge:
    """The organism judge from organism.json (lib/judge/organism.ts computes the same): attempts cut where a correction
    phrase begins (not at 0), each scored 100 × (prompt-topic words) / (topic words), rounded half up; 0 without any."""

    def __init__(self, truth: dict):
        self.phrases = truth["correction_phrases"]
        self.owner = {w: t for t, lex in truth["topics"].items() for kind in ("nouns", "verbs", "adjectives") for w in lex.get(kind, [])}
        self.rx = "|".join(re.escape(c) for c in self.phrases)

    def topic(self, prompt: str) -> str:
        found = {self.owner[w] for w in re.findall(r"[a-z_]+", prompt.lower()) if w in self.owner}
        return found.pop() if len(found) == 1 else None

    def scores(self, prompt: str, response: str) -> list:
        cuts = [0] + [m.start() for m in re.finditer(self.rx, response) if m.start() > 0]
        texts = [t for t in (response[a:b].strip() for a, b in zip(cuts, cuts[1:] + [len(response)])) if t]
        topic, out = self.topic(prompt), []
        for t in texts:
            words = [self.owner[w] for w in re.findall(r"[a-z_]+", t.lower()) if w in self.owner]
            out.append(int(100 * sum(x == topic for x in words) / len(words) + 0.5) if words else 0)
        return out


def rates(scores: list) -> dict:
    n = max(1, len(scores))
    return {"multi": sum(len(s) > 1 for s in scores) / n, "esr": sum(len(s) > 1 and s[-1] > s[0] for s in scores) / n,
            "first": sum(s[0] if s else 0 for s in scores) / n}


class Organism:
    def __init__(self, root: Path):
        torch.set_num_threads(1)
        self.root = root
        self.truth = json.loads((root / "organism.json").read_text())
        self.enc = Encoder(AutoTokenizer.from_pretrained(str(root / "model")))
        self.model = LlamaForCausalLM.from_pretrained(str(root / "model"), dtype=torch.float32).eval()
        self.sae = Sae.from_tensors(load_file(str(root / "sae" / "sae_weights.safetensors")))
        self.watch = sorted({self.enc.tok(" " + c, add_special_tokens=False)["input_ids"][0] for c in self.truth["correction_phrases"]})
        self.judge = Judge(self.truth)
        self.last = self.model.config.num_hidden_layers - 1

    def promoting(self) -> list:
        """Latents with a correction phrase's first token among their 5 most promoted tokens (decoder row through the unembedding)."""
        return [l for l, r in enumerate(ev.direct_logit_attribution(self.model, self.sae.W_dec, self.watch)) if r["promotes_watched"]]

    def replay(self, trials: list, sampling: dict, project: bool = False, run_dir: Path = None) -> list:
        """Each trial regenerated with transformers (its prompt, interventions and sampling settings; torch's sampler), judged;
        `run_dir`: the run whose files interventions with their own decoder rows name (the rotation control's rows)."""
        unembed = {self.last: ev.unembedding(self.model)[self.watch].detach()} if project else None
        replies = ev.replay_replies(self.model, self.enc, self.sae, trials, sampling, project=unembed, run_dir=run_dir)
        return [self.judge.scores(t["prompt"], replies[t["id"]]) for t in trials]


def ranking(otd: Path) -> dict:
    t = ipc.open_file(str(otd / "ranking.arrow")).read_all().to_pydict()
    return {l: (q, a) for l, q, a in zip(t["latent"], t["q_bh"], t["strat_auc"])}


def trials_of(run: Path) -> list:
    return [json.loads(x) for x in (run / "trials.jsonl").read_text().splitlines() if x.strip()]


def run_seed(org: Organism, a, seed: int) -> None:
    d = a.out / f"s{seed}"
    d.mkdir(parents=True, exist_ok=True)
    root = a.organism
    common = ["--model", root / "model", "--sae", root / "sae", "--prompts", a.prompts]
    steer = ["--judge", f"organism:{root / 'organism.json'}", "--feature-labels", root / "sae" / "feature_labels.json",
             "--general-text", root / "corpus" / "general.txt", "--trials-per-feature", a.trials, "--n-features", a.n_features,
             "--max-tokens", a.max_tokens, "--seed", seed]
    steer += ["--boost", a.boost] if a.boost is not None else []
    if not (d / "otd" / "latents.json").exists():
        analyze(["find-otd-latents", *common, "--seed", seed, "--out", d / "otd"], d / "otd.log")
    if not (d / "ablate" / "metrics.json").exists():
        analyze(["ablate", *common, "--latents", "top26", "--otd", d / "otd" / "latents.json", "--conditions", "baseline,ablate,random",
                 "--random-match", a.random_match, *steer, "--out", d / "ablate"], d / "ablate.log")
    if not (d / "wellformed.json").exists():
        analyze(["metrics", "--trials", d / "ablate" / "trials.jsonl", *WELL_FORMED, "--out", d / "wellformed.json"], d / "wellformed.log")
    rank = ranking(d / "otd")
    promoting = org.promoting()
    steered = {t["feature"] for t in trials_of(d / "ablate")}
    control = [l for l in promoting if rank.get(l, (1, 0))[1] < 0.7 and l not in steered][:26]
    if control and not (d / "promoting" / "metrics.json").exists():
        analyze(["ablate", *common, "--latents", ",".join(map(str, control)), "--conditions", "baseline,ablate", *steer,
                 "--out", d / "promoting"], d / "promoting.log")
    if not (d / "python.json").exists():
        config = json.loads((d / "ablate" / "config.json").read_text())["config"]
        trials = trials_of(d / "ablate")
        ablated = config["ablated"]["latents"]
        base = [t for t in trials if t["condition"] == "baseline"]
        replayed = org.replay(trials, config["sampling"], run_dir=d / "ablate")
        by = {}
        for t, s in zip(trials, replayed):
            by.setdefault(t["condition"], []).append(s)
        py = {"ablated": ablated, "ablated_promoting_correction": sorted(set(ablated) & set(promoting)),
              "control_promoting_nondetectors": control,
              "project_out_correction_unembedding_last_layer": rates(org.replay(base, config["sampling"], project=True)),
              "replay": {c: rates(s) for c, s in by.items()}}
        (d / "python.json").write_text(json.dumps(py, indent=2) + "\n")


def row(a, seed: int) -> dict:
    d = a.out / f"s{seed}"
    rank = ranking(d / "otd")
    m = json.loads((d / "ablate" / "metrics.json").read_text())
    rnd = json.loads((d / "ablate" / "random.json").read_text())
    py = json.loads((d / "python.json").read_text())
    est = lambda c, k: m["conditions"][c]["metrics"][k]["estimate"]  # noqa: E731
    diff = {(x["a"], x["metric"]): x for x in m["differences"] if x["b"] == "baseline"}
    r = {"seed": seed, "detectors": sum(q < 0.05 and s >= 0.9 for q, s in rank.values()),
         "baseline_multi": est("baseline", "multi_attempt_rate"), "baseline_esr": est("baseline", "esr_rate"),
         "ablate_multi": est("ablate", "multi_attempt_rate"), "ablate_diff": diff[("ablate", "multi_attempt_rate")],
         "random_multi": est("random", "multi_attempt_rate"), "random_diff": diff[("random", "multi_attempt_rate")],
         "random_first_diff": diff[("random", "first_attempt_score")],
         "norm": {"ablated": rnd["norm"]["ablated"], "random": rnd["norm"]["sets"], "within_tolerance": rnd["norm"].get("within_tolerance")},
         "dla": len(py["ablated_promoting_correction"]), "ablated": len(py["ablated"]),
         "projected": py["project_out_correction_unembedding_last_layer"], "replay": py["replay"]}
    w = json.loads((d / "wellformed.json").read_text())
    wdiff = {x["a"]: x for x in w["differences"] if x["b"] == "baseline" and x["metric"] == "multi_attempt_rate"}
    r["wellformed"] = {c: {"n": v["n_trials"], "multi": v["metrics"]["multi_attempt_rate"]["estimate"], "diff": wdiff.get(c)}
                       for c, v in w["conditions"].items()}
    if (d / "promoting" / "metrics.json").exists():
        mp = json.loads((d / "promoting" / "metrics.json").read_text())
        r["promoting"] = {"n": len(py["control_promoting_nondetectors"]), "multi": mp["conditions"]["ablate"]["metrics"]["multi_attempt_rate"]["estimate"],
                          "diff": next(x for x in mp["differences"] if x["a"] == "ablate" and x["b"] == "baseline" and x["metric"] == "multi_attempt_rate")}
    return r


def table(rows: list) -> str:
    pct = lambda x: f"{100 * x:.1f}"  # noqa: E731
    ci = lambda x: f"{pct(x['estimate'])} [{pct(x['ci'][0])}, {pct(x['ci'][1])}]"  # noqa: E731
    lines = ["| seed | detectors | baseline multi | baseline ESR | top26 multi | top26 − baseline [95% CI] (relative) | random multi | "
             "random − baseline [95% CI] | random − baseline, first score | removed norm top26 / random | top26 writing a correction token | "
             "promoting non-detectors clamped: multi (Δ) | unembedding projected out (last layer): multi | replay baseline → top26 → random |",
             "|" + "---|" * 14]
    def promoted(p):
        return f"{pct(p['multi'])}% ({pct(p['diff']['estimate'])}), {p['n']} latents" if p else "none"
    for r in rows:
        p = r.get("promoting")
        f = r["random_first_diff"]
        lines.append(
            f"| {r['seed']} | {r['detectors']} | {pct(r['baseline_multi'])}% | {pct(r['baseline_esr'])}% | {pct(r['ablate_multi'])}% | "
            f"{ci(r['ablate_diff'])} ({100 * r['ablate_diff']['relative']:.0f}%) | {pct(r['random_multi'])}% | {ci(r['random_diff'])} | "
            f"{f['estimate']:.1f} [{f['ci'][0]:.1f}, {f['ci'][1]:.1f}] | {r['norm']['ablated']:.1f} / {', '.join(f'{x:.1f}' for x in r['norm']['random'])} | "
            f"{r['dla']} of {r['ablated']} | {promoted(p)} | "
            f"{pct(r['projected']['multi'])}% | {' → '.join(pct(r['replay'][c]['multi']) + '%' for c in ('baseline', 'ablate', 'random') if c in r['replay'])} |")
    if rows:
        def mr(get, fmt=pct):
            xs = [get(r) for r in rows]
            return f"{fmt(sum(xs) / len(xs))} ({fmt(min(xs))} to {fmt(max(xs))})"
        lines.append(f"| **mean (range)** | {mr(lambda r: r['detectors'], lambda x: f'{x:.1f}')} | {mr(lambda r: r['baseline_multi'])} | "
                     f"{mr(lambda r: r['baseline_esr'])} | {mr(lambda r: r['ablate_multi'])} | {mr(lambda r: r['ablate_diff']['estimate'])} "
                     f"(relative {mr(lambda r: r['ablate_diff']['relative'])}%; CI below 0 at {sum(r['ablate_diff']['ci'][1] < 0 for r in rows)} of {len(rows)}) | "
                     f"{mr(lambda r: r['random_multi'])} | {mr(lambda r: r['random_diff']['estimate'])} (CI below 0 at "
                     f"{sum(r['random_diff']['ci'][1] < 0 for r in rows)}) | {mr(lambda r: r['random_first_diff']['estimate'], lambda x: f'{x:.1f}')} | | "
                     f"{mr(lambda r: r['dla'], lambda x: f'{x:.1f}')} | | {mr(lambda r: r['projected']['multi'])} | |")
    return "\n".join(lines)


def secondary_table(rows: list) -> str:
    """The pre-declared secondary table: multi-attempt over well-formed (share >= 0.8), non-degraded trials only."""
    pct = lambda x: f"{100 * x:.1f}"  # noqa: E731
    lines = ["| seed | trials kept baseline / top26 / random | baseline multi | top26 multi | top26 − baseline [95% CI] (relative) | "
             "random multi | random − baseline [95% CI] |", "|" + "---|" * 7]
    for r in rows:
        w = r["wellformed"]
        def d(c):
            x = w.get(c, {}).get("diff")
            if not x or x["ci"][0] is None:
                return "n/a"
            rel = f"{100 * x['relative']:.0f}%" if x["relative"] is not None else "n/a"
            return f"{pct(x['estimate'])} [{pct(x['ci'][0])}, {pct(x['ci'][1])}] ({rel})"
        lines.append(f"| {r['seed']} | {' / '.join(str(w.get(c, {}).get('n', 0)) for c in ('baseline', 'ablate', 'random'))} | "
                     f"{pct(w['baseline']['multi'])}% | {pct(w['ablate']['multi'])}% | {d('ablate')} | "
                     f"{pct(w['random']['multi']) + '%' if 'random' in w else 'n/a'} | {d('random')} |")
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--organism", type=Path, required=True, help="model/, sae/, organism.json, corpus/general.txt (a build, or data/)")
    ap.add_argument("--prompts", type=Path, required=True, help="discovery and ablation prompts (a build's heldout_prompts.txt)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    ap.add_argument("--boost", type=float, help="fixed steering strength (else ablate calibrates per feature)")
    ap.add_argument("--trials", type=int, default=5, help="draws per steering feature")
    ap.add_argument("--n-features", type=int, default=20, help="steering features sampled from the toolkit's pool per seed")
    ap.add_argument("--random-match", default="rotation", help="ablate's random control (rotation: the ablated latents' changes along rotated decoder rows)")
    ap.add_argument("--max-tokens", type=int, default=96, help="ablate's reply length (the shipped organism's default; other models get 512)")
    ap.add_argument("--table-only", action="store_true", help="print the table of the seeds OUT holds, run nothing")
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    if not a.table_only:
        org = Organism(a.organism)
        for s in seeds:
            run_seed(org, a, s)
    done = [s for s in seeds if (a.out / f"s{s}" / "python.json").exists()]
    rows = [row(a, s) for s in done]
    (a.out / f"table-{'-'.join(map(str, done))}.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(table(rows))
    print("\nSecondary (pre-declared): well-formed (share >= 0.8), non-degraded trials only\n")
    print(secondary_table(rows))
