"""Creates (once) a random ~110M-parameter Llama checkpoint for the forward benchmark, in bench/.cache/."""
import os
import sys

import torch
from transformers import LlamaConfig, LlamaForCausalLM

out = sys.argv[1]
if not os.path.exists(os.path.join(out, "config.json")):
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=32000, hidden_size=768, intermediate_size=2048, num_hidden_layers=12,
                      num_attention_heads=12, num_key_value_heads=12, max_position_embeddings=2048,
                      tie_word_embeddings=True, bos_token_id=1, eos_token_id=2)
    model = LlamaForCausalLM(cfg)
    model.save_pretrained(out)
    print(f"created {out}: {sum(p.numel() for p in model.parameters()) / 1e6:.0f}M parameters", file=sys.stderr)
