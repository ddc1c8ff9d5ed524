"""Creates (once) a random Llama checkpoint for the forward benchmark, in bench/.cache/: `110m` (12 layers,
d = 768, vocab 32,000, tied) or `1b` (Llama-3.2-1B's shape: 16 layers, d = 2,048, GQA 32/8, vocab 128,256, tied)."""
import os
import sys

import torch
from transformers import LlamaConfig, LlamaForCausalLM

SIZES = {
    "110m": dict(vocab_size=32000, hidden_size=768, intermediate_size=2048, num_hidden_layers=12,
                 num_attention_heads=12, num_key_value_heads=12, max_position_embeddings=2048),
    "1b": dict(vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
               num_attention_heads=32, num_key_value_heads=8, head_dim=64, max_position_embeddings=8192,
               rope_theta=500000.0),
}

out = sys.argv[1]
size = sys.argv[2] if len(sys.argv) > 2 else "110m"
if not os.path.exists(os.path.join(out, "config.json")):
    torch.manual_seed(0)
    cfg = LlamaConfig(**SIZES[size], tie_word_embeddings=True, bos_token_id=1, eos_token_id=2)
    model = LlamaForCausalLM(cfg)
    model.save_pretrained(out)
    print(f"created {out}: {sum(p.numel() for p in model.parameters()) / 1e6:.0f}M parameters", file=sys.stderr)
