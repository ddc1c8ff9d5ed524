"""The toy Llama model: architecture, training on the chat-rendered corpus, greedy and sampled replies."""

import math
import random
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

ARCH = dict(hidden_size=128, intermediate_size=384, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
            head_dim=32, max_position_embeddings=512, rms_norm_eps=1e-5, tie_word_embeddings=True)


def new_model(vocab_size: int, bos_id: int, eos_ids: list) -> LlamaForCausalLM:
    config = LlamaConfig(vocab_size=vocab_size, bos_token_id=bos_id, eos_token_id=eos_ids, initializer_range=0.02,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, **ARCH)
    return LlamaForCausalLM(config)


def batches(seqs: list, batch_size: int, rng: random.Random):
    """Shuffled batches, right-padded; labels are -100 where the token is not a training target."""
    order = list(range(len(seqs)))
    rng.shuffle(order)
    for k in range(0, len(order), batch_size):
        chunk = [seqs[i] for i in order[k:k + batch_size]]
        width = max(len(s.ids) for s in chunk)
        ids = torch.zeros(len(chunk), width, dtype=torch.long)
        mask = torch.zeros(len(chunk), width, dtype=torch.long)
        labels = torch.full((len(chunk), width), -100, dtype=torch.long)
        for r, s in enumerate(chunk):
            n = len(s.ids)
            ids[r, :n] = torch.tensor(s.ids)
            mask[r, :n] = 1
            labels[r, :n] = torch.tensor([t if keep else -100 for t, keep in zip(s.ids, s.loss)])
        yield ids, mask, labels


def train(model: LlamaForCausalLM, epoch_data, *, epochs: int, batch_size: int, lr: float, seed: int, log) -> dict:
    """AdamW with linear warm-up and cosine decay; the loss is the mean cross-entropy over target tokens.
    `epoch_data(epoch)` gives the sequences of one epoch (the same number every epoch)."""
    rng = random.Random(seed)
    data = [epoch_data(e) for e in range(epochs)]
    steps = epochs * math.ceil(len(data[0]) / batch_size)
    warmup = max(1, steps // 20)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.98), weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps))))
    model.train()
    step, t0, history = 0, time.time(), []
    for epoch, seqs in enumerate(data):
        total, count = 0.0, 0
        for ids, mask, labels in batches(seqs, batch_size, rng):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            n = int((labels[:, 1:] != -100).sum())
            total, count = total + loss.item() * n, count + n
        history.append(total / count)
        if (epoch + 1) % 10 == 0 or epoch == 0 or epoch + 1 == epochs:
            log(f"  epoch {epoch + 1}/{epochs}  loss {total / count:.4f}  ({time.time() - t0:.0f} s)")
    model.eval()
    return {"steps": step, "final_train_loss": history[-1], "first_epoch_loss": history[0]}


@torch.no_grad()
def target_loss(model: LlamaForCausalLM, seqs: list) -> float:
    """Mean cross-entropy over the target tokens of `seqs` (eval mode, one sequence at a time)."""
    total, count = 0.0, 0
    for s in seqs:
        ids = torch.tensor([s.ids])
        labels = torch.tensor([[t if keep else -100 for t, keep in zip(s.ids, s.loss)]])
        n = int((labels[:, 1:] != -100).sum())
        total += model(input_ids=ids, labels=labels).loss.item() * n
        count += n
    return total / count


@torch.no_grad()
def reply(model, hf_tok, prompt: str, max_new_tokens: int, sample_seed=None, opening=None) -> str:
    """Greedy (sample_seed None) or sampled (temperature 0.8) reply to one user turn; with `opening`,
    the continuation of an assistant turn that starts with it."""
    messages = [{"role": "user", "content": prompt}]
    if opening is None:
        ids = hf_tok.apply_chat_template(messages, add_generation_prompt=True, return_dict=False, return_tensors="pt")
    else:
        ids = hf_tok.apply_chat_template(messages + [{"role": "assistant", "content": opening}],
                                         continue_final_message=True, return_dict=False, return_tensors="pt")
    kw = {"do_sample": False}
    if sample_seed is not None:
        torch.manual_seed(sample_seed)
        kw = {"do_sample": True, "temperature": 0.8, "top_k": 0, "top_p": 1.0}
    out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                         pad_token_id=hf_tok.pad_token_id or 0, **kw)
    return hf_tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
