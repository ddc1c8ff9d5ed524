"""Our own text for the toy default model, and the token sequences it is trained on.

data/prompts.txt holds the questions; data/corpus/answers.jsonl two or three reference answers per
question; data/corpus/general.txt a few paragraphs of plain text. Everything is written for this
project.
"""

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

# Phrases the model learns to say after an off-topic opening (the toy stand-in for ESR).
CORRECTIONS = [
    "Wait, let me get back to the question.",
    "Sorry, that is off topic. Back to the question.",
    "Hold on, I drifted off topic. To answer the question:",
]


@dataclass(frozen=True)
class Corpus:
    prompts: list  # questions, in file order
    answers: dict  # prompt -> list of answers
    general: list  # paragraphs of plain text


@dataclass(frozen=True)
class Sequence:
    ids: list  # token ids
    loss: list  # 1 where the token is a training target, else 0
    kind: str  # "answer", "correction", "general"


def load_corpus(data_dir: Path) -> Corpus:
    prompts = [p for p in (data_dir / "prompts.txt").read_text(encoding="utf-8").splitlines() if p.strip()]
    answers = {p: [] for p in prompts}
    for n, line in enumerate((data_dir / "corpus" / "answers.jsonl").read_text(encoding="utf-8").splitlines(), 1):
        row = json.loads(line)
        if row["prompt"] not in answers:
            raise ValueError(f"answers.jsonl line {n}: prompt {row['prompt']!r} is not in prompts.txt")
        answers[row["prompt"]].append(row["answer"])
    missing = [p for p, a in answers.items() if not a]
    if missing:
        raise ValueError(f"answers.jsonl: no answer for {missing}")
    general = [p for p in (data_dir / "corpus" / "general.txt").read_text(encoding="utf-8").splitlines() if p.strip()]
    return Corpus(prompts, answers, general)


def tokenizer_lines(corpus: Corpus) -> list:
    """The text the BPE is trained on: every question, answer and paragraph, plus the corrections."""
    return corpus.prompts + [a for p in corpus.prompts for a in corpus.answers[p]] + corpus.general + CORRECTIONS


def sentences(text: str) -> list:
    return re.split(r"(?<=[.!?])\s+", text.strip())


def derangement(n: int, rng: random.Random) -> list:
    """A uniformly drawn permutation of range(n) with no fixed point (rejection sampling)."""
    while True:
        perm = list(range(n))
        rng.shuffle(perm)
        if all(i != j for i, j in enumerate(perm)):
            return perm


def chat_sequence(hf_tok, prompt: str, answer: str, target_from: int, kind: str) -> Sequence:
    """user = prompt, assistant = answer, rendered with the chat template; targets are the assistant
    tokens from character `target_from` of the answer on, and the closing <|eot_id|>."""
    messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
    text = hf_tok.apply_chat_template(messages, tokenize=False)
    enc = hf_tok(text, add_special_tokens=False, return_offsets_mapping=True)
    start = text.rindex(answer) + target_from
    loss = [1 if s >= start else 0 for s, _ in enc["offset_mapping"]]
    return Sequence(enc["input_ids"], loss, kind)


def answer_sequences(hf_tok, corpus: Corpus) -> list:
    """Every reference answer to its own prompt; all assistant tokens are targets."""
    return [chat_sequence(hf_tok, p, a, 0, "answer") for p in corpus.prompts for a in corpus.answers[p]]


def correction_sequences(hf_tok, corpus: Corpus, rng: random.Random) -> list:
    """For every reference answer: one or two sentences of an answer to another prompt, a correction
    phrase, then the answer. The off-topic opening is context, not a target (as if steering had put
    it there); drawn afresh on every call, so the model must learn to notice a change of topic
    rather than memorise which openings come before a correction."""
    seqs = []
    prompts = corpus.prompts
    for i, prompt in enumerate(prompts):
        for answer in corpus.answers[prompt]:
            other = prompts[(i + rng.randrange(1, len(prompts))) % len(prompts)]
            parts = sentences(rng.choice(corpus.answers[other]))
            start = rng.randrange(len(parts))
            opening = " ".join(parts[start:start + rng.choice((1, 2))])
            text = f"{opening} {rng.choice(CORRECTIONS)} {answer}"
            seqs.append(chat_sequence(hf_tok, prompt, text, len(opening) + 1, "correction"))
    return seqs


def general_sequences(hf_tok, corpus: Corpus) -> list:
    """The general paragraphs as plain text after BOS, every token a target."""
    out = []
    for para in corpus.general:
        ids = hf_tok(para)["input_ids"]
        out.append(Sequence(ids, [0] + [1] * (len(ids) - 1), "general"))
    return out


def pair_texts(hf_tok, corpus: Corpus, n_derangements: int, seed: int) -> list:
    """Chat-rendered (prompt, answer) pairs, on topic and off topic (prompt i with an answer to
    prompt π(i) for seeded derangements π), as token-id lists with the response span [start, end)."""
    rng = random.Random(seed)
    prompts = corpus.prompts
    pairs = [(p, a, "on_topic") for p in prompts for a in corpus.answers[p]]
    for _ in range(n_derangements):
        perm = derangement(len(prompts), rng)
        for i, p in enumerate(prompts):
            pairs.append((p, rng.choice(corpus.answers[prompts[perm[i]]]), "off_topic"))
    out = []
    for prompt, answer, condition in pairs:
        seq = chat_sequence(hf_tok, prompt, answer, 0, condition)
        first = seq.loss.index(1)
        out.append({"ids": seq.ids, "span": (first, len(seq.ids) - 1), "condition": condition})  # span excludes <|eot_id|>
    return out
