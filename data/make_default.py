"""Builds the shipped default: data/model (a toy Llama checkpoint with our tokenizer and chat template)
and data/sae (a ReLU SAE in SAELens layout on one layer of it), from data/prompts.txt and data/corpus/.

Run from the repo root:  .venv-ref/bin/python data/make_default.py
Deterministic: fixed seeds, torch.use_deterministic_algorithms, a fixed thread count (2). The outputs
are built in data/.build/ and moved into place at the end, so an interrupted run changes nothing.
data/summary.json records the settings and the quality numbers printed at the end.
"""

import json
import random
import shutil
import sys
import time
from pathlib import Path

import torch
from transformers import AutoTokenizer, LlamaForCausalLM

sys.dont_write_bytecode = True  # no __pycache__ left in data/
DATA = Path(__file__).resolve().parent
sys.path.insert(0, str(DATA))
from llama3_tokenizer import build_llama3, llama3_generation_ids, llama3_tokenizer_config, write_tokenizer_dir  # noqa: E402
from toy_corpus import (  # noqa: E402
    CORRECTIONS, answer_sequences, correction_sequences, derangement, general_sequences, load_corpus, pair_texts,
    sentences, tokenizer_lines,
)
from toy_lm import ARCH, new_model, reply, target_loss, train  # noqa: E402
from toy_sae import quality, resid_post, save_saelens, train_sae  # noqa: E402

SEED = 20250101
THREADS = 2
VOCAB_SIZE = 1536
LM = dict(epochs=60, batch_size=16, lr=3e-3)
SAE_LAYER = 2  # resid_post after decoder layer 2 of 0..3
SAE = dict(d_sae=1024, steps=6000, batch=512, lr=1e-3, l1=0.1)
SAE_DERANGEMENTS = 4
SAMPLE_PROMPTS = ["Explain how to bake bread.", "Explain how to fix a flat bicycle tyre.", "Explain how a rainbow forms."]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def deterministic() -> None:
    random.seed(SEED)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(THREADS)
    torch.set_flush_denormal(True)  # tiny early Adam statistics otherwise make the first epochs ~10x slower


def build_tokenizer(corpus, out: Path):
    tok = build_llama3(tokenizer_lines(corpus), VOCAB_SIZE)
    config = {**llama3_tokenizer_config(tok), "model_max_length": ARCH["max_position_embeddings"]}
    write_tokenizer_dir(out, tok, config, llama3_generation_ids(tok))
    return tok


def latent_auc(codes: torch.Tensor, pairs: list) -> torch.Tensor:
    """Per latent: AUC of the response-span max code, off-topic pairs against on-topic pairs."""
    pooled, offs, pos = [], [], 0
    for n, pair in enumerate(pairs):
        length = len(pair["ids"]) - 1  # BOS was dropped
        s, e = pair["span"]
        pooled.append(codes[pos + s - 1:pos + e - 1].max(0).values)
        offs.append(pair["condition"] == "off_topic")
        pos += length
    pooled, offs = torch.stack(pooled), torch.tensor(offs)
    a, b = pooled[offs], pooled[~offs]
    greater = (a[:, None, :] > b[None, :, :]).float().mean((0, 1))
    ties = (a[:, None, :] == b[None, :, :]).float().mean((0, 1))
    return greater + 0.5 * ties


def replace_dir(built: Path, final: Path) -> None:
    old = final.with_name(final.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    built.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def main() -> None:
    t_start = time.time()
    deterministic()
    build = DATA / ".build"
    shutil.rmtree(build, ignore_errors=True)
    model_dir, sae_dir = build / "model", build / "sae"

    corpus = load_corpus(DATA)
    tok = build_tokenizer(corpus, model_dir)
    hf_tok = AutoTokenizer.from_pretrained(str(model_dir))
    answers, general = answer_sequences(hf_tok, corpus), general_sequences(hf_tok, corpus)
    rng = random.Random(SEED)
    epoch_data = lambda epoch: answers + general + correction_sequences(hf_tok, corpus, rng)  # noqa: E731
    log(f"corpus: {len(corpus.prompts)} prompts, {len(answers)} answers, {len(general)} paragraphs; "
        f"per epoch also {len(answers)} fresh off-topic openings with a correction")

    ids = llama3_generation_ids(tok)
    model = new_model(tok.get_vocab_size(), ids["bos_token_id"], ids["eos_token_id"])
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params} parameters; training {LM['epochs']} epochs")
    t0 = time.time()
    lm_stats = train(model, epoch_data, seed=SEED, log=log, **LM)
    lm_stats["seconds"] = round(time.time() - t0, 1)
    model.save_pretrained(str(model_dir))
    # save_pretrained rewrote generation_config.json from the model config; keep ours (BOS + both EOS ids).
    (model_dir / "generation_config.json").write_text(json.dumps(ids, indent=2) + "\n", encoding="utf-8")

    # Everything below uses the checkpoint as a user would load it.
    model = LlamaForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    held_out = correction_sequences(hf_tok, corpus, random.Random(SEED + 1))
    lm_stats["eval_loss"] = {"answer": round(target_loss(model, answers), 4), "general": round(target_loss(model, general), 4),
                             "correction_held_out": round(target_loss(model, held_out), 4)}
    behaviour = check_behaviour(model, hf_tok, corpus)
    greedy = {p: behaviour["replies"][p] for p in SAMPLE_PROMPTS}
    sampled = {SAMPLE_PROMPTS[0]: reply(model, hf_tok, SAMPLE_PROMPTS[0], 120, sample_seed=SEED)}

    t0 = time.time()
    pairs = pair_texts(hf_tok, corpus, SAE_DERANGEMENTS, SEED)
    episodes = correction_sequences(hf_tok, corpus, random.Random(SEED + 3))
    x, owner = resid_post(model, [p["ids"] for p in pairs] + [e.ids for e in episodes], SAE_LAYER)
    log(f"sae: {len(x)} activations from {len(pairs)} pairs and {len(episodes)} corrections at resid_post.{SAE_LAYER}")
    sae, scale = train_sae(x, seed=SEED, log=log, **SAE)
    sae_stats = {**quality(sae, x), "seconds": round(time.time() - t0, 1), "input_rms_norm": round(scale, 4)}
    with torch.no_grad():
        auc = latent_auc(sae.encode(x[owner < len(pairs)]), pairs)
    top = torch.argsort(auc, descending=True)[:5]
    sae_stats["off_topic_auc"] = {"n_auc_ge_0.8": int((auc >= 0.8).sum()),
                                  "top": [{"latent": int(i), "auc": round(float(auc[i]), 4)} for i in top]}
    sae_stats["answer_loss_with_sae"] = round(spliced_loss(model, sae, answers), 4)
    save_saelens(sae, sae_dir, layer=SAE_LAYER, model_name="data/model", context_size=ARCH["max_position_embeddings"])

    summary = {
        "seed": SEED, "threads": THREADS, "vocab_size": tok.get_vocab_size(), "architecture": ARCH, "parameters": n_params,
        "lm_training": {**LM, **{k: v for k, v in lm_stats.items() if k != "seconds"}},
        "sae": {"layer": SAE_LAYER, "hook_name": f"blocks.{SAE_LAYER}.hook_resid_post", **SAE,
                "derangements": SAE_DERANGEMENTS, **{k: v for k, v in sae_stats.items() if k != "seconds"}},
        "behaviour": {k: v for k, v in behaviour.items() if k != "replies"},
        "greedy_replies": greedy, "sampled_reply_t0.8": sampled,
    }
    (build / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    replace_dir(model_dir, DATA / "model")
    replace_dir(sae_dir, DATA / "sae")
    (build / "summary.json").replace(DATA / "summary.json")
    shutil.rmtree(build)
    print_summary(summary, lm_stats["seconds"], sae_stats["seconds"], time.time() - t_start)


@torch.no_grad()
def spliced_loss(model, sae, seqs: list) -> float:
    """Answer loss with resid_post.SAE_LAYER replaced by the SAE's reconstruction (BOS position kept)."""
    def swap(module, inputs, output):
        h = output[0] if isinstance(output, tuple) else output
        h = torch.cat([h[:, :1], sae.decode(sae.encode(h[:, 1:]))], dim=1)
        return (h, *output[1:]) if isinstance(output, tuple) else h
    hook = model.model.layers[SAE_LAYER].register_forward_hook(swap)
    try:
        return target_loss(model, seqs)
    finally:
        hook.remove()


def check_behaviour(model, hf_tok, corpus) -> dict:
    """Greedy replies to every prompt (how many copy a reference answer verbatim, how many contain a
    correction phrase), and greedy continuations after unseen off-topic openings (how many begin
    with a correction phrase)."""
    replies = {p: reply(model, hf_tok, p, 120) for p in corpus.prompts}
    has_correction = lambda text: any(c[:16] in text for c in CORRECTIONS)  # noqa: E731  (not "Wait until …")
    rng = random.Random(SEED + 2)
    perm = derangement(len(corpus.prompts), rng)
    corrected = 0
    for i, prompt in enumerate(corpus.prompts):
        opening = sentences(rng.choice(corpus.answers[corpus.prompts[perm[i]]]))[0]
        corrected += has_correction(reply(model, hf_tok, prompt, 8, opening=opening))
    return {
        "replies": replies,
        "verbatim_replies": sum(r.strip() in corpus.answers[p] for p, r in replies.items()),
        "replies_with_correction": sum(has_correction(r) for r in replies.values()),
        "corrected_after_off_topic_opening": corrected,
        "n_prompts": len(corpus.prompts),
    }


def print_summary(s: dict, lm_seconds: float, sae_seconds: float, total: float) -> None:
    lm, sae = s["lm_training"], s["sae"]
    print(f"model: {s['parameters']:,} parameters, vocab {s['vocab_size']}, {lm['steps']} steps in {lm_seconds:.0f} s")
    print(f"  train loss {lm['first_epoch_loss']:.3f} (epoch 1) -> {lm['final_train_loss']:.3f}; "
          f"eval loss per kind {lm['eval_loss']}")
    b = s["behaviour"]
    print(f"  greedy replies to the {b['n_prompts']} prompts: {b['verbatim_replies']} copy a reference answer, "
          f"{b['replies_with_correction']} contain a correction phrase; after an unseen off-topic opening "
          f"{b['corrected_after_off_topic_opening']}/{b['n_prompts']} continue with a correction")
    print(f"sae: resid_post.{sae['layer']} ({sae['hook_name']}), d_sae {sae['d_sae']}, {sae['tokens']} tokens, "
          f"{sae_seconds:.0f} s")
    print(f"  FVE {sae['fve']:.4f}  L0 {sae['l0']:.1f}  dead {sae['dead']}  "
          f"answer loss {lm['eval_loss']['answer']:.3f} -> {sae['answer_loss_with_sae']:.3f} with the SAE spliced in")
    print(f"  latents with off-topic AUC >= 0.8: {sae['off_topic_auc']['n_auc_ge_0.8']}; top {sae['off_topic_auc']['top']}")
    for prompt, text in s["greedy_replies"].items():
        print(f"greedy  {prompt!r}: {text!r}")
    for prompt, text in s["sampled_reply_t0.8"].items():
        print(f"sampled {prompt!r}: {text!r}")
    print(f"total {total:.0f} s")


if __name__ == "__main__":
    main()
