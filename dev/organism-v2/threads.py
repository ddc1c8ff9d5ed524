"""Threads test: Steering.refresh and 3 forward+backward passes of a batch of 32 at N torch threads (argv[1]); wall and CPU."""
import random, sys, time, torch
sys.path[:0] = [str(__import__("pathlib").Path(__file__).resolve().parent), str(__import__("pathlib").Path(__file__).resolve().parents[2] / "data")]  # these scripts, then data/ (the generator's modules and the tokenizer)
from transformers import AutoTokenizer
import organism_corpus as C, organism_lm as M
torch.set_num_threads(int(sys.argv[1]))
enc = M.Encoder(AutoTokenizer.from_pretrained("/tmp/organism/runs/a2"))
model = M.new_model(len(enc.tok), enc.bos, [enc.eot]).eval()
st = M.Steering(enc, random.Random(1), (0.3, 1.5))
c = time.process_time(); t = time.time(); st.refresh(model)
print("threads", sys.argv[1], "refresh wall", round(time.time() - t, 1), "cpu", round(time.process_time() - c, 1), flush=True)
tr, d, h = C.split_prompts(20250101)
seqs = M.draw_batch(enc, tr, random.Random(0), 32, M.MIX); ids, mask, labels, dl = M.collate(seqs)
model.train()
c = time.process_time(); t = time.time()
for _ in range(3):
    sp = M.Split(model, ids, mask, 3); out = sp.rest(sp.h); model.lm_head(out).logsumexp(-1).mean().backward()
print("threads", sys.argv[1], "fwd+bwd x3 wall", round(time.time() - t, 1), "cpu", round(time.process_time() - c, 1), ids.shape, flush=True)
