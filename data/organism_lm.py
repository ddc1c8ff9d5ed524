"""The organism's Llama model: token sequences with loss masks and sentence sites, training on freshly drawn
batches with a planted drift mechanism (interchange-intervention training on a drift subspace at the middle
layer) and steering-like perturbations that stay on after the correction, and generation with SAE
interventions (steering / clamping, SAE error term kept) through transformers hooks."""

import math
import random
import re
import time
from dataclasses import dataclass, field

import torch
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.masking_utils import create_causal_mask

from organism_corpus import CORRECTION, CORRECTIONS, DRIFT, ON, TOPICS, WORD_TOPIC, Answer, drifted_answer, general_paragraph, plain_answer

ARCH = dict(hidden_size=128, intermediate_size=384, num_hidden_layers=6, num_attention_heads=4, num_key_value_heads=2,
            head_dim=32, max_position_embeddings=512, rms_norm_eps=1e-5, tie_word_embeddings=True)
MIDDLE = 3  # resid_post.3: the drift subspace, the SAE (detectors, clamps) and the steering; decoder layers 4 and 5 come after it


@dataclass
class Seq:
    ids: list
    loss: list  # per token: is it a training target (predicted from the tokens before it)
    sites: list = field(default_factory=list)  # (position, drift): the last token of a sentence; drift 1 when a correction follows, 0 when the answer goes on
    steer: str | None = None  # topic of a steering-like perturbation on every position
    drift: list = None  # per token: 1 inside an off-topic sentence, 0 inside an on-topic one, -1 elsewhere (prompt, correction, general text)


def first_topic_word(sentence: str):
    """Character offset of the end of the sentence's first lexicon word, or None."""
    for m in re.finditer(r"[a-z_]+", sentence.lower()):
        if m.group() in WORD_TOPIC:
            return m.end()
    return None


def new_model(vocab_size: int, bos_id: int, eos_ids: list) -> LlamaForCausalLM:
    config = LlamaConfig(vocab_size=vocab_size, bos_token_id=bos_id, eos_token_id=eos_ids, initializer_range=0.02,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, **ARCH)
    return LlamaForCausalLM(config)


class Encoder:
    """Chat-rendered token sequences; prompt ids are cached (the template is applied by the tokenizer)."""

    def __init__(self, hf_tok):
        self.tok = hf_tok
        self.eot = hf_tok.convert_tokens_to_ids("<|eot_id|>")
        self.bos = hf_tok.convert_tokens_to_ids("<|begin_of_text|>")
        self.cache = {}
        self.correction_first = sorted({hf_tok(" " + c, add_special_tokens=False)["input_ids"][0] for c in CORRECTIONS})

    def prompt_ids(self, text: str) -> list:
        if text not in self.cache:
            self.cache[text] = list(self.tok.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True,
                                                                 return_dict=False))
        return self.cache[text]

    def answer(self, prompt: str, answer: Answer) -> Seq:
        """prompt ids + answer tokens + <|eot_id|>; loss on the answer's trained sentences and the end of turn;
        a site at the end of every drifted sentence a correction follows (drift 1) and of every trained on-topic
        sentence (drift 0)."""
        head = self.prompt_ids(prompt)
        text, bounds = "", []
        for k, (s, _, _) in enumerate(answer.parts):
            start = len(text) + (1 if k else 0)
            text += (" " if k else "") + s
            bounds.append((start, len(text)))
        enc = self.tok(text, add_special_tokens=False, return_offsets_mapping=True)
        owners = [next(k for k, (s, e) in enumerate(bounds) if b <= e) for (_, b) in enc["offset_mapping"]]  # a space goes with the next sentence
        keep = [answer.parts[o][2] for o in owners]
        ids = head + enc["input_ids"] + [self.eot]
        sites = []
        for k, (_, kind, loss) in enumerate(answer.parts):
            last = len(head) + max(j for j, o in enumerate(owners) if o == k)
            nxt = answer.parts[k + 1] if k + 1 < len(answer.parts) else None
            if kind == DRIFT and nxt is not None and nxt[1] == CORRECTION:
                sites.append((last, 1))
            elif kind == ON:  # every on-topic sentence end, trained or not, before a drift or not: no correction follows
                sites.append((last, 0))
        # drift labels from the sentence's first topic word on: before it, nothing says whose topic the sentence is
        kind = {ON: 0, DRIFT: 1, CORRECTION: -1}
        first_word = [first_topic_word(text[a:b]) for a, b in bounds]
        drift = [-1] * len(head) + [kind[answer.parts[o][1]] if fw is not None and end >= bounds[o][0] + fw else -1
                                    for o, (_, end), fw in ((o, off, first_word[o]) for o, off in zip(owners, enc["offset_mapping"]))] + [0]
        return Seq(ids, [False] * len(head) + keep + [True], sites, answer.steer, drift)

    def general(self, text: str) -> Seq:
        ids = [self.bos] + self.tok(text, add_special_tokens=False)["input_ids"]
        return Seq(ids, [False] + [True] * (len(ids) - 1), drift=[-1] * len(ids))


MIX = dict(general=0.1, drifted=0.25, steered=0.25)  # the rest: plain answers


class Batches:
    """Fresh sequences every step, drawn `pool` batches at a time and grouped by length (less padding)."""

    def __init__(self, enc, prompts: list, rng: random.Random, size: int, pool: int = 8, mix: dict = MIX):
        self.enc, self.prompts, self.rng, self.size, self.pool, self.mix, self.queue = enc, prompts, rng, size, pool, mix, []

    def __call__(self, step: int) -> list:
        if not self.queue:
            seqs = sorted(draw_batch(self.enc, self.prompts, self.rng, self.size * self.pool, self.mix), key=lambda s: len(s.ids))
            self.queue = [seqs[k:k + self.size] for k in range(0, len(seqs), self.size)]
            self.rng.shuffle(self.queue)
        return self.queue.pop()


def draw_batch(enc: Encoder, prompts: list, rng: random.Random, n: int, mix: dict) -> list:
    out = []
    for _ in range(n):
        u = rng.random()
        if u < mix["general"]:
            out.append(enc.general(general_paragraph(rng.choice(list(TOPICS)), rng)))
            continue
        p = rng.choice(prompts)
        u -= mix["general"]
        if u < mix["drifted"]:
            a = drifted_answer(p, rng)
        elif u < mix["drifted"] + mix["steered"]:
            a = drifted_answer(p, rng, steered=True)
        else:
            a = plain_answer(p, rng)
        out.append(enc.answer(p.text, a))
    return out


def collate(seqs: list):
    width = max(len(s.ids) for s in seqs)
    ids = torch.zeros(len(seqs), width, dtype=torch.long)
    mask = torch.zeros(len(seqs), width, dtype=torch.long)
    labels = torch.full((len(seqs), width), -100, dtype=torch.long)
    drift = torch.full((len(seqs), width), -1.0)
    for r, s in enumerate(seqs):
        n = len(s.ids)
        ids[r, :n] = torch.tensor(s.ids)
        mask[r, :n] = 1
        labels[r, :n] = torch.tensor([t if keep else -100 for t, keep in zip(s.ids, s.loss)])
        drift[r, :n] = torch.tensor(s.drift, dtype=torch.float32)
    return ids, mask, labels, drift


class Split:
    """A forward pass in two halves around resid_post.`layer`, so the residual there can be edited (steering,
    interchange interventions) and the rest of the model run on edited copies of some rows."""

    def __init__(self, model, ids, mask, layer: int):
        m = model.model
        self.model, self.layer = model, layer
        emb = m.embed_tokens(ids)
        pos = torch.arange(ids.shape[1])[None]
        self.causal = create_causal_mask(config=m.config, inputs_embeds=emb, attention_mask=mask, past_key_values=None, position_ids=pos)
        self.rope = m.rotary_emb(emb, position_ids=pos)
        self.pos = pos
        h = emb
        for blk in m.layers[: layer + 1]:
            h = blk(h, attention_mask=self.causal, position_embeddings=self.rope, position_ids=pos)
        self.h = h  # resid_post.layer

    def rest(self, h, rows=None):
        """Decoder layers after `layer` and the final norm, on h (all rows, or the batch rows `rows` as h's rows)."""
        causal = self.causal if rows is None or self.causal is None else self.causal[rows]
        for blk in self.model.model.layers[self.layer + 1:]:
            h = blk(h, attention_mask=causal, position_embeddings=self.rope, position_ids=self.pos)
        return self.model.model.norm(h)


class DriftSubspace(torch.nn.Module):
    """The designated drift subspace: k orthonormal directions of resid_post.MIDDLE (a seeded random basis), with a
    linear read-out of its coordinates that is trained, as a training aid, to say whether a token is inside an
    off-topic sentence (so that the model writes its drift signal there; the read-out is not saved)."""

    def __init__(self, d: int, k: int, seed: int):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("basis", torch.linalg.qr(torch.randn(d, k, generator=g))[0].contiguous())  # [d, k]
        self.readout = torch.nn.Linear(k, 1)

    def part(self, h):
        return (h @ self.basis) @ self.basis.T

    def probe_loss(self, h, drift):
        keep = drift >= 0
        return torch.nn.functional.binary_cross_entropy_with_logits(self.readout(h[keep] @ self.basis).squeeze(-1), drift[keep])


class Steering:
    """Steering-like perturbations for training: per topic, the unit mean-difference direction of resid_post.MIDDLE
    over general text of that topic (refreshed as the model trains), scaled by a drawn multiple of the batch's
    median residual norm."""

    def __init__(self, enc: Encoder, rng: random.Random, strength: tuple, layer: int = MIDDLE, per_topic: int = 4):
        self.enc, self.rng, self.strength, self.layer = enc, rng, strength, layer
        self.texts = {t: [enc.general(general_paragraph(t, rng)).ids for _ in range(per_topic)] for t in TOPICS}
        self.dirs = None

    @torch.no_grad()
    def refresh(self, model) -> None:
        was = model.training
        model.eval()
        means = []
        for t in TOPICS:
            h, _ = resid_post(model, self.texts[t], self.layer)
            means.append(h.mean(0))
        means = torch.stack(means)
        d = means - means.mean(0)
        self.dirs = dict(zip(TOPICS, d / d.norm(dim=1, keepdim=True)))
        model.train(was)

    def add(self, h, mask, seqs: list):
        """h with each steered row's perturbation added at every position."""
        if self.dirs is None or not any(s.steer for s in seqs):
            return h
        scale = float(h.detach()[mask.bool()].norm(dim=-1).median())
        add = torch.zeros_like(h[:, 0])
        for r, s in enumerate(seqs):
            if s.steer:
                add[r] = self.rng.uniform(*self.strength) * scale * self.dirs[s.steer]
        return h + add[:, None, :]


def interchange_loss(split: Split, h_steered, seqs: list, drift: DriftSubspace, correction_ids: list, rng: random.Random, n: int,
                     steer_delta=None) -> torch.Tensor:
    """Interchange-intervention training (Geiger et al. 2022) on the drift subspace at a sentence's last token:
    the next token's probability of starting a correction must follow the drift value the subspace is given —
    another site's (a swap: opposite or same value) or none at all (zeroed: no drift). Each intervention runs
    the layers after the subspace on an edited copy of its row (steering, if any, stays on)."""
    sites = [(r, p, y) for r, s in enumerate(seqs) for p, y in s.sites]
    drifted = [x for x in sites if x[2] == 1]
    calm = [x for x in sites if x[2] == 0]
    if not drifted or not calm:
        return torch.zeros(())
    rows, pos, src, want = [], [], [], []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.5:  # swap in the opposite value
            base, source = (rng.choice(calm), rng.choice(drifted)) if rng.random() < 0.5 else (rng.choice(drifted), rng.choice(calm))
        elif kind < 0.75:  # zero the subspace of a site (drifted or calm): no drift, no correction
            base, source = rng.choice(drifted if rng.random() < 0.5 else calm), None
        else:  # swap in the same value from another site
            pool = drifted if rng.random() < 0.5 else calm
            base, source = rng.choice(pool), rng.choice(pool)
        rows.append(base[0])
        pos.append(base[1])
        src.append(source)
        want.append(source[2] if source is not None else 0)
    h = split.h[rows].clone()
    idx = torch.arange(len(rows))
    p = torch.tensor(pos)
    here = h[idx, p]
    there = torch.stack([split.h[s[0], s[1]] if s is not None else torch.zeros_like(here[0]) for s in src])
    h[idx, p] = here - drift.part(here) + drift.part(there)
    if steer_delta is not None:
        h = h + steer_delta[rows]
    out = split.rest(h, rows)[idx, p]
    logp = torch.log_softmax(split.model.lm_head(out), -1)
    p_corr = torch.logsumexp(logp[:, correction_ids], -1)
    y = torch.tensor(want, dtype=torch.bool)
    nll = torch.where(y, -p_corr, -torch.log1p(-p_corr.exp().clamp(max=1 - 1e-6)))
    return nll.mean()


def site_loss(model, out, seqs: list, correction_ids: list) -> torch.Tensor:
    """On the model as it runs (steering on): at every sentence end, the next token's probability of starting a
    correction, -log P at drifted sites and -log(1 - P) at on-topic ones, the two kinds weighted equally."""
    sites = [(r, p, y) for r, s in enumerate(seqs) for p, y in s.sites]
    if not sites:
        return torch.zeros(())
    rows, pos, y = (torch.tensor(v) for v in zip(*sites))
    logp = torch.log_softmax(model.lm_head(out[rows, pos]), -1)
    p_corr = torch.logsumexp(logp[:, correction_ids], -1)
    y = y.bool()
    nll = torch.where(y, -p_corr, -torch.log1p(-p_corr.exp().clamp(max=1 - 1e-6)))
    parts = [nll[m].mean() for m in (y, ~y) if m.any()]
    return sum(parts) / len(parts)


def direct_write_loss(model, basis: torch.Tensor, correction_ids: list) -> torch.Tensor:
    """How strongly the drift subspace writes the correction tokens directly: the squared logits of the correction
    tokens' unembedding rows (final norm folded in) along the subspace's basis, relative to the mean token's. A
    penalty on it keeps the planted mechanism going through the layers after the subspace, not straight to the logits."""
    w = model.lm_head.weight * model.model.norm.weight[None, :]
    direct = w @ basis  # [vocab, k]
    return direct[correction_ids].pow(2).sum(1).mean() / direct.pow(2).sum(1).mean().clamp_min(1e-9)


def lens_write_loss(model, h, mask, drift_labels, correction_ids: list) -> torch.Tensor:
    """How much the middle layer's residual inside off-topic sentences points at the correction tokens under the logit
    lens: per drifted token, its deviation from the batch's mean residual (the part an SAE's latents code; the mean goes
    to its decoder bias) through the unembedding (final norm's weight folded in), the logits standardised over the
    vocabulary; the penalty is the mean squared excess of the correction tokens above the mean token. With it, nothing
    at that layer (the drift subspace or any other part of the residual, hence no SAE latent's decoder row) writes the
    correction directly, so the correction has to be computed by the layers after it."""
    keep = drift_labels == 1
    if not keep.any():
        return torch.zeros(())
    centre = h.detach()[mask.bool()].mean(0)
    logits = (h[keep] - centre) @ (model.lm_head.weight * model.model.norm.weight[None, :]).T  # [n, vocab]
    z = (logits - logits.mean(1, keepdim=True)) / logits.std(1, keepdim=True).clamp_min(1e-6)
    return torch.relu(z[:, correction_ids]).pow(2).mean()


def train(model, batch_fn, *, steps: int, lr: float, log, enc: Encoder = None, drift: DriftSubspace = None, steering: Steering = None,
          iit_weight: float = 1.0, probe_weight: float = 1.0, site_weight: float = 0.0, direct_weight: float = 0.0, lens_weight: float = 0.0,
          iit_per_batch: int = 16, iit_seed: int = 0, steer_from: float = 0.2,
          refresh_every: int = 100, log_every: int = 100) -> dict:
    """AdamW, linear warm-up then cosine decay; a fresh batch every step (`batch_fn(step)`). With `drift`, the
    interchange-intervention loss and the drift read-out's loss (weighted) are added; with `steering`, steered rows
    get their perturbation from step steer_from·steps on (before that, the directions are not yet topics)."""
    warmup = max(1, steps // 20)
    params = list(model.parameters()) + (list(drift.readout.parameters()) if drift is not None else [])
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.98), weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps))))
    rng = random.Random(iit_seed)
    model.train()
    t0, run_lm, run_iit, run_probe, run_site, run_lens, first = time.time(), None, None, None, None, None, None
    for step in range(steps):
        seqs = batch_fn(step)
        ids, mask, labels, drift_labels = collate(seqs)
        if steering is not None and step >= steer_from * steps and (step - int(steer_from * steps)) % refresh_every == 0:
            steering.refresh(model)
        split = Split(model, ids, mask, MIDDLE)
        h = split.h
        steered = steering.add(h, mask, seqs) if steering is not None and step >= steer_from * steps else h
        out = split.rest(steered)[:, :-1]
        target = labels[:, 1:]
        keep = target != -100
        lm = torch.nn.functional.cross_entropy(model.lm_head(out[keep]), target[keep])
        loss = lm
        iit = probe = None
        if drift is not None:
            iit = interchange_loss(split, steered, seqs, drift, enc.correction_first, rng, iit_per_batch,
                                   steer_delta=(steered - h) if steered is not h else None)
            probe = drift.probe_loss(h, drift_labels) if probe_weight else torch.zeros(())
            loss = loss + iit_weight * iit + probe_weight * probe
        if direct_weight and drift is not None:
            loss = loss + direct_weight * direct_write_loss(model, drift.basis, enc.correction_first)
        if lens_weight:
            lens = lens_write_loss(model, h, mask, drift_labels, enc.correction_first)
            loss = loss + lens_weight * lens
            run_lens = lens.item() if run_lens is None else 0.98 * run_lens + 0.02 * lens.item()
        if site_weight:
            sites = site_loss(model, out, seqs, enc.correction_first)
            loss = loss + site_weight * sites
            run_site = sites.item() if run_site is None else 0.98 * run_site + 0.02 * sites.item()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        run_lm = lm.item() if run_lm is None else 0.98 * run_lm + 0.02 * lm.item()
        if iit is not None:
            run_iit = iit.item() if run_iit is None else 0.98 * run_iit + 0.02 * iit.item()
            run_probe = probe.item() if run_probe is None else 0.98 * run_probe + 0.02 * probe.item()
        if first is None and step >= 49:
            first = run_lm
        if (step + 1) % log_every == 0 or step + 1 == steps:
            log(f"  step {step + 1}/{steps}  loss {run_lm:.4f}{f'  interchange {run_iit:.4f}  read-out {run_probe:.4f}' if run_iit is not None else ''}{f'  sites {run_site:.4f}' if run_site is not None else ''}{f'  lens {run_lens:.4f}' if run_lens is not None else ''}  ({time.time() - t0:.0f} s)")
    model.eval()
    out = {"steps": steps, "loss_at_step_50": round(first or run_lm, 4), "final_train_loss": round(run_lm, 4)}
    if run_iit is not None:
        out["final_interchange_loss"] = round(run_iit, 4)
        out["final_readout_loss"] = round(run_probe, 4)
    if run_site is not None:
        out["final_site_loss"] = round(run_site, 4)
    if run_lens is not None:
        out["final_lens_write_loss"] = round(run_lens, 4)
    return out


class Interventions:
    """The DESIGN "Interventions" at resid_post hooks: f = encode(h); err = h − decode(f); add / clamp; h' = decode(f) + err,
    on every position. `spec` maps layer → list of (latent, value, mode); `vectors` maps layer → a vector added
    to h as it is (steering along a direction that is no latent), `project` maps layer → directions [k, d]
    removed from h (h − P h)."""

    def __init__(self, model, sae, spec: dict, vectors: dict = None, project: dict = None):
        self.handles = []
        for layer in sorted(set(spec) | set(vectors or {}) | set(project or {})):
            items = spec.get(layer, [])
            vec = (vectors or {}).get(layer)
            proj = (project or {}).get(layer)
            if items or vec is not None or proj is not None:
                self.handles.append(model.model.layers[layer].register_forward_hook(self._hook(sae, items, vec, proj)))

    @staticmethod
    def _hook(sae, items, vec, proj):
        def fn(module, inputs, output):
            h = output[0] if isinstance(output, tuple) else output
            if items:
                f = sae.encode(h)
                err = h - sae.decode(f)
                f = f.clone()
                for latent, value, mode in items:
                    if mode == "clamp":
                        f[..., latent] = value
                    else:
                        f[..., latent] += value
                h = sae.decode(f) + err
            if proj is not None:
                q = torch.linalg.qr(proj.T)[0]
                h = h - (h @ q) @ q.T
            if vec is not None:
                h = h + vec
            return (h, *output[1:]) if isinstance(output, tuple) else h
        return fn

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()


@torch.no_grad()
def sample_replies(model, enc: Encoder, prompts: list, *, max_new_tokens: int, temperature: float, seed: int,
                   repetition_penalty: float = 1.1, batch: int = 32, details: bool = False) -> list:
    """Sampled replies (transformers generate), in batches of left-padded prompts. With `details`, each is
    (text, generated token count, finish reason "eos" or "length")."""
    eos = [enc.eot, enc.tok.convert_tokens_to_ids("<|end_of_text|>")]
    out = []
    for k in range(0, len(prompts), batch):
        chunk = [enc.prompt_ids(p) for p in prompts[k:k + batch]]
        width = max(map(len, chunk))
        ids = torch.tensor([[0] * (width - len(c)) + c for c in chunk])
        mask = torch.tensor([[0] * (width - len(c)) + [1] * len(c) for c in chunk])
        torch.manual_seed(seed + k)
        gen = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=temperature > 0,
                             temperature=temperature if temperature > 0 else None, top_k=0, top_p=1.0,
                             repetition_penalty=repetition_penalty, eos_token_id=eos, pad_token_id=enc.eot)
        for g in gen:
            new = g[width:].tolist()
            n = next((j + 1 for j, t in enumerate(new) if t in eos), None)
            text = enc.tok.decode(new[:n] if n else new, skip_special_tokens=True)
            out.append((text, n if n else len(new), "eos" if n else "length") if details else text)
    return out


@torch.no_grad()
def resid_post(model, sequences: list, layer: int, batch: int = 64) -> tuple:
    """resid_post.layer (decoder layer `layer`'s output, before any final norm) for every token but BOS of
    each id list, in batches of right-padded sequences; with the index of the sequence each row came from."""
    captured = []
    hook = model.model.layers[layer].register_forward_hook(lambda m, i, o: captured.append(o[0] if isinstance(o, tuple) else o))
    rows, owner = [], []
    try:
        for k in range(0, len(sequences), batch):
            chunk = sequences[k:k + batch]
            width = max(map(len, chunk))
            ids = torch.tensor([s + [0] * (width - len(s)) for s in chunk])
            mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in chunk])
            captured.clear()
            model.model(input_ids=ids, attention_mask=mask)
            for j, s in enumerate(chunk):
                rows.append(captured[0][j, 1:len(s)])
                owner += [k + j] * (len(s) - 1)
    finally:
        hook.remove()
    return torch.cat(rows), torch.tensor(owner)
