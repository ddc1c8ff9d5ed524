"""cProfile of a few v2 training steps (batch 32, steering on, interchange 16): where a step's CPU goes."""
import cProfile, pstats, random, sys, time, torch
sys.path[:0] = [str(__import__("pathlib").Path(__file__).resolve().parent), str(__import__("pathlib").Path(__file__).resolve().parents[2] / "data")]  # these scripts, then data/ (the generator's modules and the tokenizer)
from transformers import AutoTokenizer
import organism_corpus as C, organism_lm as M
torch.set_num_threads(int(sys.argv[1]))
enc = M.Encoder(AutoTokenizer.from_pretrained("/tmp/organism/runs/a2"))
tr, d, h = C.split_prompts(20250101)
model = M.new_model(len(enc.tok), enc.bos, [enc.eot])
drift = M.DriftSubspace(128, 4, 1)
st = M.Steering(enc, random.Random(1), (0.3, 1.5))
b = M.Batches(enc, tr, random.Random(0), 32)
c = time.process_time(); t = time.time(); st.refresh(model); print("refresh wall", round(time.time() - t, 1), "cpu", round(time.process_time() - c, 1))
pr = cProfile.Profile(); c = time.process_time(); t = time.time(); pr.enable()
M.train(model, b, steps=10, lr=3e-3, log=print, enc=enc, drift=drift, steering=st, steer_from=0.0, refresh_every=1000, log_every=4)
pr.disable(); print("per step wall", round((time.time() - t) / 10, 2), "cpu", round((time.process_time() - c) / 10, 2))
pstats.Stats(pr).sort_stats("cumulative").print_stats(28)
