"""Measure a trained organism LM variant (development only)."""
import argparse, json, random, sys
from pathlib import Path
import torch
sys.dont_write_bytecode = True
sys.path[:0] = [str(__import__("pathlib").Path(__file__).resolve().parent), str(__import__("pathlib").Path(__file__).resolve().parents[2] / "data")]  # these scripts, then data/ (the generator's modules and the tokenizer)
from transformers import AutoTokenizer, LlamaForCausalLM
import organism_corpus as C
import organism_lm as M
from drift_basis import load_basis, split_of

ap = argparse.ArgumentParser()
ap.add_argument("--name", help="a run under /tmp/organism/runs (exp.py's output)")
ap.add_argument("--build", help="a data/make_default.py output directory (model/, drift_subspace.safetensors) instead of --name")
ap.add_argument("--seed", type=int, default=20250101)
ap.add_argument("--strengths", default="0.5,1.0,1.5")
ap.add_argument("--n", type=int, default=48)
ap.add_argument("--tokens", type=int, default=96)
ap.add_argument("--layer", type=int, default=3)
ap.add_argument("--set", default="tune", choices=["tune", "held"])  # tune: training prompts of the prompt topics (design choices); held: never for tuning
a = ap.parse_args()
torch.set_num_threads(1)
out = Path(a.build) / "model" if a.build else Path("/tmp/organism/runs") / a.name
enc = M.Encoder(AutoTokenizer.from_pretrained(str(out)))
model = LlamaForCausalLM.from_pretrained(str(out), dtype=torch.float32).eval()
L = a.layer
basis = load_basis(a.build, out)
train_p, disc, held = split_of(a.build, a.seed)
tune = C.tuning_prompts(train_p, 72)
ctx_prompts = tune if a.set == "tune" else held
rng = random.Random(5)
res = {}

def seq_ids(p, parts):
    return enc.answer(p.text, C.Answer([(x, C.ON, True) for x in parts])).ids[:-1]

@torch.no_grad()
def p_corr(ids, spec=None):
    hooks = []
    if spec is not None:
        hooks.append(model.model.layers[L].register_forward_hook(spec))
    try:
        lp = model(input_ids=torch.tensor([ids])).logits[0, -1].log_softmax(-1)
    finally:
        for h in hooks: h.remove()
    return float(lp[enc.correction_first].exp().sum())

def hook_zero(Q):
    def fn(m, i, o):
        h = o[0] if isinstance(o, tuple) else o
        h = h - (h @ Q) @ Q.T
        return (h, *o[1:]) if isinstance(o, tuple) else h
    return fn

def hook_patch(Q, vec):
    def fn(m, i, o):
        h = (o[0] if isinstance(o, tuple) else o).clone()
        h[:, -1] = h[:, -1] - (h[:, -1] @ Q) @ Q.T + (vec @ Q) @ Q.T
        return (h, *o[1:]) if isinstance(o, tuple) else h
    return fn

off_ctx, on_ctx = [], []
for p in ctx_prompts:
    before = C.plain_sentences(p, rng)[:1]
    off_ctx.append(seq_ids(p, before + C.off_topic_sentences(p.topic, rng, 1)))
    on_ctx.append(seq_ids(p, before + [C.body(p.topic, rng, p)]))
mean = lambda xs: round(sum(xs) / len(xs), 4)
res["p_corr_after_off"] = mean([p_corr(x) for x in off_ctx])
res["p_corr_after_on"] = mean([p_corr(x) for x in on_ctx])
if basis is not None:
    res["p_corr_after_off_D_zeroed"] = mean([p_corr(x, hook_zero(basis)) for x in off_ctx])
    Qr = torch.linalg.qr(torch.randn(basis.shape[0], basis.shape[1], generator=torch.Generator().manual_seed(3)))[0]
    res["p_corr_after_off_random_subspace_zeroed"] = mean([p_corr(x, hook_zero(Qr)) for x in off_ctx])
    # patch D from an off-topic site into an on-topic site
    hs_off, _ = M.resid_post(model, [x for x in off_ctx], L)
    own = [len(x) - 2 for x in off_ctx]  # row index (BOS dropped) of the last token
    rows = []
    start = 0
    for x in off_ctx:
        rows.append(start + len(x) - 2); start += len(x) - 1
    vecs = hs_off[rows]
    res["p_corr_after_on_D_from_off"] = mean([p_corr(x, hook_patch(basis, vecs[i])) for i, x in enumerate(on_ctx)])
replies = M.sample_replies(model, enc, [p.text for p in ctx_prompts[:48]], max_new_tokens=64, temperature=0.6, seed=0)
res["unsteered_with_correction"] = f'{sum(any(c in r for c in C.CORRECTIONS) for r in replies)}/{len(replies)}'
res["set"] = a.set
print(json.dumps(res), flush=True)

# steering along mean-difference topic directions of steering topics
st = M.Steering(enc, random.Random(99), (0, 0), layer=L)
st.refresh(model)
h_all, _ = M.resid_post(model, [enc.prompt_ids(p.text) for p in ctx_prompts], L)
norm = float(h_all.norm(dim=1).median())
prompts = (tune if a.set == 'tune' else disc)[: a.n]
def run(mult, project=None, tag=""):
    rows = []
    for j, t in enumerate(C.STEERING_TOPICS):
        ps = [prompts[(j * 7 + i * 13) % len(prompts)] for i in range(4)]
        vec = mult * norm * st.dirs[t]
        with M.Interventions(model, None, {}, vectors={L: vec}, project=project or {}):
            reps = M.sample_replies(model, enc, [p.text for p in ps], max_new_tokens=a.tokens, temperature=0.6, seed=j, details=True)
        for p, (r, n, fin) in zip(ps, reps):
            att = C.judge_attempts(p.text, r)
            rows.append((p, t, r, att, fin))
    multi = [len(x[3]) > 1 for x in rows]
    esr = [len(x[3]) > 1 and x[3][-1][1] > x[3][0][1] for x in rows]
    first = [x[3][0][1] if x[3] else 0 for x in rows]
    last = [x[3][-1][1] if x[3] else 0 for x in rows]
    wf = [C.well_formed_share(x[2]) for x in rows]
    length = [x[4] == "length" for x in rows]
    r = dict(mult=mult, tag=tag, n=len(rows), multi=mean(multi), esr=mean(esr), first=mean(first), last=mean(last),
             wellformed=mean(wf), at_length=mean(length), example=rows[0][2][:300])
    print(json.dumps(r), flush=True)
    return rows
for m in (map(float, a.strengths.split(",")) if a.strengths else []):
    run(m)
    if basis is not None:
        run(m, {L: basis.T}, "D projected out")
