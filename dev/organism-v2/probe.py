import sys, random, torch
sys.path[:0] = [str(__import__("pathlib").Path(__file__).resolve().parent), str(__import__("pathlib").Path(__file__).resolve().parents[2] / "data")]  # these scripts, then data/ (the generator's modules and the tokenizer)
from transformers import AutoTokenizer, LlamaForCausalLM
import organism_corpus as C, organism_lm as M
torch.set_num_threads(1)
out = "/tmp/organism/runs/" + sys.argv[1]
enc = M.Encoder(AutoTokenizer.from_pretrained(out))
model = LlamaForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
Q = torch.load(out + "/drift_basis.pt")
tr, d, h = C.split_prompts(20250101)
rng = random.Random(5)
def ctx(ps, n):
    xs, ys = [], []
    for _ in range(n):
        p = rng.choice(ps)
        before = C.plain_sentences(p, rng)[: rng.choice([0, 1, 2])]
        for y, last in ((1, C.off_topic_sentences(p.topic, rng, 1)), (0, [C.body(p.topic, rng, p)])):
            ids = enc.answer(p.text, C.Answer([(x, C.ON, True) for x in before + last])).ids[:-1]
            xs.append(ids); ys.append(y)
    return xs, torch.tensor(ys, dtype=torch.float32)
def feats(xs, layer):
    hs, owner = M.resid_post(model, xs, layer)
    last = torch.stack([hs[owner == i][-1] for i in range(len(xs))])
    return last
def auc(s, y):
    a, b = s[y == 1], s[y == 0]
    return float(((a[:, None] > b[None]).float().mean() + 0.5 * (a[:, None] == b[None]).float().mean()))
def fit(x, y, xt, yt):
    mu, sd = x.mean(0), x.std(0) + 1e-6
    w = torch.zeros(x.shape[1], requires_grad=True); b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=200)
    def cl():
        opt.zero_grad(); l = torch.nn.functional.binary_cross_entropy_with_logits((x - mu) / sd @ w + b, y) + 1e-3 * w.pow(2).sum(); l.backward(); return l
    opt.step(cl)
    with torch.no_grad():
        return auc((xt - mu) / sd @ w + b, yt)
xtr, ytr = ctx(tr, 200); xte, yte = ctx(h, 100)
for layer in range(6):
    ftr, fte = feats(xtr, layer), feats(xte, layer)
    r = [round(fit(ftr, ytr, fte, yte), 3)]
    if layer == 3:
        r.append(round(fit(ftr @ Q, ytr, fte @ Q, yte), 3))
    print(layer, r)
