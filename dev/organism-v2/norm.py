"""norm.py ORG: the median ||resid_post.3|| over the tokens of the first 72 tuning prompts (chat-rendered prompts), as saexp.py computes it."""
import sys
from pathlib import Path
sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "data"))
import torch
from transformers import AutoTokenizer, LlamaForCausalLM
import organism_lm as M
org = Path(sys.argv[1])
torch.set_num_threads(1)
enc = M.Encoder(AutoTokenizer.from_pretrained(str(org / "model")))
model = LlamaForCausalLM.from_pretrained(str(org / "model"), dtype=torch.float32).eval()
texts = (org / "tune_a.txt").read_text().splitlines()
with torch.no_grad():
    h, _ = M.resid_post(model, [enc.prompt_ids(t) for t in texts], 3)
print(round(float(h.norm(dim=1).median()), 4))
