"""Experiment driver: train an organism LM variant and measure it (development only; not shipped)."""
import argparse, json, random, sys, time
from pathlib import Path
import torch
sys.dont_write_bytecode = True
sys.path[:0] = [str(__import__("pathlib").Path(__file__).resolve().parent), str(__import__("pathlib").Path(__file__).resolve().parents[2] / "data")]  # these scripts, then data/ (the generator's modules and the tokenizer)
from transformers import AutoTokenizer, LlamaForCausalLM
from llama3_tokenizer import build_llama3, llama3_generation_ids, llama3_tokenizer_config, write_tokenizer_dir
import organism_corpus as C
import organism_lm as M

ap = argparse.ArgumentParser()
ap.add_argument("--name", required=True)
ap.add_argument("--steps", type=int, default=200)
ap.add_argument("--threads", type=int, default=1)  # 2 threads cost 6x the CPU on a loaded 2-core machine (NOTES)
ap.add_argument("--k", type=int, default=4)
ap.add_argument("--iit", type=float, default=1.0)
ap.add_argument("--iit-n", type=int, default=16)
ap.add_argument("--probe", type=float, default=1.0)
ap.add_argument("--direct", type=float, default=0.0)  # weight of the penalty on the subspace writing correction tokens directly
ap.add_argument("--lens", type=float, default=0.0)  # weight of the logit-lens penalty on the middle layer's residual inside off-topic sentences
ap.add_argument("--init", default=None)  # start from this run's model and drift basis (fine-tuning gate runs)
ap.add_argument("--site", type=float, default=0.0)  # weight of the balanced correction / no-correction loss at every sentence end
ap.add_argument("--strength", default="0.3,1.5")
ap.add_argument("--lr", type=float, default=3e-3)
ap.add_argument("--batch", type=int, default=32)
ap.add_argument("--seed", type=int, default=20250101)
ap.add_argument("--hidden", type=int, default=128)
ap.add_argument("--mlp", type=int, default=384)
ap.add_argument("--layers", type=int, default=6)
ap.add_argument("--mix", default="0.1,0.25,0.25")
ap.add_argument("--eval-only", action="store_true")
a = ap.parse_args()
torch.set_num_threads(a.threads)
t_cpu = time.process_time()
torch.manual_seed(a.seed); random.seed(a.seed)
out = Path("/tmp/organism/runs") / a.name
log = lambda m: print(m, file=sys.stderr, flush=True)
M.ARCH.update(hidden_size=a.hidden, intermediate_size=a.mlp, num_hidden_layers=a.layers)
train_p, disc, held = C.split_prompts(a.seed)
if not a.eval_only:
    tok = build_llama3(C.tokenizer_lines(), 2048)
    if a.init:  # the init run's tokenizer (BPE ties may order merges differently between builds)
        from tokenizers import Tokenizer
        tok = Tokenizer.from_file(str(Path("/tmp/organism/runs") / a.init / "tokenizer.json"))
    write_tokenizer_dir(out, tok, {**llama3_tokenizer_config(tok), "model_max_length": 512}, llama3_generation_ids(tok))
    enc = M.Encoder(AutoTokenizer.from_pretrained(str(out)))
    ids = llama3_generation_ids(tok)
    model = M.new_model(tok.get_vocab_size(), ids["bos_token_id"], ids["eos_token_id"])
    if a.init:
        model = LlamaForCausalLM.from_pretrained(str(Path("/tmp/organism/runs") / a.init), dtype=torch.float32)
    log(f"params {sum(p.numel() for p in model.parameters())}")
    drift = M.DriftSubspace(a.hidden, a.k, a.seed + 11) if a.k > 0 else None
    if a.init and drift is not None:
        drift.basis.copy_(torch.load(Path("/tmp/organism/runs") / a.init / "drift_basis.pt"))
    lo, hi = map(float, a.strength.split(","))
    g, d, s = map(float, a.mix.split(","))
    steering = M.Steering(enc, random.Random(a.seed + 12), (lo, hi)) if s > 0 else None
    t0 = time.time()
    stats = M.train(model, M.Batches(enc, train_p, random.Random(a.seed), a.batch, mix=dict(general=g, drifted=d, steered=s)),
                    steps=a.steps, lr=a.lr, log=log, enc=enc, drift=drift, steering=steering, iit_weight=a.iit, probe_weight=a.probe, site_weight=a.site, direct_weight=a.direct, lens_weight=a.lens, iit_per_batch=a.iit_n)
    stats["seconds"] = round(time.time() - t0)
    stats["cpu_seconds"] = round(time.process_time() - t_cpu)
    stats["args"] = vars(a)
    model.save_pretrained(str(out))
    if drift is not None:
        torch.save(drift.basis, out / "drift_basis.pt")
    json.dump(stats, open(out / "train.json", "w"))
    log(json.dumps(stats))
