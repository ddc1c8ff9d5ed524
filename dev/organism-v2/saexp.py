"""SAE stage experiments on a trained organism LM variant (development only)."""
import argparse, json, random, sys, time
from pathlib import Path
import torch
sys.dont_write_bytecode = True
sys.path[:0] = [str(__import__("pathlib").Path(__file__).resolve().parent), str(__import__("pathlib").Path(__file__).resolve().parents[2] / "data")]  # these scripts, then data/ (the generator's modules and the tokenizer)
from transformers import AutoTokenizer, LlamaForCausalLM
import organism_corpus as C
import organism_lm as M
import organism_eval as E
from drift_basis import load_basis, split_of
from organism_sae import Sae, train_sae, quality
from safetensors.torch import save_file, load_file

ap = argparse.ArgumentParser()
ap.add_argument("--name", help="a run under /tmp/organism/runs (exp.py's output)")
ap.add_argument("--build", help="a data/make_default.py output directory: its model, drift subspace, SAE (built steering latents included) and labels, instead of --name")
ap.add_argument("--tag", default="s1")
ap.add_argument("--seed", type=int, default=20250101)
ap.add_argument("--d-sae", type=int, default=512)
ap.add_argument("--l1", type=float, default=0.1)
ap.add_argument("--steps", type=int, default=3000)
ap.add_argument("--draws", type=int, default=600)
ap.add_argument("--mults", default="0.5,1.0")
ap.add_argument("--conds", default="baseline,ablate,random,clamp_promoting_nondet,project_corr_unembed_last_layer")  # steering conditions to run
ap.add_argument("--per", type=int, default=4)
ap.add_argument("--layer", type=int, default=3)
ap.add_argument("--reuse", action="store_true")
ap.add_argument("--set", default="tune", choices=["tune", "held"])  # tune: training prompts of the prompt topics (design choices); held: disc + held-out (evaluation only)
ap.add_argument("--general", type=float, default=0.3)  # per draw, the chance of a general-text paragraph in the SAE's training text
ap.add_argument("--topic-dirs", action="store_true")  # append one latent per steering topic: its mean-difference direction, silenced on every prompt
ap.add_argument("--topic-margin", type=float, default=0.1)  # silence margin, as a share of the direction's mean projection on its topic's text
ap.add_argument("--general-topics", default="all", choices=["all", "steering"])
a = ap.parse_args()
torch.set_num_threads(1)
log = lambda m: print(m, file=sys.stderr, flush=True)
out = Path(a.build) / "model" if a.build else Path("/tmp/organism/runs") / a.name
L = a.layer
enc = M.Encoder(AutoTokenizer.from_pretrained(str(out)))
model = LlamaForCausalLM.from_pretrained(str(out), dtype=torch.float32).eval()
model.requires_grad_(False)
basis = load_basis(a.build, out)
train_p, disc, held = split_of(a.build, a.seed)
if a.set == "tune":  # two disjoint sets of training prompts of the prompt topics stand in for the discovery and held-out prompts
    pool = C.tuning_prompts(train_p, 144)
    disc, held = pool[:72], pool[72:]
res = {}
sae_path = Path(a.build) / "sae" / "sae_weights.safetensors" if a.build else out / f"sae_{a.tag}.safetensors"
t0 = time.time()
if a.build or (a.reuse and sae_path.exists()):
    sae = Sae.from_tensors(load_file(str(sae_path)))
else:
    rng = random.Random(a.seed + 2)
    seqs = []
    for _ in range(a.draws):
        p = rng.choice(train_p)
        seqs.append(enc.answer(p.text, C.plain_answer(p, rng)).ids)
        q = rng.choice([x for x in train_p if x.topic != p.topic])
        seqs.append(enc.answer(p.text, C.plain_answer(q, rng)).ids)
        if rng.random() < 0.5:
            seqs.append(enc.answer(p.text, C.drifted_answer(p, rng)).ids)
        if rng.random() < a.general:
            seqs.append(enc.general(C.general_paragraph(rng.choice(list(C.TOPICS) if a.general_topics == "all" else C.STEERING_TOPICS), rng)).ids)
    x, _ = M.resid_post(model, seqs, L)
    log(f"{len(x)} activations ({time.time()-t0:.0f} s)")
    sae, scale = train_sae(x, a.d_sae, steps=a.steps, batch=512, lr=1e-3, l1=a.l1, seed=a.seed, log=log)
    res["quality"] = quality(sae, x)
    save_file({k: getattr(sae, k).detach().contiguous() for k in ("W_enc", "W_dec", "b_enc", "b_dec")}, str(sae_path))
    log(f"sae {res['quality']} ({time.time()-t0:.0f} s)")

appended = {}
if a.topic_dirs:  # one built latent per steering topic, silent on every prompt of a prompt topic (organism_eval)
    silent_on = [enc.prompt_ids(p.text) for p in train_p + disc + held if p.topic in C.PROMPT_TOPICS]
    sae, appended, res["appended"] = E.with_topic_direction_latents(model, enc, sae, L, C.STEERING_TOPICS, silent_on, a.seed + 13, a.topic_margin)
sae.requires_grad_(False)

# topic latents
topics = list(C.TOPICS)
trng = random.Random(a.seed + 3)
act = torch.zeros(len(topics), sae.W_dec.shape[0]); freq = torch.zeros_like(act)
for t, topic in enumerate(topics):
    h, _ = M.resid_post(model, [enc.general(C.general_paragraph(topic, trng)).ids for _ in range(8)], L)
    f = sae.encode(h)
    act[t], freq[t] = f.mean(0), (f > 0).float().mean(0)
share = act / act.sum(0, keepdim=True).clamp_min(1e-9)
best = share.max(0)
labels = {int(l): topics[int(best.indices[l])] for l in range(act.shape[1]) if best.values[l] >= 0.6 and act[:, l].sum() > 0 and freq[best.indices[l], l] >= 0.3}
def prompt_max(ps):
    best = torch.full((sae.W_dec.shape[0],), -1e9)
    cap = []
    hook = model.model.layers[L].register_forward_hook(lambda m, i, o: cap.append(o[0] if isinstance(o, tuple) else o))
    for p in ps:
        cap.clear(); model.model(input_ids=torch.tensor([enc.prompt_ids(p.text)]))
        pre = (cap[0][0] - sae.b_dec) @ sae.W_enc + sae.b_enc
        best = torch.maximum(best, pre.max(0).values)
    hook.remove()
    return best
res["appended_passing_rule"] = sum(1 for l, tp in appended.items() if labels.get(l) == tp)
res["appended_fire_share_own_topic"] = [round(float(freq[topics.index(tp), l]), 3) for l, tp in appended.items()]
labels.update(appended)
if a.build:  # the build's own labels: its learned topic latents and the built steering latents
    labels = {int(k): v for k, v in json.loads((Path(a.build) / "sae" / "feature_labels.json").read_text()).items()}
pm = prompt_max(disc + held)
steer = sorted(l for l, t in labels.items() if t in C.STEERING_TOPICS and pm[l] <= 0)
res["topic_latents"] = len(labels); res["topics_covered"] = len(set(labels.values()))
res["steering_features"] = len(steer); res["steering_topics_covered"] = len({labels[l] for l in steer})
res["steering_topic_latents_total"] = sum(1 for t in labels.values() if t in C.STEERING_TOPICS)
res["set"] = a.set
log(json.dumps(res))

# discovery
replies = M.sample_replies(model, enc, [p.text for p in disc], max_new_tokens=64, temperature=0.6, seed=0)
res["unsteered_with_correction"] = sum(any(c in r for c in C.CORRECTIONS) for r in replies)
d = E.discovery(model, enc, sae, L, [p.text for p in disc], replies, 5, 0)
auc, q, rank = d["auc"], d["q"], d["rank"]
det = [l for l in rank if auc[l] >= 0.9 and q[l] < 0.05]
top = rank[:26]
res["detectors"] = len(det)
res["top26"] = [(l, round(float(auc[l]), 3), float(q[l])) for l in top[:12]]
dla = E.direct_logit_attribution(model, sae.W_dec[top], enc.correction_first)
res["dla_promoting"] = sum(x["promotes_watched"] for x in dla)
res["dla_promoting_top26"] = [(l, r, [enc.tok.decode([t]) for t in x["top"]]) for r, (l, x) in enumerate(zip(top, dla)) if x["promotes_watched"]]
all_dla = E.direct_logit_attribution(model, sae.W_dec, enc.correction_first)
res["dla_promoting_all"] = sum(x["promotes_watched"] for x in all_dla)
if basis is not None:
    cos = E.subspace_cosine(sae.W_dec[top], basis)
    res["cos_top"] = [round(float(c), 3) for c in cos[:12]]
    allc = E.subspace_cosine(sae.W_dec, basis)
    res["cos_all_median"] = round(float(allc.median()), 3)
    res["latents_cos_ge_0.8"] = int((allc >= 0.8).sum())
# held-out discovery
hreplies = M.sample_replies(model, enc, [p.text for p in held], max_new_tokens=64, temperature=0.6, seed=1)
dh = E.discovery(model, enc, sae, L, [p.text for p in held], hreplies, 5, 1)
deth = [l for l in dh["rank"] if dh["auc"][l] >= 0.9 and dh["q"][l] < 0.05]
res["detectors_heldout"] = len(deth)
res["overlap_top26"] = len(set(top) & set(dh["rank"][:26]))
log(json.dumps(res))

# steering & ablation
h_all, _ = M.resid_post(model, [enc.prompt_ids(p.text) for p in disc], L)
norm = float(h_all.norm(dim=1).median())
log(json.dumps({"median_resid_norm_first_half": round(norm, 4), "decoder_norms_of_steering_features": [round(float(sae.W_dec[f].norm()), 4) for f in steer[:20]]}))
detlike = set(l for l in range(len(auc)) if auc[l] >= 0.7) | set(top)
# activity per latent over discovery pairs
pool = [l for l in range(sae.W_dec.shape[0]) if l not in detlike and l not in steer]
onf = (d["on"] > 0).float().mean(0)
rr = random.Random(3)
rand = []
for l in top:
    near = sorted(pool, key=lambda m: abs(float(onf[m]) - float(onf[l])))
    near = [m for m in near if m not in rand][:5]
    rand.append(rr.choice(near))
promoting_nondet = [l for l, x in enumerate(all_dla) if x["promotes_watched"] and auc[l] < 0.7][:26]
Wu = E.unembedding(model)[enc.correction_first]
feats = steer[:20]
held_texts = [p.text for p in held]
for mult in (map(float, a.mults.split(",")) if a.mults else []):
    value_of = lambda f: mult * norm / float(sae.W_dec[f].norm())
    for name, clamp, extra in [c for c in (("baseline", [], None), ("ablate", top, None), ("random", rand, None),
                               ("clamp_promoting_nondet", promoting_nondet, None),
                               ("project_corr_unembed_last_layer", [], {"project": {model.config.num_hidden_layers - 1: Wu}})) if c[0] in a.conds.split(",")]:
        rows = E.steered_trials(model, enc, sae, prompts=held_texts, features=feats, value_of=value_of, steer_layer=L, clamp_layer=L,
                                clamp=clamp, draws=a.per, seed=7, extra=extra)
        r = E.rates(rows)
        r.update(mult=mult, cond=name)
        if name == "baseline":
            r["example"] = rows[0]["response"][:300]
        print(json.dumps(r), flush=True)
print(json.dumps(res), flush=True)
