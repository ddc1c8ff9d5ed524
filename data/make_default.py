"""Builds the shipped default, a small model organism of endogenous steering resistance (ESR):
data/model (a Llama checkpoint with our tokenizer and chat template), data/sae (a ReLU SAE in SAELens layout,
with esr_defaults.json and feature_labels.json), data/prompts.txt, data/heldout_prompts.txt,
data/corpus/general.txt, data/organism.json (the language, for `--judge organism`) and data/summary.json.

Run from the repo root:   .venv-ref/bin/python data/make_default.py
Check the shipped files:  .venv-ref/bin/python data/make_default.py --verify   (rebuilds in a temporary directory and
                          compares every built file with data/MANIFEST.sha256; `--manifest` rewrites the manifest)
A variant without ESR:    .venv-ref/bin/python data/make_default.py --no-drift --out DIR   (trained on plain answers
                          only: no drifted sequence, no correction phrase, no drift probe; never the shipped default)
Check the effect with transformers on a finished `analyze ablate` run:
                          .venv-ref/bin/python data/make_default.py --check RUN_DIR

Deterministic: fixed seeds, torch.use_deterministic_algorithms, one torch thread. Outputs are built in
data/.build/ and moved into place at the end, so an interrupted run changes nothing.
"""

import argparse
import hashlib
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import AutoTokenizer, LlamaForCausalLM

sys.dont_write_bytecode = True  # no __pycache__ left in data/
DATA = Path(__file__).resolve().parent
sys.path.insert(0, str(DATA))
from llama3_tokenizer import build_llama3, llama3_generation_ids, llama3_tokenizer_config, write_tokenizer_dir  # noqa: E402
from organism_corpus import (  # noqa: E402
    CORRECTIONS, PROMPT_TOPICS, TOPICS, Answer, attempt_texts, body, drifted_answer, general_paragraph, ground_truth, off_topic_sentences,
    plain_answer, plain_sentences, split_prompts, tokenizer_lines, well_formed_share,
)
import organism_lm  # noqa: E402
from organism_lm import Batches, DriftProbe, Encoder, Interventions, new_model, resid_post, sample_replies, train  # noqa: E402
from organism_sae import Sae, quality, save_saelens, train_sae  # noqa: E402

SEED = 20250101
THREADS = 1  # more threads are slower on a shared 2-core machine
VOCAB_SIZE = 2048
LM = dict(steps=1600, batch=32, lr=3e-3, drift_probe_weight=3.0)
P_DRIFT = None  # share of drifted training answers: None = organism_lm.draw_batch's (0.45); 0 with --no-drift (no ESR)
SAE_LAYER = 3   # the detector (feature) layer: resid_post of the last decoder layer, read almost directly by the unembedding
STEER_LAYER = 2  # steering acts here, one layer before the detectors (resid_post.1 gave more word lists and a weaker ablation effect: docs/data.md)
# The SAE is trained in two steps. A plain SAE (MSE + sparsity), the topic dictionary, finds topic latents; the
# shipped SAE keeps its steering-topic latents as they are (silenced on every prompt) and trains the rest
# end to end: + κ·KL(model ‖ logits read from the reconstruction), so that the reconstruction, not the error
# term, carries the next-token decision and clamping latents can change it (docs/data.md).
TOPIC_SAE = dict(d_sae=1024, steps=4000, batch=512, lr=1e-3, l1=0.1)
SAE = dict(d_sae=256, steps=4000, batch=512, lr=1e-3, l1=0.1, kl=10.0)
TOPIC_DICTIONARY = None  # sae_weights.safetensors to use as the topic dictionary instead of training one (experiments)
SILENCE_MARGIN = 0.1  # a kept topic latent's largest pre-activation on any prompt ends this share of its mean activation below 0
TOPIC_SHARE = 0.6  # a topic latent has ≥ this share of its mean activation over topics on one topic
TOPIC_FREQ = 0.3   # and fires on ≥ this share of that topic's tokens (a topic, not one next word)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def deterministic() -> None:
    random.seed(SEED)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(THREADS)
    torch.set_flush_denormal(True)


def has_correction(text: str) -> bool:
    return any(c in text for c in CORRECTIONS)


def auc(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per column: P(a > b) + ½ P(a = b) (the Mann–Whitney AUC)."""
    gt = (a[:, None, :] > b[None, :, :]).float().mean((0, 1))
    eq = (a[:, None, :] == b[None, :, :]).float().mean((0, 1))
    return gt + 0.5 * eq


def derangement(n: int, rng: random.Random) -> list:
    while True:
        perm = list(range(n))
        rng.shuffle(perm)
        if all(perm[i] != i for i in range(n)):
            return perm


class Organism:
    def __init__(self, model, enc, sae=None):
        self.model, self.enc, self.sae = model, enc, sae

    def pooled_codes(self, pairs: list) -> torch.Tensor:
        """Max over the response span of the SAE codes, per (prompt, response) pair (as find-otd-latents pools)."""
        seqs, heads = [], []
        for prompt, response in pairs:
            head = self.enc.prompt_ids(prompt)
            seqs.append(head + self.enc.tok(response, add_special_tokens=False)["input_ids"])
            heads.append(len(head))
        h, owner = resid_post(self.model, seqs, SAE_LAYER)
        with torch.no_grad():
            f = self.sae.encode(h)
        span = [f[owner == i][heads[i] - 1:] for i in range(len(seqs))]  # row j is token j + 1 (BOS dropped)
        return torch.stack([s.max(0).values if len(s) else torch.zeros(f.shape[1]) for s in span])

    def discovery_auc(self, prompts: list, responses: list, k: int, seed: int) -> torch.Tensor:
        """Per latent AUC, off-topic (each prompt's value averaged over k derangements) vs on-topic."""
        on = self.pooled_codes([(p, r) for p, r in zip(prompts, responses)])
        rng = random.Random(seed)
        offs = []
        for _ in range(k):
            perm = derangement(len(prompts), rng)
            offs.append(self.pooled_codes([(prompts[i], responses[perm[i]]) for i in range(len(prompts))]))
        return auc(torch.stack(offs).mean(0), on)

    def steered(self, prompts: list, latent: int, value: float, clamp: list, seed: int, max_new_tokens: int = 96) -> list:
        spec = {STEER_LAYER: [(latent, value, "add")]}
        if clamp:
            spec.setdefault(SAE_LAYER, [])
            spec[SAE_LAYER] = spec[SAE_LAYER] + [(c, 0.0, "clamp") for c in clamp]
        with Interventions(self.model, self.sae, spec):
            return sample_replies(self.model, self.enc, prompts, max_new_tokens=max_new_tokens, temperature=0.6, seed=seed)


def sae_training_sequences(enc: Encoder, prompts: list, rng: random.Random, n: int) -> list:
    """On-topic answers, off-topic pairs (a prompt with an answer to another topic), drifted answers, general text."""
    seqs = []
    for _ in range(n):
        p = rng.choice(prompts)
        seqs.append(enc.answer(p.text, plain_answer(p, rng)).ids)
        q = rng.choice([x for x in prompts if x.topic != p.topic])
        seqs.append(enc.answer(p.text, plain_answer(q, rng)).ids)
        if rng.random() < 0.5:
            seqs.append(enc.answer(p.text, drifted_answer(p, rng)).ids)
        if rng.random() < 0.3:
            seqs.append(enc.general(general_paragraph(rng.choice(list(TOPICS)), rng)).ids)
    return seqs


def correction_probability(org: Organism, prompts: list, rng: random.Random) -> dict:
    """P(the next token starts a correction) after an off-topic sentence vs after an on-topic one."""
    enc = org.enc
    first = sorted({enc.tok(" " + c, add_special_tokens=False)["input_ids"][0] for c in CORRECTIONS})
    def p_next(p, parts):
        ids = enc.answer(p.text, Answer([(x, True) for x in parts])).ids[:-1]
        with torch.no_grad():
            probs = org.model(input_ids=torch.tensor([ids])).logits[0, -1].softmax(-1)
        return float(probs[first].sum())
    off, on = [], []
    for p in prompts:
        before = plain_sentences(p, rng)[:1]
        off.append(p_next(p, before + off_topic_sentences(p.topic, rng, 1)))
        on.append(p_next(p, before + [body(p.topic, rng, p)]))
    return {"after_off_topic": round(sum(off) / len(off), 4), "after_on_topic": round(sum(on) / len(on), 4), "n": len(prompts)}


def probe_auc(org: Organism, train_prompts: list, test_prompts: list, rng: random.Random) -> float:
    """Logistic probe on the mean resid_post.SAE_LAYER over the response, on-topic vs off-topic answers;
    trained on pairs from training prompts, AUC on pairs from held-out prompts."""
    def data(prompts, n):
        xs, ys = [], []
        for _ in range(n):
            p = rng.choice(prompts)
            for off in (0, 1):
                q = rng.choice([x for x in train_prompts if x.topic != p.topic]) if off else p
                head = org.enc.prompt_ids(p.text)
                ids = head + org.enc.tok(plain_answer(q, rng).text(), add_special_tokens=False)["input_ids"]
                h, _ = resid_post(org.model, [ids], SAE_LAYER)
                xs.append(h[len(head) - 1:].mean(0))
                ys.append(off)
        return torch.stack(xs), torch.tensor(ys, dtype=torch.float32)
    xtr, ytr = data(train_prompts, 300)
    xte, yte = data(test_prompts, 150)
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-6
    w = torch.zeros(xtr.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=200)
    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits((xtr - mu) / sd @ w + b, ytr) + 1e-3 * w.pow(2).sum()
        loss.backward()
        return loss
    opt.step(closure)
    with torch.no_grad():
        s = (xte - mu) / sd @ w + b
    return round(float(auc(s[yte == 1][:, None], s[yte == 0][:, None])[0]), 4)


def topic_latents(org: Organism, rng: random.Random) -> dict:
    """latent → topic for latents whose mean activation over general text is concentrated on one topic."""
    topics = list(TOPICS)
    act = torch.zeros(len(topics), org.sae.W_dec.shape[0])
    freq = torch.zeros_like(act)
    for t, topic in enumerate(topics):
        h, _ = resid_post(org.model, [org.enc.general(general_paragraph(topic, rng)).ids for _ in range(8)], SAE_LAYER)
        with torch.no_grad():
            f = org.sae.encode(h)
        act[t], freq[t] = f.mean(0), (f > 0).float().mean(0)
    share = act / act.sum(0, keepdim=True).clamp_min(1e-9)
    best = share.max(0)
    return {int(l): topics[int(best.indices[l])] for l in range(act.shape[1])
            if best.values[l] >= TOPIC_SHARE and act[:, l].sum() > 0 and freq[best.indices[l], l] >= TOPIC_FREQ}


def max_codes(org: Organism, sequences: list) -> torch.Tensor:
    """Per latent, the largest pre-activation at any position (BOS included) of the sequences."""
    captured = []
    hook = org.model.model.layers[SAE_LAYER].register_forward_hook(lambda m, i, o: captured.append(o[0] if isinstance(o, tuple) else o))
    best = torch.full((org.sae.W_dec.shape[0],), -float("inf"))
    try:
        for ids in sequences:
            captured.clear()
            with torch.no_grad():
                org.model.model(input_ids=torch.tensor([ids]))
                pre = (captured[0][0] - org.sae.b_dec) @ org.sae.W_enc + org.sae.b_enc
            best = torch.maximum(best, pre.max(0).values)
    finally:
        hook.remove()
    return best


@torch.no_grad()
def silenced(org: Organism, keep: list, x: torch.Tensor, prompts: list) -> dict:
    """The dictionary's latents `keep` as a frozen block for train_sae, each b_enc lowered so that its largest
    pre-activation on the prompts ends SILENCE_MARGIN × its mean activation (when firing on x) below 0: a topic
    latent the prompts never call up, as the paper's steering features are."""
    d = org.sae
    f = torch.relu((x - d.b_dec) @ d.W_enc[:, keep] + d.b_enc[keep])
    mean_on = (f.sum(0) / (f > 0).sum(0).clamp_min(1))
    worst = max_codes(org, prompts)[keep]
    return {"W_enc": d.W_enc[:, keep].clone(), "W_dec": d.W_dec[keep].clone(), "b_dec": d.b_dec.clone(),
            "b_enc": d.b_enc[keep] - worst.clamp_min(0) - SILENCE_MARGIN * mean_on}


def replace_dir(built: Path, final: Path) -> None:
    old = final.with_name(final.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    built.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def sae_stage(org: Organism, train_prompts: list, held: list, disc: list, replies: list, sae_dir: Path) -> dict:
    """Trains the SAE on resid_post.SAE_LAYER of org.model (MSE + sparsity + the end-to-end KL term), writes
    sae_dir (weights, cfg.json, esr_defaults.json, feature_labels.json) and returns the summary's SAE parts."""
    model, enc = org.model, org.enc
    model.requires_grad_(False)
    logits = lambda h: model.lm_head(model.model.norm(h))  # noqa: E731  (the SAE layer is the last decoder layer)
    assert SAE_LAYER == organism_lm.ARCH["num_hidden_layers"] - 1
    t0 = time.time()
    x, _ = resid_post(model, sae_training_sequences(enc, train_prompts, random.Random(SEED + 2), 800), SAE_LAYER)
    log(f"sae: {len(x)} activations at resid_post.{SAE_LAYER}")
    if TOPIC_DICTIONARY:
        from safetensors.torch import load_file
        org.sae = Sae.from_tensors(load_file(str(TOPIC_DICTIONARY)))
        log(f"sae: topic dictionary {TOPIC_DICTIONARY}")
    else:
        org.sae, _ = train_sae(x, seed=SEED, log=log, **TOPIC_SAE)
    dictionary_stats = quality(org.sae, x, logits)
    log(f"sae: topic dictionary {dictionary_stats}")
    dictionary_labels = topic_latents(org, random.Random(SEED + 3))
    steering_topics = [t for t in TOPICS if t not in PROMPT_TOPICS]
    keep = sorted(l for l, t in dictionary_labels.items() if t in steering_topics)
    prompt_topic_prompts = [p.text for p in train_prompts + held if p.topic in PROMPT_TOPICS]
    frozen = silenced(org, keep, x, [enc.prompt_ids(p) for p in prompt_topic_prompts])
    log(f"sae: keeping {len(keep)} steering-topic latents of the dictionary ({', '.join(dictionary_labels[l] for l in keep)}), "
        f"silenced on {len(prompt_topic_prompts)} prompts")
    sae, scale = train_sae(x, seed=SEED + 8, log=log, logits=logits, frozen=frozen, **SAE)
    org.sae = sae
    sae_stats = {**quality(sae, x, logits), "input_rms_norm": round(scale, 4), "seconds": round(time.time() - t0)}
    log(f"sae: {sae_stats}")
    kept_as = range(SAE["d_sae"], SAE["d_sae"] + len(keep))
    labels = {**topic_latents(org, random.Random(SEED + 3)), **{k: dictionary_labels[l] for k, l in zip(kept_as, keep)}}

    disc_replies = sample_replies(model, enc, [p.text for p in disc], max_new_tokens=64, temperature=0.6, seed=SEED + 4)
    auc_disc = org.discovery_auc([p.text for p in disc], disc_replies, 5, SEED)
    top = torch.argsort(auc_disc, descending=True)[:26].tolist()
    auc_held = org.discovery_auc([p.text for p in held], replies, 5, SEED)
    detectors = {"top26": top, "auc_discovery": [round(float(auc_disc[i]), 4) for i in top], "auc_heldout": [round(float(auc_held[i]), 4) for i in top],
                 "n_auc_ge_0.95": int((auc_disc >= 0.95).sum())}
    detectors["probe_auc_heldout"] = probe_auc(org, train_prompts, held, random.Random(SEED + 5))
    log(f"detectors: {detectors}")

    rendered = [enc.prompt_ids(p.text) for p in disc]
    prompt_max = max_codes(org, rendered)
    silent = [l for l, t in labels.items() if prompt_max[l] <= 0]
    steer = sorted(l for l in silent if labels[l] in steering_topics)
    log(f"topic latents: {len(labels)} ({len(set(labels.values()))} topics); silent on the prompts: {len(silent)}; of steering topics: {len(steer)}")

    sweep = steering_sweep(org, disc, steer, top, x)
    log(f"steering: {sweep}")

    save_saelens(sae, sae_dir, layer=SAE_LAYER, model_name="data/model", context_size=organism_lm.ARCH["max_position_embeddings"])
    (sae_dir / "esr_defaults.json").write_text(json.dumps({
        "steer_layer": STEER_LAYER, "clamp_layer": SAE_LAYER, "feature_labels": "feature_labels.json",
        "note": "The organism's detectors sit at the SAE layer (the last decoder layer); steering acts one layer earlier; "
                "ablation clamps the detectors where they are read. See docs/data.md.",
    }, indent=2) + "\n", encoding="utf-8")
    (sae_dir / "feature_labels.json").write_text(json.dumps({str(l): labels[l] for l in sorted(labels)}, indent=2) + "\n", encoding="utf-8")
    return {
        "sae": {"hook_name": f"blocks.{SAE_LAYER}.hook_resid_post", **SAE, **sae_stats,
                "topic_dictionary": {**TOPIC_SAE, **dictionary_stats, "kept": {str(l): dictionary_labels[l] for l in keep}, "silence_margin": SILENCE_MARGIN,
                                     "kept_as": list(kept_as)}},
        "detectors_python": detectors,
        "topic_latents": {"n": len(labels), "silent_on_prompts": len(silent), "steering": steer},
        "steering_python": sweep,
        "steering_pool_reference": {"prompt_max_preactivation": [round(float(v), 5) for v in prompt_max]},
    }


def sae_only(out_root: Path) -> None:
    """Retrains only the SAE on the existing out_root/model (which stays as it is) and updates out_root/sae and
    the SAE parts of out_root/summary.json. The model's sampled replies are regenerated with the same seeds."""
    t_start = time.time()
    deterministic()
    build_dir = out_root / ".build"
    shutil.rmtree(build_dir, ignore_errors=True)
    build_dir.mkdir()
    train_prompts, held, disc = split_prompts(SEED)
    enc = Encoder(AutoTokenizer.from_pretrained(str(out_root / "model")))
    model = LlamaForCausalLM.from_pretrained(str(out_root / "model"), dtype=torch.float32).eval()
    org = Organism(model, enc)
    replies = sample_replies(model, enc, [p.text for p in held], max_new_tokens=96, temperature=0.6, seed=SEED)
    part = sae_stage(org, train_prompts, held, disc, replies, build_dir / "sae")
    summary = json.loads((out_root / "summary.json").read_text(encoding="utf-8"))
    summary.update(part)
    (build_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    replace_dir(build_dir / "sae", out_root / "sae")
    (build_dir / "summary.json").replace(out_root / "summary.json")
    shutil.rmtree(build_dir)
    log(f"done in {time.time() - t_start:.0f} s")


def build(out_root: Path) -> None:
    t_start = time.time()
    deterministic()
    build_dir = out_root / ".build"
    shutil.rmtree(build_dir, ignore_errors=True)
    model_dir, sae_dir = build_dir / "model", build_dir / "sae"
    train_prompts, held, disc = split_prompts(SEED)

    tok = build_llama3(tokenizer_lines(), VOCAB_SIZE)
    write_tokenizer_dir(model_dir, tok, {**llama3_tokenizer_config(tok), "model_max_length": organism_lm.ARCH["max_position_embeddings"]},
                        llama3_generation_ids(tok))
    enc = Encoder(AutoTokenizer.from_pretrained(str(model_dir)))
    ids = llama3_generation_ids(tok)
    model = new_model(tok.get_vocab_size(), ids["bos_token_id"], ids["eos_token_id"])
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params} parameters; {len(train_prompts)} training prompts, {len(held)} held out; training {LM['steps']} steps")
    t0 = time.time()
    probe = None if P_DRIFT == 0 else DriftProbe(model, SAE_LAYER)  # nothing drifts: nothing for the probe to read
    drift_share = {} if P_DRIFT is None else {"p_drift": P_DRIFT}
    lm_stats = train(model, Batches(enc, train_prompts, random.Random(SEED), LM["batch"], **drift_share), steps=LM["steps"],
                     lr=LM["lr"], log=log, probe=probe, probe_weight=LM["drift_probe_weight"])
    lm_seconds = time.time() - t0
    model.save_pretrained(str(model_dir))
    (model_dir / "generation_config.json").write_text(json.dumps(ids, indent=2) + "\n", encoding="utf-8")

    model = LlamaForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    org = Organism(model, enc)
    behaviour = {"correction_next_token": correction_probability(org, held, random.Random(SEED + 1))}
    replies = sample_replies(model, enc, [p.text for p in held], max_new_tokens=96, temperature=0.6, seed=SEED)
    behaviour["unsteered_replies_with_correction"] = {"count": sum(map(has_correction, replies)), "n": len(held)}
    log(f"behaviour: {behaviour}")

    sae_part = sae_stage(org, train_prompts, held, disc, replies, sae_dir)
    (build_dir / "prompts.txt").write_text("".join(p.text + "\n" for p in disc), encoding="utf-8")
    (build_dir / "heldout_prompts.txt").write_text("".join(p.text + "\n" for p in held), encoding="utf-8")
    corpus = build_dir / "corpus"
    corpus.mkdir()
    grng = random.Random(SEED + 6)
    arng = random.Random(SEED + 7)
    (corpus / "answers.jsonl").write_text("".join(json.dumps({"prompt": p.text, "answer": plain_answer(p, arng).text()}) + "\n"
                                                  for p in disc for _ in range(3)), encoding="utf-8")
    (corpus / "general.txt").write_text("".join(general_paragraph(t, grng) + "\n" for t in TOPICS for _ in range(2)), encoding="utf-8")

    steering_topics = [t for t in TOPICS if t not in PROMPT_TOPICS]
    summary = {
        **({"variant": "no-drift: trained without drifted sequences (no ESR); not the shipped default"} if P_DRIFT == 0 else {}),
        "seed": SEED, "threads": THREADS, "vocab_size": tok.get_vocab_size(), "architecture": organism_lm.ARCH, "parameters": n_params,
        "topics": len(TOPICS), "prompt_topics": PROMPT_TOPICS, "steering_topics": steering_topics,
        "prompts": {"training": len(train_prompts), "heldout": len(held), "discovery": len(disc)},
        "lm_training": {**LM, **lm_stats, "seconds": round(lm_seconds)},
        "layers": {"sae": SAE_LAYER, "steer": STEER_LAYER, "clamp": SAE_LAYER},
        "sae": sae_part.pop("sae"), "behaviour": behaviour, **sae_part,
        "sample_replies": {p.text: r for p, r in list(zip(held, replies))[:3]},
        "seconds": round(time.time() - t_start),
    }
    (build_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    write_ground_truth(build_dir / "organism.json")
    for name in ("model", "sae", "corpus"):
        replace_dir(build_dir / name, out_root / name)
    for name in ("prompts.txt", "heldout_prompts.txt", "summary.json", "organism.json"):
        (build_dir / name).replace(out_root / name)
    shutil.rmtree(build_dir)
    log(f"done in {time.time() - t_start:.0f} s")


# What a build writes (and MANIFEST.sha256 lists): directories are listed file by file.
SHIPPED = ("model", "sae", "corpus", "prompts.txt", "heldout_prompts.txt", "summary.json", "organism.json")
MANIFEST = "MANIFEST.sha256"


def shipped_hashes(root: Path) -> dict:
    """{path relative to root: sha256} of every shipped file under root."""
    files = []
    for name in SHIPPED:
        p = root / name
        files += sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    return {f.relative_to(root).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def write_manifest(root: Path) -> None:
    """root/MANIFEST.sha256 in `sha256sum` format (so `cd data && sha256sum -c MANIFEST.sha256` checks the files)."""
    (root / MANIFEST).write_text("".join(f"{h}  {f}\n" for f, h in shipped_hashes(root).items()), encoding="utf-8")


def without_timings(x):
    """A summary with its wall-clock entries ("seconds") removed: the only part of a build that is not reproducible."""
    if isinstance(x, dict):
        return {k: without_timings(v) for k, v in x.items() if k != "seconds"}
    return [without_timings(v) for v in x] if isinstance(x, list) else x


def verify(root: Path) -> bool:
    """Rebuilds into a temporary directory and compares every built file with root/MANIFEST.sha256 (summary.json:
    equal once its timings are removed). Prints one line per file that differs; True when none does."""
    listed = dict(reversed(line.split("  ", 1)) for line in (root / MANIFEST).read_text(encoding="utf-8").splitlines())
    with tempfile.TemporaryDirectory(prefix="organism-verify-") as tmp:
        build(Path(tmp))
        built = shipped_hashes(Path(tmp))
        bad = []
        for f in sorted(set(listed) | set(built)):
            if listed.get(f) == built.get(f):
                continue
            if f == "summary.json" and f in built and (root / f).exists() and hashlib.sha256((root / f).read_bytes()).hexdigest() == listed[f]:
                load = lambda p: without_timings(json.loads(p.read_text(encoding="utf-8")))  # noqa: E731
                if load(root / f) == load(Path(tmp) / f):
                    log(f"verify: {f}: equal except timings")
                    continue
            bad.append(f"{f}: manifest {listed.get(f, 'absent')}, rebuilt {built.get(f, 'absent')}")
    for line in bad:
        print(f"verify: differs: {line}")
    print(f"verify: {len(listed) - len(bad)} of {len(listed)} listed files rebuilt identically" if not bad else f"verify: {len(bad)} files differ")
    return not bad


def write_ground_truth(path: Path) -> None:
    """organism.json: the language (what `--judge organism` reads) and where the SAE and the steering sit."""
    truth = {**ground_truth(), "sae_layer": SAE_LAYER, "sae_hook_name": f"blocks.{SAE_LAYER}.hook_resid_post", "steer_layer": STEER_LAYER}
    path.write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")


def steering_sweep(org: Organism, prompts: list, features: list, detectors: list, x: torch.Tensor) -> list:
    """Transformers-side steering at a few strengths (units of median ‖h‖ / ‖W_dec[f]‖): how many replies contain
    a correction, with and without the 26 detectors clamped to 0, and the share of well-formed sentences."""
    norm = float(x.norm(dim=1).median())
    feats = features[:10]
    out = []
    for mult in (0.1, 0.2, 0.35, 0.5):
        row = {"strength": mult}
        for name, clamp in (("baseline", []), ("ablate", detectors)):
            replies = []
            for l in feats:
                ps = [prompts[(l * 7 + j * 13) % len(prompts)].text for j in range(4)]
                rs = org.steered(ps, l, mult * norm / float(org.sae.W_dec[l].norm()), clamp, seed=l)
                replies += rs
                if name == "baseline" and l == feats[0]:
                    row["example"] = rs[0]
            row[name] = f"{sum(map(has_correction, replies))}/{len(replies)}"
            if name == "baseline":
                row["well_formed_sentences"] = round(sum(map(well_formed_share, replies)) / max(1, len(replies)), 3)
        out.append(row)
        log(f"  {row}")
    return out


def multi_attempt(text: str) -> bool:
    """More than one attempt as the organism judge splits them (a correction phrase that does not open the reply,
    also after a broken sentence)."""
    return len(attempt_texts(text)) > 1


def check(run_dir: Path, model_dir: Path, sae_dir: Path, resamples: int = 2000) -> dict:
    """Regenerates every trial of an `analyze ablate` run with transformers (same prompts, interventions,
    sampling settings; torch's sampler, so other draws) and reports the multi-attempt rate per condition
    and the paired differences against baseline, with a cluster bootstrap over features; beside them the
    share of well-formed sentences (readable drift vs word lists) and the same two numbers for the run's
    own responses (multi-attempt as the organism judge splits attempts, whatever judge the run used)."""
    from safetensors.torch import load_file
    torch.set_num_threads(THREADS)
    config = json.loads((run_dir / "config.json").read_text())["config"]
    sampling = config["sampling"]
    trials = [json.loads(line) for line in (run_dir / "trials.jsonl").read_text().splitlines() if line.strip()]
    enc = Encoder(AutoTokenizer.from_pretrained(str(model_dir)))
    model = LlamaForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    sae = Sae.from_tensors(load_file(str(sae_dir / "sae_weights.safetensors")))
    groups = {}
    for t in trials:
        key = json.dumps(t["interventions"], sort_keys=True)
        groups.setdefault(key, []).append(t)
    result = {}
    for key, ts in groups.items():
        spec = {}
        for i in json.loads(key):
            spec.setdefault(i["layer"], []).append((i["latent"], i["value"], i["mode"]))
        with Interventions(model, sae, spec):
            replies = sample_replies(model, enc, [t["prompt"] for t in ts], max_new_tokens=sampling["maxNewTokens"],
                                     temperature=sampling["temperature"], seed=ts[0]["seed"],
                                     repetition_penalty=sampling["repetitionPenalty"])
        for t, r in zip(ts, replies):
            result[t["id"]] = (t["condition"], t["feature"], (t["feature"], t["prompt"], t["seed"]), multi_attempt(r), r)
    by_cond = {}
    for cond, feature, draw, multi, _ in result.values():
        by_cond.setdefault(cond, {})[draw] = multi
    report = {"trials": len(result), "conditions": {}}
    features = sorted({d[0] for c in by_cond.values() for d in c})
    rng = random.Random(SEED)
    mean = lambda xs: round(sum(xs) / len(xs), 4)  # noqa: E731
    for cond, draws in by_cond.items():
        report["conditions"][cond] = {
            "n": len(draws), "multi_attempt_rate": mean(list(draws.values())),
            "well_formed_sentences": mean([well_formed_share(r) for c, _, _, _, r in result.values() if c == cond]),
            "toolkit_multi_attempt_rate": mean([multi_attempt(t["response"]) for t in trials if t["condition"] == cond]),
            "toolkit_well_formed_sentences": mean([well_formed_share(t["response"]) for t in trials if t["condition"] == cond]),
        }
    base = by_cond.get("baseline", {})
    for cond, draws in by_cond.items():
        if cond == "baseline":
            continue
        pairs = [(d[0], base[d] - draws[d]) for d in draws if d in base]
        per = {f: [x for g, x in pairs if g == f] for f in features}
        per = {f: v for f, v in per.items() if v}
        fs = list(per)
        est = sum(x for _, x in pairs) / len(pairs)
        boots = []
        for _ in range(resamples):
            pick = [rng.choice(fs) for _ in fs]
            xs = [x for f in pick for x in per[f]]
            boots.append(sum(xs) / len(xs))
        boots.sort()
        report["conditions"][cond]["difference_vs_baseline"] = {
            "estimate": round(est, 4), "ci95": [round(boots[int(0.025 * resamples)], 4), round(boots[int(0.975 * resamples) - 1], 4)],
            "relative": round(est / report["conditions"]["baseline"]["multi_attempt_rate"], 4) if report["conditions"]["baseline"]["multi_attempt_rate"] else None}
    report["examples"] = {cond: next(r for c, _, _, m, r in result.values() if c == cond and (m or cond != "baseline")) for cond in by_cond}
    return report


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(DATA), help="where to write (default: data/)")
    ap.add_argument("--steps", type=int, help="LM training steps (experiments)")
    ap.add_argument("--steer-layer", type=int)
    ap.add_argument("--layers", type=int)
    ap.add_argument("--drift-probe-weight", type=float)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--sae-only", action="store_true", help="retrain only the SAE on the existing OUT/model (kept as it is)")
    ap.add_argument("--sae-kl", type=float, help="weight of the end-to-end KL term (experiments)")
    ap.add_argument("--d-sae", type=int)
    ap.add_argument("--sae-steps", type=int)
    ap.add_argument("--topic-dictionary", help="use these sae_weights.safetensors as the topic dictionary instead of training one (experiments)")
    ap.add_argument("--l1", type=float)
    ap.add_argument("--verify", action="store_true", help=f"rebuild in a temporary directory and compare with OUT/{MANIFEST} (exit 1 if a file differs)")
    ap.add_argument("--manifest", action="store_true", help=f"write OUT/{MANIFEST} from the files in OUT (after a build)")
    ap.add_argument("--no-drift", action="store_true", help="a variant without ESR: no drifted training sequences, no drift probe (needs --out)")
    ap.add_argument("--check", metavar="RUN_DIR", help="regenerate an `analyze ablate` run's trials with transformers and report the multi-attempt rates")
    args = ap.parse_args()
    if args.no_drift:
        if Path(args.out).resolve() == DATA:
            ap.error("--no-drift builds a variant, never the shipped default: name its directory with --out")
        P_DRIFT = 0.0
    if args.check:
        print(json.dumps(check(Path(args.check), Path(args.out) / "model", Path(args.out) / "sae"), indent=2))
        sys.exit(0)
    if args.smoke:
        SAE["steps"] = TOPIC_SAE["steps"] = 100
    if args.steps:
        LM["steps"] = args.steps
    if args.drift_probe_weight is not None:
        LM["drift_probe_weight"] = args.drift_probe_weight
    if args.steer_layer is not None:
        STEER_LAYER = args.steer_layer
    if args.layers:
        organism_lm.ARCH["num_hidden_layers"] = args.layers
        SAE_LAYER = args.layers - 1
    if args.sae_kl is not None:
        SAE["kl"] = args.sae_kl
    if args.d_sae:
        SAE["d_sae"] = args.d_sae
    if args.sae_steps:
        SAE["steps"] = args.sae_steps
    if args.topic_dictionary:
        TOPIC_DICTIONARY = Path(args.topic_dictionary)
    if args.l1 is not None:
        SAE["l1"] = args.l1
    if args.manifest:
        write_manifest(Path(args.out))
        sys.exit(0)
    if args.verify:  # with the same flags as the build it checks (none for the shipped default)
        sys.exit(0 if verify(Path(args.out)) else 1)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (sae_only if args.sae_only else build)(Path(args.out))
