"""Builds the shipped default, the model organism of ESR (docs/data.md): a
6-layer Llama checkpoint with our tokenizer and chat template (model/), a plain ReLU SAE in SAELens layout on
resid_post.3 with esr_defaults.json and feature_labels.json (sae/), the designated drift subspace at
resid_post.3 (drift_subspace.safetensors), the language's ground truth (organism.json), never-trained prompts
(prompts.txt, heldout_prompts.txt), corpus/, the build's measurements (summary.json) and MANIFEST.sha256, all
in data/ (or the directory given by --out).

Run from the repo root:
  .venv-ref/bin/python data/make_default.py                         the full build, into data/
  .venv-ref/bin/python data/make_default.py --manifest              rewrite data/sae/esr_defaults.json and data/MANIFEST.sha256
  .venv-ref/bin/python data/make_default.py --smoke --out DIR       the whole pipeline, small and fast
  .venv-ref/bin/python data/make_default.py --no-drift --out DIR    trained without drifted sequences (no ESR)
  .venv-ref/bin/python data/make_default.py --verify                rebuild in a temporary directory, compare with data/MANIFEST.sha256
                                                                    (with --smoke: a small build, against a --smoke build's OUT)
  .venv-ref/bin/python data/make_default.py --check RUN_DIR --out DIR  replay an `analyze ablate` run's trials with transformers

Deterministic: fixed seeds, torch.use_deterministic_algorithms, one torch thread. Outputs are built in
OUT/.build/ and moved into place at the end, so an interrupted run changes nothing.
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
from safetensors.torch import load_file, save_file
from transformers import AutoTokenizer, LlamaForCausalLM

sys.dont_write_bytecode = True  # no __pycache__ left in data/
DATA = Path(__file__).resolve().parent
sys.path.insert(0, str(DATA))
from llama3_tokenizer import build_llama3, llama3_generation_ids, llama3_tokenizer_config, write_tokenizer_dir  # noqa: E402
from organism_corpus import (  # noqa: E402
    CORRECTIONS, PROMPT_TOPICS, STEERING_TOPICS, TOPICS, Answer, ON, body, drifted_answer, general_paragraph, ground_truth,
    evaluation_split, judge_attempts, off_topic_sentences, plain_answer, plain_sentences, tokenizer_lines, tuning_prompts, well_formed_share,
)
import organism_eval as ev  # noqa: E402
import organism_lm  # noqa: E402
from organism_lm import MIDDLE, Batches, DriftSubspace, Encoder, Steering, new_model, resid_post, sample_replies, train  # noqa: E402
from organism_sae import Sae, quality, save_saelens, train_sae  # noqa: E402

SEED = 20250101
# The shipped steering strength and random control (sae/esr_defaults.json; `analyze ablate` uses them unless told
# otherwise): chosen after the build by the frozen design's rule on tuning prompts (m x the median residual norm at
# the steering hook; dev/organism-v2/FROZEN.md), the setting the evaluation in docs/data.md ran at.
SHIPPED_BOOST = 115.3
SHIPPED_RANDOM_MATCH = "rotation"
# Which prompts are never trained on (prompts.txt, heldout_prompts.txt): chosen by this seed among the prompts no design
# session looked at (organism_corpus.evaluation_split); fixed before any evaluation. v4 (NOTES.md, ninth session): 20261205,
# whose LM draw passed the gates (v2-b and v2-c were trained at 20261204, now spent).
SPLIT_SEED = 20261205
TUNING_PROMPTS = 144  # the build's own checks run on training prompts of the prompt topics (two halves of a seeded draw), never on the never-trained prompts
THREADS = 1  # one thread: the same bytes on every machine, and no slower on a shared 2-core machine
VOCAB_SIZE = 2048
# The drift subspace: DRIFT_DIM orthonormal directions of resid_post.MIDDLE; interchange interventions on it during
# training make the correction follow it (organism_lm.interchange_loss); a read-out of it is a training aid.
# Two phases, as gated in dev/organism-v2/NOTES.md (fourth session): a2's recipe (the read-out as a training aid),
# then a fine-tune with the balanced correction / no-correction loss at every sentence end (site_weight,
# organism_lm.site_loss), the read-out off, and the penalty on the subspace writing correction tokens straight to the
# logits (direct_weight, organism_lm.direct_write_loss), and the logit-lens penalty on the whole middle-layer residual inside
# off-topic sentences (lens_weight, organism_lm.lens_write_loss; sixth session: without it 8 of the top 26 latents wrote
# a correction token directly). 300 steps from scratch with the phase-2 losses discriminate nothing.
LM = dict(steps=1500, batch=32, lr=3e-3, drift_dim=4, interchange_weight=1.0, readout_weight=1.0, site_weight=0.0, direct_weight=0.0, lens_weight=0.0,
          interchanges_per_batch=16, steer_strength=(0.3, 1.5), mix=dict(organism_lm.MIX))
FINETUNE = dict(steps=300, lr=1e-3, readout_weight=0.0, site_weight=1.0, direct_weight=1.0, lens_weight=1.0)
LAST_LAYER = organism_lm.ARCH["num_hidden_layers"] - 1  # the correction-unembedding control acts on its output (resid_post.5)
SAE_LAYER = STEER_LAYER = MIDDLE  # detectors, clamps and steering at resid_post.3, as in the paper; layers 4 and 5 come after
# 256 learned latents (v2-c: 512): the drift signal then sits in few enough latents that the top 26 hold every detector,
# whatever the discovery seed (NOTES.md, ninth session: at 512 the top-26 cut varied 0-88% between seeds).
SAE = dict(d_sae=256, steps=3000, batch=512, lr=1e-3, l1=0.1)
TOPIC_SHARE = 0.6  # a topic latent has ≥ this share of its mean activation over topics on one topic
TOPIC_FREQ = 0.3   # and fires on ≥ this share of that topic's tokens (a topic, not one next word)
TOPIC_DIRECTION_MARGIN = 0.1  # a built steering latent ends this share of its mean own-topic projection below its largest on any prompt
# The frozen v2 build used the mean-difference direction as encoder too (None) and 2 general paragraphs per topic: 10 of its
# 24 built latents fired on its general.txt. v3 (NOTES.md, "the steering pool" and seventh session): 0.1 and 8.
BUILT_ENCODER_SHRINKAGE = 0.1  # None: encoder = decoder direction; a float: the topic's discriminant direction, this shrinkage
GENERAL_PER_STEERING_TOPIC = 8  # paragraphs per steering topic in corpus/general.txt (2 per prompt topic)
STEER_MULTS = (0.5, 1.0)  # build-time steering checks: strength as a multiple of the median residual norm of the prompts
CHECK_DRAWS = 4  # replies per steering feature in the build-time checks


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def deterministic() -> None:
    random.seed(SEED)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(THREADS)
    torch.set_flush_denormal(True)


def replace_dir(built: Path, final: Path) -> None:
    old = final.with_name(final.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    built.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def context_ids(enc: Encoder, p, parts: list) -> list:
    """A prompt and answer sentences, ending at the last sentence's final token (what comes next is the question)."""
    return enc.answer(p.text, Answer([(x, ON, True) for x in parts])).ids[:-1]


@torch.no_grad()
def p_correction(model, enc: Encoder, contexts: list, edit=None) -> float:
    """Mean P(the next token starts a correction phrase) over contexts; `edit` is a forward hook on resid_post.MIDDLE."""
    hook = model.model.layers[MIDDLE].register_forward_hook(edit) if edit else None
    try:
        ps = [float(model(input_ids=torch.tensor([c])).logits[0, -1].softmax(-1)[enc.correction_first].sum()) for c in contexts]
    finally:
        if hook:
            hook.remove()
    return round(sum(ps) / len(ps), 4)


def last_token_edit(fn):
    """A forward hook that replaces resid_post.MIDDLE at the last position by fn(h_last)."""
    def hook(module, inputs, output):
        h = (output[0] if isinstance(output, tuple) else output).clone()
        h[:, -1] = fn(h[:, -1])
        return (h, *output[1:]) if isinstance(output, tuple) else h
    return hook


def behaviour(model, enc: Encoder, drift: DriftSubspace, held: list, rng: random.Random) -> dict:
    """The planted mechanism, measured on never-trained prompts: P(correction next) after an off-topic vs an on-topic
    sentence; with the drift subspace zeroed (off-topic) or given an off-topic context's value (on-topic); and, as a
    control, a random subspace of the same dimension zeroed."""
    off, on = [], []
    for p in held:
        before = plain_sentences(p, rng)[: rng.choice([0, 1, 2])]
        off.append(context_ids(enc, p, before + off_topic_sentences(p.topic, rng, 1)))
        on.append(context_ids(enc, p, before + [body(p.topic, rng, p)]))
    out = {"n": len(held), "after_off_topic": p_correction(model, enc, off), "after_on_topic": p_correction(model, enc, on)}
    if drift is None:
        return out
    last = [len(c) - 2 for c in off]  # row of each context's last token in resid_post's output (BOS dropped)
    h_off, owner = resid_post(model, off, MIDDLE)
    starts = [int((owner < i).sum()) for i in range(len(off))]
    donor = [h_off[s + j] for s, j in zip(starts, last)]
    g = torch.Generator().manual_seed(SEED + 21)
    other = torch.linalg.qr(torch.randn(drift.basis.shape, generator=g))[0]
    out["after_off_topic_subspace_zeroed"] = p_correction(model, enc, off, last_token_edit(lambda h: h - drift.part(h)))
    out["after_off_topic_random_subspace_zeroed"] = p_correction(model, enc, off, last_token_edit(lambda h: h - (h @ other) @ other.T))
    patched = []
    for c, d in zip(on, donor):
        patched.append(p_correction(model, enc, [c], last_token_edit(lambda h, d=d: h - drift.part(h) + drift.part(d))))
    out["after_on_topic_subspace_from_off_topic"] = round(sum(patched) / len(patched), 4)
    return out


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


@torch.no_grad()
def spliced_kl(model, sae: Sae, sequences: list) -> dict:
    """KL(model ‖ model with resid_post.SAE_LAYER replaced by the SAE's reconstruction), and with it replaced by its
    mean (the reference), per token over the sequences: how much of the next-token distribution the SAE keeps."""
    def kl(edit):
        total, n = 0.0, 0
        for ids in sequences:
            x = torch.tensor([ids])
            p = model(input_ids=x).logits[0].log_softmax(-1)
            hook = model.model.layers[SAE_LAYER].register_forward_hook(edit)
            try:
                q = model(input_ids=x).logits[0].log_softmax(-1)
            finally:
                hook.remove()
            total += float((p.exp() * (p - q)).sum())
            n += len(ids)
        return round(total / n, 5)
    h, _ = resid_post(model, sequences, SAE_LAYER)
    mean = h.mean(0)
    recon = lambda m, i, o: sae.decode(sae.encode(o[0] if isinstance(o, tuple) else o))  # noqa: E731
    meaned = lambda m, i, o: torch.zeros_like(o[0] if isinstance(o, tuple) else o) + mean  # noqa: E731
    return {"kl_spliced": kl(recon), "kl_mean_ablation": kl(meaned)}


def topic_latents(model, enc: Encoder, sae: Sae, rng: random.Random) -> dict:
    """latent → topic for latents whose mean activation over general text is concentrated on one topic."""
    topics = list(TOPICS)
    act = torch.zeros(len(topics), sae.W_dec.shape[0])
    freq = torch.zeros_like(act)
    for t, topic in enumerate(topics):
        h, _ = resid_post(model, [enc.general(general_paragraph(topic, rng)).ids for _ in range(8)], SAE_LAYER)
        with torch.no_grad():
            f = sae.encode(h)
        act[t], freq[t] = f.mean(0), (f > 0).float().mean(0)
    share = act / act.sum(0, keepdim=True).clamp_min(1e-9)
    best = share.max(0)
    return {int(l): topics[int(best.indices[l])] for l in range(act.shape[1])
            if best.values[l] >= TOPIC_SHARE and act[:, l].sum() > 0 and freq[best.indices[l], l] >= TOPIC_FREQ}


@torch.no_grad()
def max_preactivation(model, sae: Sae, sequences: list) -> torch.Tensor:
    """Per latent, the largest pre-activation at any position (BOS included) of the sequences."""
    captured = []
    hook = model.model.layers[SAE_LAYER].register_forward_hook(lambda m, i, o: captured.append(o[0] if isinstance(o, tuple) else o))
    best = torch.full((sae.W_dec.shape[0],), -float("inf"))
    try:
        for ids in sequences:
            captured.clear()
            model.model(input_ids=torch.tensor([ids]))
            best = torch.maximum(best, ((captured[0][0] - sae.b_dec) @ sae.W_enc + sae.b_enc).max(0).values)
    finally:
        hook.remove()
    return best


def detectors(model, enc: Encoder, sae: Sae, prompts: list, seed: int) -> dict:
    """The discovery test on the prompts with the model's own replies (64 tokens, T 0.6, as find-otd-latents does)."""
    texts = [p.text for p in prompts]
    replies = sample_replies(model, enc, texts, max_new_tokens=64, temperature=0.6, seed=seed)
    d = ev.discovery(model, enc, sae, SAE_LAYER, texts, replies, 5, seed)
    found = [l for l in d["rank"] if d["auc"][l] >= 0.9 and d["q"][l] < 0.05]
    return {"rank": d["rank"], "auc": d["auc"], "q": d["q"], "detectors": found,
            "replies_with_correction": sum(any(c in r for c in CORRECTIONS) for r in replies)}


def discriminant_fit_sequences(enc: Encoder, train_prompts: list, pairs: int = 600) -> list:
    """What a built latent's discriminant encoder is fitted to stay off (training prompts only): every training prompt of
    the prompt topics, and `pairs` of its on-topic and off-topic plain answers. Without the answers the discriminant picks
    up the off-topic context and 3-4 of the 24 built latents become detectors (NOTES.md, "the steering pool")."""
    rng = random.Random(SEED + 17)
    pt = [p for p in train_prompts if p.topic in PROMPT_TOPICS]
    seqs = [enc.prompt_ids(p.text) for p in pt]
    for _ in range(pairs):
        p = rng.choice(pt)
        q = rng.choice([x for x in pt if x.topic != p.topic])
        seqs += [enc.answer(p.text, plain_answer(p, rng)).ids, enc.answer(p.text, plain_answer(q, rng)).ids]
    return seqs


def sae_stage(model, enc: Encoder, drift: DriftSubspace, train_prompts: list, tune: tuple, never_trained: list, sae_dir: Path) -> dict:
    """Trains the SAE on resid_post.SAE_LAYER, labels its topic latents, finds the detectors, and measures what the
    mechanism documentation needs, on the two halves of the tuning prompts (`tune`); the built steering latents are
    made silent on every prompt-topic prompt (never_trained included, as the toolkit's steering pool requires); writes
    sae_dir (weights, cfg.json, esr_defaults.json, feature_labels.json)."""
    disc, held = tune
    model.requires_grad_(False)
    t0 = time.time()
    x, _ = resid_post(model, sae_training_sequences(enc, train_prompts, random.Random(SEED + 2), 600), SAE_LAYER)
    log(f"sae: {len(x)} activations at resid_post.{SAE_LAYER}")
    sae, scale = train_sae(x, seed=SEED, log=log, **SAE)
    kl_seqs = sae_training_sequences(enc, train_prompts, random.Random(SEED + 9), 20)
    stats = {**quality(sae, x), **spliced_kl(model, sae, kl_seqs), "input_rms_norm": round(scale, 4), "seconds": round(time.time() - t0)}
    log(f"sae: {stats}")
    # Steering features: one built latent per steering topic appended to the SAE (the topic's mean-difference direction,
    # silent on every prompt of a prompt topic); the learned SAE at this layer has almost no topic latents (NOTES.md).
    silent_on = [enc.prompt_ids(p.text) for p in train_prompts + never_trained if p.topic in PROMPT_TOPICS]
    fit_on = [] if BUILT_ENCODER_SHRINKAGE is None else discriminant_fit_sequences(enc, train_prompts)
    sae, built_labels, built_stats = ev.with_topic_direction_latents(model, enc, sae, SAE_LAYER, STEERING_TOPICS, silent_on, SEED + 14,
                                                                     TOPIC_DIRECTION_MARGIN, BUILT_ENCODER_SHRINKAGE, fit_on)
    labels = {**topic_latents(model, enc, sae, random.Random(SEED + 3)), **built_labels}
    prompt_max = max_preactivation(model, sae, [enc.prompt_ids(p.text) for p in never_trained + disc + held])
    steer = sorted(l for l, t in labels.items() if t in STEERING_TOPICS and prompt_max[l] <= 0)
    log(f"topic latents: {len(labels)} over {len(set(labels.values()))} topics; steering features (steering topics, silent on "
        f"every prompt): {len(steer)} over {len({labels[l] for l in steer})} topics")

    found = detectors(model, enc, sae, disc, SEED + 4)
    found_held = detectors(model, enc, sae, held, SEED + 5)
    top = found["rank"][:26]
    dla = ev.direct_logit_attribution(model, sae.W_dec[top], enc.correction_first)
    promoting_all = [l for l, r in enumerate(ev.direct_logit_attribution(model, sae.W_dec, enc.correction_first)) if r["promotes_watched"]]
    cos = ev.subspace_cosine(sae.W_dec, drift.basis) if drift is not None else None
    det = {
        "prompts": f"tuning prompts: training prompts of the prompt topics, organism_corpus.tuning_prompts(training, {TUNING_PROMPTS}), "
                   "first half (found) and second half (found_heldout, and the steering checks)",
        "found": found["detectors"], "found_heldout": found_held["detectors"],
        "top26": [{"latent": l, "strat_auc": round(float(found["auc"][l]), 4), "q": float(found["q"][l]),
                   "strat_auc_heldout": round(float(found_held["auc"][l]), 4),
                   "drift_subspace_cosine": round(float(cos[l]), 4) if cos is not None else None,
                   "top_promoted_tokens": [enc.tok.decode([t]) for t in r["top"]], "promotes_correction": r["promotes_watched"]}
                  for l, r in zip(top, dla)],
        "top26_promoting_correction": sum(r["promotes_watched"] for r in dla),
        "latents_promoting_correction": promoting_all,
        "unsteered_replies_with_correction": {"discovery": found["replies_with_correction"], "heldout": found_held["replies_with_correction"],
                                              "n": [len(disc), len(held)]},
    }
    if cos is not None:
        det["drift_subspace_cosine_all_latents"] = {"median": round(float(cos.median()), 4), "random_direction_expectation": round((drift.basis.shape[1] / drift.basis.shape[0]) ** 0.5, 4),
                                                    "latents_at_least_0.8": int((cos >= 0.8).sum())}
    log(f"detectors: {len(found['detectors'])} (held-out {len(found_held['detectors'])}); of the top 26, {det['top26_promoting_correction']} promote a correction token")

    checks = steering_checks(model, enc, sae, held, steer, top, promoting_all, found["auc"], x)
    save_saelens(sae, sae_dir, layer=SAE_LAYER, model_name="data/model", context_size=organism_lm.ARCH["max_position_embeddings"])
    write_esr_defaults(sae_dir)
    (sae_dir / "feature_labels.json").write_text(json.dumps({str(l): labels[l] for l in sorted(labels)}, indent=2) + "\n", encoding="utf-8")
    return {
        "sae": {"hook_name": f"blocks.{SAE_LAYER}.hook_resid_post", **SAE, **stats},
        "detectors_python": det,
        "built_steering_latents": {"latents": sorted(built_labels), **built_stats},
        "topic_latents": {"n": len(labels), "topics": len(set(labels.values())), "steering": steer,
                          "steering_topics_covered": len({labels[l] for l in steer})},
        "steering_python": checks,
        "steering_pool_reference": {"prompt_max_preactivation": [round(float(v), 5) for v in prompt_max]},
    }


def steering_checks(model, enc: Encoder, sae: Sae, prompts: list, features: list, top: list, promoting: list, auc, x) -> list:
    """Transformers-side steering along the steering features at two strengths, judged by the organism judge: baseline,
    the top 26 clamped, and the two controls — the latents that promote a correction token but do not detect
    (AUC < 0.7) clamped, and the correction tokens' unembedding directions (final norm's weight folded in) projected out of
    the last decoder layer's output, where it removes those tokens' logits and nothing upstream."""
    norm = float(x.norm(dim=1).median())
    nondetecting = [l for l in promoting if auc[l] < 0.7][:26]
    unembed = ev.unembedding(model)[enc.correction_first]
    texts = [p.text for p in prompts]
    out = []
    for mult in STEER_MULTS:
        value_of = lambda f, mult=mult: mult * norm / float(sae.W_dec[f].norm())  # noqa: E731
        for name, clamp, extra in (("baseline", [], None), ("ablate_top26", top, None),
                                   ("clamp_correction_promoting_nondetectors", nondetecting, None),
                                   ("project_out_correction_unembedding", [], {"project": {LAST_LAYER: unembed}})):
            rows = ev.steered_trials(model, enc, sae, prompts=texts, features=features[:20], value_of=value_of, steer_layer=STEER_LAYER,
                                     clamp_layer=SAE_LAYER, clamp=clamp, draws=CHECK_DRAWS, seed=SEED + 6, extra=extra)
            r = {"strength": mult, "condition": name, "clamped": len(clamp), **ev.rates(rows)}
            out.append(r)
            log(f"  steering {r}")
    return out


def write_esr_defaults(sae_dir: Path) -> None:
    """sae/esr_defaults.json: the hook points, the labels file, the shipped steering strength and random control."""
    (sae_dir / "esr_defaults.json").write_text(json.dumps({
        "steer_layer": f"blocks.{STEER_LAYER}.hook_resid_post", "clamp_layer": f"blocks.{SAE_LAYER}.hook_resid_post",
        "feature_labels": "feature_labels.json", "boost": SHIPPED_BOOST, "random_match": SHIPPED_RANDOM_MATCH,
        "note": "The organism's drift subspace, SAE, detectors, clamps and steering all sit at resid_post.3 (two decoder layers "
                "follow it), as the paper steers and ablates at the SAE's layer; the boost is m x the median residual norm there, the "
                "frozen design's strength (--calibrate or any calibration flag sets it aside). See docs/data.md.",
    }, indent=2) + "\n", encoding="utf-8")


def write_manifest(root: Path) -> None:
    """MANIFEST.sha256 (sha256sum format) of every built file under root (not the generator beside them in data/)."""
    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(root).as_posix()}"
             for p in sorted(root.rglob("*")) if p.is_file() and p.relative_to(root).parts[0] in BUILT]
    (root / "MANIFEST.sha256").write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_corpus(corpus: Path, disc: list) -> None:
    """corpus/: answers.jsonl (3 plain answers to each prompts.txt prompt) and general.txt (GENERAL_PER_STEERING_TOPIC
    paragraphs per steering topic, 2 per prompt topic), from their own seeds (not the LM's)."""
    corpus.mkdir()
    grng, arng = random.Random(SEED + 6), random.Random(SEED + 7)
    (corpus / "answers.jsonl").write_text("".join(json.dumps({"prompt": p.text, "answer": plain_answer(p, arng).text()}) + "\n"
                                                  for p in disc for _ in range(3)), encoding="utf-8")
    (corpus / "general.txt").write_text("".join(general_paragraph(t, grng) + "\n" for t in TOPICS
                                                for _ in range(GENERAL_PER_STEERING_TOPIC if t in STEERING_TOPICS else 2)), encoding="utf-8")


def tuning_halves(train_prompts: list) -> tuple:
    """The build's TUNING_PROMPTS tuning prompts in two halves: detectors are found on the first, checked on the second."""
    tune = tuning_prompts(train_prompts, TUNING_PROMPTS)
    return tune[: TUNING_PROMPTS // 2], tune[TUNING_PROMPTS // 2:]


BUILT = ("model", "sae", "corpus", "prompts.txt", "heldout_prompts.txt", "organism.json", "drift_subspace.safetensors", "summary.json")


def build(out_root: Path, no_drift: bool = False) -> None:
    t_start, c_start = time.time(), time.process_time()
    deterministic()
    build_dir = out_root / ".build"
    shutil.rmtree(build_dir, ignore_errors=True)
    model_dir, sae_dir = build_dir / "model", build_dir / "sae"
    train_prompts, disc, held = evaluation_split(SPLIT_SEED)
    tune = tuning_halves(train_prompts)

    tok = build_llama3(tokenizer_lines(), VOCAB_SIZE)
    write_tokenizer_dir(model_dir, tok, {**llama3_tokenizer_config(tok), "model_max_length": organism_lm.ARCH["max_position_embeddings"]},
                        llama3_generation_ids(tok))
    enc = Encoder(AutoTokenizer.from_pretrained(str(model_dir)))
    ids = llama3_generation_ids(tok)
    model = new_model(tok.get_vocab_size(), ids["bos_token_id"], ids["eos_token_id"])
    n_params = sum(p.numel() for p in model.parameters())
    mix = dict(LM["mix"], drifted=0.0, steered=0.0) if no_drift else LM["mix"]
    drift = None if no_drift else DriftSubspace(organism_lm.ARCH["hidden_size"], LM["drift_dim"], SEED + 11)
    steering = None if no_drift else Steering(enc, random.Random(SEED + 12), LM["steer_strength"])
    log(f"model: {n_params} parameters; {len(train_prompts)} training prompts; {len(disc)} + {len(held)} never trained; "
        f"training {LM['steps']} steps{' without drifted sequences' if no_drift else ''}")
    t0, c0 = time.time(), time.process_time()
    batches = Batches(enc, train_prompts, random.Random(SEED), LM["batch"], mix=mix)
    phases = [LM] if no_drift else [LM, {**LM, **FINETUNE}]
    lm_stats = {}
    for k, ph in enumerate(phases):
        lm_stats[f"phase_{k + 1}"] = train(model, batches, steps=ph["steps"], lr=ph["lr"], log=log, enc=enc, drift=drift, steering=steering,
                                           iit_weight=ph["interchange_weight"], probe_weight=ph["readout_weight"], site_weight=ph["site_weight"],
                                           direct_weight=ph["direct_weight"], lens_weight=ph["lens_weight"], iit_per_batch=ph["interchanges_per_batch"], iit_seed=SEED + 13 + k)
        if steering is not None:
            steering.dirs = None  # each phase's steering starts after its own first refresh (as the gate runs did)
    lm_stats.update(seconds=round(time.time() - t0), cpu_seconds=round(time.process_time() - c0))
    model.save_pretrained(str(model_dir))
    (model_dir / "generation_config.json").write_text(json.dumps(ids, indent=2) + "\n", encoding="utf-8")
    if drift is not None:
        save_file({"basis": drift.basis.contiguous()}, str(build_dir / "drift_subspace.safetensors"),
                  metadata={"hook_name": f"blocks.{MIDDLE}.hook_resid_post", "layout": "[d_model, k], orthonormal columns"})

    model = LlamaForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    beh = {"correction_next_token": behaviour(model, enc, drift, tune[0], random.Random(SEED + 1)), "prompts": "tuning prompts, first half"}
    log(f"behaviour: {beh}")
    sae_part = sae_stage(model, enc, drift, train_prompts, tune, disc + held, sae_dir)

    (build_dir / "prompts.txt").write_text("".join(p.text + "\n" for p in disc), encoding="utf-8")
    (build_dir / "heldout_prompts.txt").write_text("".join(p.text + "\n" for p in held), encoding="utf-8")
    write_corpus(build_dir / "corpus", disc)
    truth = {**ground_truth(), "heldout_topics": PROMPT_TOPICS, "sae_layer": SAE_LAYER, "steer_layer": STEER_LAYER, "clamp_layer": SAE_LAYER,
             "sae_hook_name": f"blocks.{SAE_LAYER}.hook_resid_post",
             "drift_subspace": None if drift is None else {"layer": MIDDLE, "hook_name": f"blocks.{MIDDLE}.hook_resid_post",
                                                           "basis_file": "drift_subspace.safetensors", "tensor": "basis",
                                                           "dim": LM["drift_dim"]},
             "trained_without_drift": no_drift}
    (build_dir / "organism.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    summary = {
        "seed": SEED, "threads": THREADS, "vocab_size": tok.get_vocab_size(), "architecture": organism_lm.ARCH, "parameters": n_params,
        "topics": len(TOPICS), "prompt_topics": PROMPT_TOPICS, "steering_topics": STEERING_TOPICS,
        "prompts": {"split_seed": SPLIT_SEED, "split": "organism_corpus.evaluation_split", "training": len(train_prompts), "discovery": len(disc),
                    "heldout": len(held), "tuning_checks": TUNING_PROMPTS},
        "lm_training": {**{k: v for k, v in LM.items() if k != "steps"}, "finetune": None if no_drift else FINETUNE, "mix": mix, **lm_stats,
                        "no_drift": no_drift},
        "layers": {"drift_subspace": MIDDLE, "sae": SAE_LAYER, "steer": STEER_LAYER, "clamp": SAE_LAYER, "decoder_layers": organism_lm.ARCH["num_hidden_layers"]},
        "sae": sae_part.pop("sae"), "behaviour": beh, **sae_part,
        "seconds": round(time.time() - t_start), "cpu_seconds": round(time.process_time() - c_start),
    }
    (build_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for name in BUILT:
        if not (build_dir / name).exists():
            continue
        if (build_dir / name).is_dir():
            replace_dir(build_dir / name, out_root / name)
        else:
            (build_dir / name).replace(out_root / name)
    shutil.rmtree(build_dir)
    write_manifest(out_root)
    log(f"done in {time.time() - t_start:.0f} s ({time.process_time() - c_start:.0f} s of CPU)")


def verify(root: Path) -> int:
    """Rebuilds into a temporary directory and compares every built file with root/MANIFEST.sha256. Timings and the build's own clock readings in summary.json are not
    compared (they differ by machine): summary.json is compared with its `seconds` fields removed."""
    manifest = dict(reversed(line.split("  ", 1)) for line in (root / "MANIFEST.sha256").read_text(encoding="utf-8").splitlines() if line)
    with tempfile.TemporaryDirectory() as tmp:
        build(Path(tmp))
        bad = []
        for path, want in sorted(manifest.items()):
            top = path.split("/")[0]
            f = (Path(tmp) if top in BUILT else root) / path
            if not f.exists():
                bad.append(f"{path}: missing")
            elif path == "summary.json":
                if timeless(f) != timeless(root / path):
                    bad.append(f"{path}: differs (beyond timings)")
            elif path.endswith(".safetensors"):
                if canonical_safetensors(f) != canonical_safetensors(root / path):
                    bad.append(f"{path}: differs")
            elif hashlib.sha256(f.read_bytes()).hexdigest() != want:
                bad.append(f"{path}: differs")
    for b in bad:
        print(b)
    print(f"{len(manifest) - len(bad)} of {len(manifest)} files match {root / 'MANIFEST.sha256'}")
    return 1 if bad else 0


def canonical_safetensors(path: Path) -> bytes:
    """A safetensors file with its JSON header's keys sorted: safetensors writes the `__metadata__` entries from a hash map,
    so their order (and with it the file's bytes) can differ between two runs that save the same tensors and metadata."""
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    return json.dumps(json.loads(raw[8:8 + n]), sort_keys=True).encode() + raw[8 + n:]


def timeless(path: Path) -> str:
    def strip(v):
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if k not in ("seconds", "cpu_seconds")}
        return [strip(x) for x in v] if isinstance(v, list) else v
    return json.dumps(strip(json.loads(path.read_text(encoding="utf-8"))), sort_keys=True)


def check(run_dir: Path, model_dir: Path, sae_dir: Path, resamples: int = 2000) -> dict:
    """Regenerates every trial of an `analyze ablate` run with transformers (same prompts, interventions and
    sampling settings; torch's sampler, so other draws), judges the replies with the organism judge, and reports
    per condition the multi-attempt and ESR rates, the mean first-attempt score and the well-formed share, beside
    the run's own numbers, and the paired differences against baseline with a cluster bootstrap over features."""
    torch.set_num_threads(THREADS)
    config = json.loads((run_dir / "config.json").read_text())["config"]
    sampling = config["sampling"]
    trials = [json.loads(line) for line in (run_dir / "trials.jsonl").read_text().splitlines() if line.strip()]
    enc = Encoder(AutoTokenizer.from_pretrained(str(model_dir)))
    model = LlamaForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    sae = Sae.from_tensors(load_file(str(sae_dir / "sae_weights.safetensors")))
    replies = ev.replay_replies(model, enc, sae, trials, sampling)
    replay = {t["id"]: ([s for _, s in judge_attempts(t["prompt"], replies[t["id"]])], replies[t["id"]]) for t in trials}
    def row(scores):
        return {"multi": len(scores) > 1, "esr": len(scores) > 1 and scores[-1] > scores[0], "first": scores[0] if scores else 0}
    mean = lambda xs: round(sum(xs) / max(1, len(xs)), 4)  # noqa: E731
    report = {"trials": len(trials), "conditions": {}}
    by = {}
    for t in trials:
        cond = t["condition"]
        own = [a["score"] for a in (t.get("judge") or {}).get("attempts", [])]
        by.setdefault(cond, []).append((t["feature"], (t["feature"], t["prompt"], t["seed"]), row(replay[t["id"]][0]), row(own), replay[t["id"]][1]))
    for cond, rows in by.items():
        report["conditions"][cond] = {
            "n": len(rows),
            **{f"{k}_rate" if k != "first" else "first_attempt_score": mean([r[2][k] for r in rows]) for k in ("multi", "esr", "first")},
            "well_formed": mean([well_formed_share(r[4]) for r in rows]),
            "toolkit": {f"{k}_rate" if k != "first" else "first_attempt_score": mean([r[3][k] for r in rows]) for k in ("multi", "esr", "first")},
        }
    rng = random.Random(SEED)
    base = {r[1]: r[2] for r in by.get("baseline", [])}
    for cond, rows in by.items():
        if cond == "baseline" or not base:
            continue
        for metric in ("multi", "esr"):
            per = {}
            for f, draw, r, _, _ in rows:
                if draw in base:
                    per.setdefault(f, []).append(float(r[metric]) - float(base[draw][metric]))
            fs = list(per)
            est = sum(sum(v) for v in per.values()) / sum(len(v) for v in per.values())
            boots = []
            for _ in range(resamples):
                xs = [x for f in (rng.choice(fs) for _ in fs) for x in per[f]]
                boots.append(sum(xs) / len(xs))
            boots.sort()
            b = report["conditions"]["baseline"][f"{metric}_rate"]
            report["conditions"][cond][f"{metric}_difference_vs_baseline"] = {
                "estimate": round(est, 4), "ci95": [round(boots[int(0.025 * resamples)], 4), round(boots[int(0.975 * resamples) - 1], 4)],
                "relative": round(-est / b, 4) if b else None}
    return report


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(DATA), help="where to write (default: data/)")
    ap.add_argument("--smoke", action="store_true", help="the whole pipeline at a small size (40 LM steps, 200 SAE steps, few checks): minutes, not for use")
    ap.add_argument("--steps", type=int, help="LM training steps of the first phase (experiments)")
    ap.add_argument("--no-drift", action="store_true",
                    help="train without drifted sequences, interchange interventions or steering-like perturbations: the same language and "
                         "architecture with no self-correction to find (a base for fine-tuning experiments)")
    ap.add_argument("--verify", action="store_true", help="rebuild in a temporary directory and compare with OUT/MANIFEST.sha256 "
                    "(with --smoke: a smoke build, for checking this path against a --smoke build)")
    ap.add_argument("--manifest", action="store_true", help="write OUT/sae/esr_defaults.json (the shipped strength and random "
                    "control) and OUT/MANIFEST.sha256 from the built files in OUT (after a build is copied in)")
    ap.add_argument("--check", metavar="RUN_DIR", help="replay an `analyze ablate` run's trials with transformers, judged by the organism judge")
    args = ap.parse_args()
    out = Path(args.out)
    if args.check:
        print(json.dumps(check(Path(args.check), out / "model", out / "sae"), indent=2))
        sys.exit(0)
    if args.manifest:
        write_esr_defaults(out / "sae")
        write_manifest(out)
        sys.exit(0)
    if args.smoke:
        LM["steps"], FINETUNE["steps"], SAE["steps"], CHECK_DRAWS = 40, 20, 200, 1
    if args.verify:
        sys.exit(verify(out))
    if args.steps:
        LM["steps"] = args.steps
    out.mkdir(parents=True, exist_ok=True)
    build(out, no_drift=args.no_drift)
