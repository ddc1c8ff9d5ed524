"""The organism's Llama model: token sequences with loss masks, training on freshly drawn batches, and
generation with SAE interventions (steering / clamping, SAE error term kept) through transformers hooks."""

import math
import random
import time
from dataclasses import dataclass

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from organism_corpus import Answer, Prompt, drifted_answer, general_paragraph, plain_answer, TOPICS

ARCH = dict(hidden_size=128, intermediate_size=256, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
            head_dim=32, max_position_embeddings=512, rms_norm_eps=1e-5, tie_word_embeddings=True)


@dataclass
class Seq:
    ids: list
    loss: list  # per token: is it a training target (predicted from the tokens before it)
    drift: list = None  # per token: 1 inside an off-topic (drifted) sentence, 0 in the on-topic answer, -1 elsewhere


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

    def prompt_ids(self, text: str) -> list:
        if text not in self.cache:
            self.cache[text] = list(self.tok.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True,
                                                                 return_dict=False))
        return self.cache[text]

    def answer(self, prompt: str, answer: Answer) -> Seq:
        """prompt ids + answer tokens + <|eot_id|>; loss on the answer's trained sentences and the end of turn."""
        head = self.prompt_ids(prompt)
        text, bounds, pos = "", [], 0
        for k, (s, _) in enumerate(answer.parts):
            start = len(text) + (1 if k else 0)
            text += (" " if k else "") + s
            bounds.append((start, len(text)))
        enc = self.tok(text, add_special_tokens=False, return_offsets_mapping=True)
        keep = []
        for (a, b) in enc["offset_mapping"]:
            owner = next(k for k, (s, e) in enumerate(bounds) if b <= e)  # a space between sentences goes with the next
            keep.append(answer.parts[owner][1])
        ids = head + enc["input_ids"] + [self.eot]
        return Seq(ids, [False] * len(head) + keep + [True], [-1] * len(head) + [0 if k else 1 for k in keep] + [0])

    def general(self, text: str) -> Seq:
        ids = [self.bos] + self.tok(text, add_special_tokens=False)["input_ids"]
        return Seq(ids, [False] + [True] * (len(ids) - 1), [-1] * len(ids))


class Batches:
    """Fresh sequences every step, drawn `pool` batches at a time and grouped by length (less padding)."""

    def __init__(self, enc, prompts: list, rng: random.Random, size: int, pool: int = 8, p_drift: float | None = None):
        self.enc, self.prompts, self.rng, self.size, self.pool, self.queue = enc, prompts, rng, size, pool, []
        self.draw_options = {} if p_drift is None else {"p_drift": p_drift}  # None: draw_batch's own share

    def __call__(self, step: int) -> list:
        if not self.queue:
            seqs = sorted(draw_batch(self.enc, self.prompts, self.rng, self.size * self.pool, **self.draw_options), key=lambda s: len(s.ids))
            self.queue = [seqs[k:k + self.size] for k in range(0, len(seqs), self.size)]
            self.rng.shuffle(self.queue)
        return self.queue.pop()


def draw_batch(enc: Encoder, prompts: list, rng: random.Random, n: int, p_drift: float = 0.45, p_general: float = 0.1) -> list:
    out = []
    for _ in range(n):
        u = rng.random()
        if u < p_general:
            out.append(enc.general(general_paragraph(rng.choice(list(TOPICS)), rng)))
        else:
            p = rng.choice(prompts)
            out.append(enc.answer(p.text, drifted_answer(p, rng) if u < p_general + p_drift else plain_answer(p, rng)))
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


def lm_loss(model, ids, mask, labels):
    """Mean next-token cross-entropy over the target tokens; logits only where there is a target."""
    h = model.model(input_ids=ids, attention_mask=mask).last_hidden_state[:, :-1]
    target = labels[:, 1:]
    keep = target != -100
    return torch.nn.functional.cross_entropy(model.lm_head(h[keep]), target[keep])


class DriftProbe(torch.nn.Module):
    """Training aid only (not saved): a linear read-out at resid_post.`layer` trained, with the model, to say
    whether the current token is inside an off-topic sentence. Its loss gives the mismatch a dense signal at
    every token (the correction itself is learned from the next-token loss alone)."""

    def __init__(self, model, layer: int):
        super().__init__()
        self.head = torch.nn.Linear(model.config.hidden_size, 1)
        self.h = None
        model.model.layers[layer].register_forward_hook(self._keep)

    def _keep(self, module, inputs, output):
        self.h = output[0] if isinstance(output, tuple) else output

    def loss(self, drift):
        keep = drift >= 0
        return torch.nn.functional.binary_cross_entropy_with_logits(self.head(self.h[keep]).squeeze(-1), drift[keep])


def train(model, batch_fn, *, steps: int, lr: float, log, log_every: int = 100, on_log=None, probe: DriftProbe = None,
          probe_weight: float = 1.0) -> dict:
    """AdamW, linear warm-up then cosine decay; a fresh batch every step (`batch_fn(step)`); with `probe`, its loss
    (weighted) is added."""
    warmup = max(1, steps // 20)
    params = list(model.parameters()) + (list(probe.parameters()) if probe else [])
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.98), weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps))))
    model.train()
    t0, running, first = time.time(), None, None
    for step in range(steps):
        ids, mask, labels, drift = collate(batch_fn(step))
        loss = lm_loss(model, ids, mask, labels)
        if probe is not None:
            aux = probe.loss(drift)
            loss = loss + probe_weight * aux
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        lm = loss.item() - (probe_weight * aux.item() if probe is not None else 0.0)
        running = lm if running is None else 0.98 * running + 0.02 * lm
        if probe is not None:
            aux_running = aux.item() if step == 0 else 0.98 * aux_running + 0.02 * aux.item()
        if first is None and step >= 49:
            first = running
        if (step + 1) % log_every == 0 or step + 1 == steps:
            log(f"  step {step + 1}/{steps}  loss {running:.4f}{f'  drift-probe loss {aux_running:.4f}' if probe is not None else ''}  ({time.time() - t0:.0f} s)")
            if on_log:
                on_log(step + 1)
    model.eval()
    out = {"steps": steps, "loss_at_step_50": round(first or running, 4), "final_train_loss": round(running, 4)}
    if probe is not None:
        out["final_drift_probe_loss"] = round(aux_running, 4)
    return out


class Interventions:
    """The DESIGN "Interventions" at resid_post hooks: f = encode(h); err = h − decode(f); add / clamp; h' = decode(f) + err,
    on every position. `spec` maps layer → list of (latent, value, mode)."""

    def __init__(self, model, sae, spec: dict):
        self.handles = []
        for layer, items in spec.items():
            if items:
                self.handles.append(model.model.layers[layer].register_forward_hook(self._hook(sae, items)))

    @staticmethod
    def _hook(sae, items):
        def fn(module, inputs, output):
            h = output[0] if isinstance(output, tuple) else output
            f = sae.encode(h)
            err = h - sae.decode(f)
            f = f.clone()
            for latent, value, mode in items:
                if mode == "clamp":
                    f[..., latent] = value
                else:
                    f[..., latent] += value
            h2 = sae.decode(f) + err
            return (h2, *output[1:]) if isinstance(output, tuple) else h2
        return fn

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()


@torch.no_grad()
def sample_replies(model, enc: Encoder, prompts: list, *, max_new_tokens: int, temperature: float, seed: int,
                   repetition_penalty: float = 1.1, batch: int = 32) -> list:
    """Sampled replies (transformers generate), in batches of left-padded prompts."""
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
        out += [enc.tok.decode(g[width:], skip_special_tokens=True) for g in gen]
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
