"""Measurements of the organism with transformers and torch, independent of the toolkit: the discovery test
(the within-prompt stratified rank test of docs/design.md), direct logit attribution of latents, how well
latents recover the drift subspace, and steered generation judged by the organism judge (the ground truth).
make_default.py reports them in data/summary.json; docs/data.md quotes them."""

import json
import random

import torch

from organism_corpus import TOPICS, general_paragraph, judge_attempts, well_formed_share
from organism_lm import Interventions, Steering, resid_post, sample_replies
from organism_sae import Sae


def pooled_codes(model, enc, sae, layer: int, pairs: list) -> torch.Tensor:
    """Max over the response span of the SAE codes at resid_post.layer, per (prompt, response) pair (as
    find-otd-latents pools: the response's tokens in the rendered conversation)."""
    seqs, heads = [], []
    for prompt, response in pairs:
        head = enc.prompt_ids(prompt)
        seqs.append(head + enc.tok(response, add_special_tokens=False)["input_ids"])
        heads.append(len(head))
    h, owner = resid_post(model, seqs, layer)
    with torch.no_grad():
        f = sae.encode(h)
    span = [f[owner == i][heads[i] - 1:] for i in range(len(seqs))]  # row j is token j + 1 (BOS dropped)
    return torch.stack([s.max(0).values if len(s) else torch.zeros(f.shape[1]) for s in span])


def cyclic_derangements(n: int, k: int, seed: int) -> list:
    """k disjoint derangements of n prompts: cyclic shifts 1..k of one seeded order (docs/design.md)."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    out = []
    for s in range(1, k + 1):
        perm = [0] * n
        for j in range(n):
            perm[order[j]] = order[(j + s) % n]
        out.append(perm)
    return out


def stratified_test(on: torch.Tensor, off: torch.Tensor) -> tuple:
    """on [n, d], off [n, K, d] → (strat_auc [d], one-sided p [d]). Per prompt U_i = Σ_k 2[off_k > on] + [off_k = on];
    strat_auc = mean U_i / 2K; p from the exact null placing the on-topic value uniformly among the prompt's K + 1
    values, prompts independent (the distribution of Σ U_i by convolution)."""
    n, k, d = off.shape
    vals = torch.cat([on[:, None, :], off], 1)  # [n, K+1, d]
    # U when value j is the on-topic one: Σ_{m≠j} 2[v_m > v_j] + [v_m = v_j]
    gt = (vals[:, None, :, :] > vals[:, :, None, :]).sum(2)  # [n, K+1 (j), d]
    eq = (vals[:, None, :, :] == vals[:, :, None, :]).sum(2) - 1
    u_all = (2 * gt + eq).long()  # [n, K+1, d]
    u_obs = u_all[:, 0].sum(0)  # [d]
    auc = u_obs.double() / (2 * k * n)
    width = 2 * k * n + 1
    dist = torch.zeros(d, width, dtype=torch.float64)
    dist[:, 0] = 1.0
    for i in range(n):
        step = torch.zeros(d, 2 * k + 1, dtype=torch.float64)
        step.scatter_add_(1, u_all[i].T, torch.full((d, k + 1), 1.0 / (k + 1), dtype=torch.float64))
        new = torch.zeros_like(dist)
        for v in range(2 * k + 1):
            new[:, v:] += dist[:, : width - v] * step[:, v:v + 1]
        dist = new
    tail = dist.flip(1).cumsum(1).flip(1)  # P(U ≥ u)
    p = tail.gather(1, u_obs[:, None]).squeeze(1).clamp(max=1.0)
    return auc, p


def bh(p: torch.Tensor) -> torch.Tensor:
    """Benjamini–Hochberg q-values."""
    m = len(p)
    order = torch.argsort(p)
    q = p[order] * m / torch.arange(1, m + 1, dtype=p.dtype)
    q = torch.flip(torch.cummin(torch.flip(q, [0]), 0).values, [0]).clamp(max=1.0)
    out = torch.empty_like(q)
    out[order] = q
    return out


def discovery(model, enc, sae, layer: int, prompts: list, replies: list, k: int = 5, seed: int = 0) -> dict:
    """The discovery test on (prompt, own reply) vs (prompt, k other prompts' replies): per latent strat_auc, p, q,
    and the ranking (by p, then strat_auc, then index)."""
    on = pooled_codes(model, enc, sae, layer, list(zip(prompts, replies)))
    off = torch.stack([pooled_codes(model, enc, sae, layer, [(prompts[i], replies[perm[i]]) for i in range(len(prompts))])
                       for perm in cyclic_derangements(len(prompts), k, seed)], 1)
    auc, p = stratified_test(on, off)
    q = bh(p)
    d = len(auc)
    rank = sorted(range(d), key=lambda l: (float(p[l]), -float(auc[l]), l))
    return {"auc": auc, "p": p, "q": q, "rank": rank, "on": on, "off": off}


def unembedding(model) -> torch.Tensor:
    """W_U with the final RMSNorm's weight folded in: the direct logit effect of a residual direction (up to the norm's scale)."""
    return model.lm_head.weight * model.model.norm.weight[None, :]


def direct_logit_attribution(model, directions: torch.Tensor, watch: list, top: int = 5) -> list:
    """Per direction (rows): its top promoted tokens through the unembedding, and whether one of `watch` is among them."""
    logits = directions @ unembedding(model).T
    tops = logits.topk(top, dim=1).indices
    return [{"top": t.tolist(), "promotes_watched": bool(set(t.tolist()) & set(watch))} for t in tops]


def subspace_cosine(directions: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """|proj onto span(basis)| / |direction| per row: 1 inside the subspace, about sqrt(k/d) for a random direction."""
    return (directions @ basis).norm(dim=1) / directions.norm(dim=1)


def steered_trials(model, enc, sae, *, prompts: list, features: list, value_of, steer_layer: int, clamp_layer: int, clamp: list,
                   draws: int, seed: int, max_new_tokens: int = 96, temperature: float = 0.6, extra=None) -> list:
    """Generates draws replies per steering feature (prompts taken in a seeded order), steering along the latent
    with value value_of(feature) at steer_layer and clamping `clamp` to 0 at clamp_layer; `extra` adds other edits
    (Interventions' vectors / project). Judged by the organism judge. Returns one dict per trial."""
    rng = random.Random(seed)
    rows = []
    for f in features:
        ps = [rng.choice(prompts) for _ in range(draws)]
        spec = {steer_layer: [(f, value_of(f), "add")]}
        if clamp:
            spec.setdefault(clamp_layer, [])
            spec[clamp_layer] = [(c, 0.0, "clamp") for c in clamp] + spec[clamp_layer]
        with Interventions(model, sae, spec, **(extra or {})):
            reps = sample_replies(model, enc, ps, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed * 1000 + f, details=True)
        for p, (text, n, finish) in zip(ps, reps):
            att = judge_attempts(p, text)
            rows.append({"feature": f, "prompt": p, "response": text, "tokens": n, "finish": finish, "attempts": [s for _, s in att],
                         "well_formed": well_formed_share(text)})
    return rows


class RowInterventions(Interventions):
    """Interventions where some clamps write their latent's change along a row of their own instead of W_dec[latent]
    (the toolkit's `decoderRow`, e.g. the random control's rotated rows): h' = h + (value − f_a(h))·r, f from the SAE's
    encoder on the same h the other interventions read; the SAE error is kept. `rows` maps layer → {latent: row [d]}."""

    def __init__(self, model, sae, spec: dict, rows: dict, project: dict = None):
        self.handles = []
        for layer in sorted(set(spec) | set(project or {})):
            items, r = spec.get(layer, []), rows.get(layer, {})
            along = [(l, v, r[l]) for l, v, m in items if m == "clamp" and l in r]
            rest = [i for i in items if not (i[2] == "clamp" and i[0] in r)]
            hook = self._along(sae, along, self._hook(sae, rest, None, (project or {}).get(layer)))
            self.handles.append(model.model.layers[layer].register_forward_hook(hook))

    @staticmethod
    def _along(sae, along, inner):
        def fn(module, inputs, output):
            h = output[0] if isinstance(output, tuple) else output
            f = sae.encode(h)
            delta = sum((v - f[..., l:l + 1]) * row for l, v, row in along)
            out = inner(module, inputs, output)
            h2 = (out[0] if isinstance(out, tuple) else out) + delta
            return (h2, *out[1:]) if isinstance(out, tuple) else h2
        return fn


def decoder_rows(run_dir, interventions: list) -> dict:
    """layer → {latent: row} for the interventions that carry a `decoderRow` key `FILE:TENSOR:ROW` (a safetensors file in
    the run's directory, e.g. random_rotation.safetensors)."""
    from safetensors.torch import load_file
    files, out = {}, {}
    for i in interventions:
        key = (i.get("decoderRow") or {}).get("key")
        if key:
            name, tensor, row = key.rsplit(":", 2)
            if name not in files:
                files[name] = load_file(str(run_dir / name))
            out.setdefault(int(i["layer"]), {})[i["latent"]] = files[name][tensor][int(row)].float()
    return out


def replay_replies(model, enc, sae, trials: list, sampling: dict, project: dict = None, run_dir=None) -> dict:
    """A toolkit trial store regenerated with transformers: trial id → reply, each group of trials with the same
    interventions sampled together at its first trial's seed (torch's sampler, so other draws than the toolkit's);
    `sampling` is config.json's, `project` as Interventions takes it; `run_dir` holds the files that interventions
    with their own decoder rows name (the random control's rotated rows)."""
    groups = {}
    for t in trials:
        groups.setdefault(json.dumps(t["interventions"], sort_keys=True), []).append(t)
    out = {}
    for key, ts in groups.items():
        spec = {}
        for i in json.loads(key):
            spec.setdefault(int(i["layer"]), []).append((i["latent"], i["value"], i["mode"]))
        rows = decoder_rows(run_dir, json.loads(key)) if run_dir is not None else {}
        with (RowInterventions(model, sae, spec, rows, project=project) if rows else Interventions(model, sae, spec, project=project)):
            replies = sample_replies(model, enc, [t["prompt"] for t in ts], max_new_tokens=sampling["maxNewTokens"],
                                     temperature=sampling["temperature"], seed=ts[0]["seed"], repetition_penalty=sampling["repetitionPenalty"])
        out.update((t["id"], r) for t, r in zip(ts, replies))
    return out


def rates(rows: list) -> dict:
    """Multi-attempt and ESR rates, mean first/last attempt score, well-formed share, share cut at the length limit."""
    n = len(rows)
    multi = [len(r["attempts"]) > 1 for r in rows]
    esr = [len(r["attempts"]) > 1 and r["attempts"][-1] > r["attempts"][0] for r in rows]
    first = [r["attempts"][0] if r["attempts"] else 0 for r in rows]
    last = [r["attempts"][-1] if r["attempts"] else 0 for r in rows]
    mean = lambda xs: round(sum(xs) / max(1, len(xs)), 4)  # noqa: E731
    return {"n": n, "multi_attempt": mean(multi), "esr": mean(esr), "first_score": mean(first), "last_score": mean(last),
            "well_formed": mean([r["well_formed"] for r in rows]), "at_length_limit": mean([r["finish"] == "length" for r in rows])}


@torch.no_grad()
def discriminant_encoders(model, enc, sae: Sae, layer: int, topics: list, fit_prompts: list, rng: random.Random, shrinkage: float,
                          per_topic: int = 16) -> torch.Tensor:
    """Per topic, the unit direction that best separates its general text from everything a steering latent must stay
    silent on or must not be labelled by: Fisher's discriminant Σ⁻¹(μ_topic − μ_rest), Σ the pooled within-class
    covariance shrunk toward `shrinkage` × its mean variance, over resid_post.layer − b_dec; rest = every position of
    `fit_prompts` (rendered id sequences: prompts, and answers to them) and the other topics' text (`per_topic` fresh paragraphs of each of the 48
    topics). The mean-difference direction itself crosses the prompts' largest projections only on a few per cent of its
    topic's tokens (NOTES.md, "the steering pool"); a discriminant direction crosses them on many more."""
    text = {t: resid_post(model, [enc.general(general_paragraph(t, rng)).ids for _ in range(per_topic)], layer)[0] - sae.b_dec for t in TOPICS}
    on_prompts = resid_post(model, list(fit_prompts), layer)[0] - sae.b_dec
    eye = torch.eye(on_prompts.shape[1])
    rows = []
    for t in topics:
        pos, neg = text[t], torch.cat([on_prompts] + [text[s] for s in TOPICS if s != t])
        cov = torch.cov(torch.cat([pos - pos.mean(0), neg - neg.mean(0)]).T)
        w = torch.linalg.solve(cov + shrinkage * cov.diagonal().mean() * eye, pos.mean(0) - neg.mean(0))
        rows.append(w / w.norm())
    return torch.stack(rows)


@torch.no_grad()
def with_topic_direction_latents(model, enc, sae: Sae, layer: int, topics: list, prompts: list, seed: int, margin: float = 0.1,
                                 shrinkage: float | None = None, fit_prompts: list = ()) -> tuple:
    """The SAE with one latent per topic appended after its own: decoder row = the topic's unit mean-difference
    direction at resid_post.layer over general text (what the organism is steered by in training), encoder = the same
    direction (shrinkage None) or the topic's discriminant direction (`discriminant_encoders`), with b_enc below its
    largest projection at any position of any of `prompts` (rendered prompt ids) by `margin` × its mean projection on the
    topic's text: silent on every prompt, as the paper's steering features are.
    Returns (sae, {latent: topic}, stats). These latents are built, not learned: they are labelled by construction."""
    st = Steering(enc, random.Random(seed), (0, 0), layer=layer, per_topic=8)
    st.refresh(model)
    dec = torch.stack([st.dirs[t] for t in topics])  # [n, d]
    u = dec if shrinkage is None else discriminant_encoders(model, enc, sae, layer, topics, fit_prompts, random.Random(seed + 2), shrinkage)
    worst = torch.full((len(u),), -float("inf"))
    captured = []
    hook = model.model.layers[layer].register_forward_hook(lambda m, i, o: captured.append(o[0] if isinstance(o, tuple) else o))
    try:
        for ids in prompts:
            captured.clear()
            model.model(input_ids=torch.tensor([ids]))
            worst = torch.maximum(worst, ((captured[0][0] - sae.b_dec) @ u.T).max(0).values)
    finally:
        hook.remove()
    rng = random.Random(seed + 1)
    own = torch.stack([((resid_post(model, [enc.general(general_paragraph(t, rng)).ids for _ in range(4)], layer)[0] - sae.b_dec) @ u[j]).mean()
                       for j, t in enumerate(topics)])
    b = -(worst + margin * own.abs())
    d0 = sae.W_dec.shape[0]
    out = Sae.from_tensors({"W_enc": torch.cat([sae.W_enc.detach(), u.T], 1), "W_dec": torch.cat([sae.W_dec.detach(), dec], 0),
                            "b_enc": torch.cat([sae.b_enc.detach(), b]), "b_dec": sae.b_dec.detach()})
    labels = {d0 + j: t for j, t in enumerate(topics)}
    stats = {"n": len(topics), "margin": margin, **({} if shrinkage is None else {
                 "encoder": f"discriminant, shrinkage {shrinkage}", "encoder_decoder_cosine": [round(float(v), 3) for v in (u * dec).sum(1)]}),
             "largest_prompt_projection": [round(float(v), 3) for v in worst],
             "mean_own_topic_projection": [round(float(v), 3) for v in own]}
    return out, labels, stats
