"""A Llama-3-structured ByteLevel BPE tokenizer and chat template, written for this project.

Shared by data/make_default.py (the shipped default model) and
test/fixtures/tokenizers/make_tokenizers.py (the 512-token test tokenizer). BPE training has no
randomness, so the same corpus and vocabulary size always give the same tokenizer.json.
"""

import json
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

# The pre-tokenizer pattern of Llama-3 (tiktoken's cl100k-style split).
LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
LLAMA3_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]

LLAMA3_TEMPLATE = """{{- bos_token }}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content'] | trim %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set system_message = '' %}
    {%- set loop_messages = messages %}
{%- endif %}
{%- if system_message %}
    {{- '<|start_header_id|>system<|end_header_id|>\\n\\n' + system_message + '<|eot_id|>' }}
{%- endif %}
{%- for message in loop_messages %}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
"""


def build_llama3(corpus: list, vocab_size: int) -> Tokenizer:
    """Trains the BPE on `corpus` (lines) to `vocab_size` tokens in all, special tokens included."""
    n_special = len(LLAMA3_SPECIALS)
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - n_special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer)
    assert tok.get_vocab_size() == vocab_size - n_special, tok.get_vocab_size()
    # Special tokens after the base vocabulary, as in Llama-3.
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in LLAMA3_SPECIALS])
    bos_id = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence(
        [
            processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True),
            processors.TemplateProcessing(
                single="<|begin_of_text|> $A",
                pair="<|begin_of_text|> $A <|begin_of_text|>:1 $B:1",
                special_tokens=[("<|begin_of_text|>", bos_id)],
            ),
        ]
    )
    return tok


def added_tokens_decoder(tok: Tokenizer) -> dict:
    return {
        str(i): {"content": t.content, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": True}
        for i, t in sorted(tok.get_added_tokens_decoder().items())
    }


def llama3_tokenizer_config(tok: Tokenizer) -> dict:
    """tokenizer_config.json: fast tokenizer, Llama-3 BOS/EOS names, our chat template."""
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<|begin_of_text|>",
        "eos_token": "<|eot_id|>",
        "clean_up_tokenization_spaces": True,
        "model_input_names": ["input_ids", "attention_mask"],
        "model_max_length": 131072,
        "added_tokens_decoder": added_tokens_decoder(tok),
        "chat_template": LLAMA3_TEMPLATE,
    }


def llama3_generation_ids(tok: Tokenizer) -> dict:
    """BOS and the two EOS ids (end of text, end of turn) for generation_config.json."""
    return {"bos_token_id": tok.token_to_id("<|begin_of_text|>"),
            "eos_token_id": [tok.token_to_id("<|end_of_text|>"), tok.token_to_id("<|eot_id|>")]}


def write_tokenizer_dir(out: Path, tok: Tokenizer, config: dict, generation: dict) -> None:
    """tokenizer.json, tokenizer_config.json and generation_config.json in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(out / "tokenizer.json"))
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "generation_config.json").write_text(json.dumps(generation, indent=2) + "\n", encoding="utf-8")
