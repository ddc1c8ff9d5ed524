#!/usr/bin/env bash
# quick.sh ORG PROMPTS SEED OUT BOOST: the toolkit's discovery, then a baseline / top-26 ablation (20 features x 4 draws, 96 tokens)
# on ORG (a build directory); prints one JSON line: detectors (q < 0.05, strat_auc >= 0.9), multi-attempt and ESR, relative cut.
set -euo pipefail
org=$1 prompts=$2 seed=$3 out=$4 boost=$5
cd "$(dirname "$0")/../.."
mkdir -p "$out"
[ -f "$out/otd/latents.json" ] || npx analyze find-otd-latents --model $org/model --sae $org/sae --prompts $prompts --seed $seed --out $out/otd > $out/otd.log 2>&1
[ -f "$out/ablate/metrics.json" ] || npx analyze ablate --model $org/model --sae $org/sae --prompts $prompts --latents top26 --otd $out/otd/latents.json \
  --conditions baseline,ablate --judge organism:$org/organism.json --feature-labels $org/sae/feature_labels.json --general-text $org/corpus/general.txt \
  --trials-per-feature 4 --n-features 20 --max-tokens 96 --seed $seed --boost $boost --out $out/ablate > $out/ablate.log 2>&1
node -e '
const fs=require("fs");const o=process.argv[1];
const l=JSON.parse(fs.readFileSync(o+"/otd/latents.json"));const m=JSON.parse(fs.readFileSync(o+"/ablate/metrics.json"));
const e=(c,k)=>m.conditions[c].metrics[k].estimate;
const d=m.differences.find(x=>x.a==="ablate"&&x.b==="baseline"&&x.metric==="multi_attempt_rate");
const det=l.latents.filter(x=>x.stats.q_bh<0.05&&x.stats.strat_auc>=0.9).length;
console.log(JSON.stringify({out:o,detectors:det,base:e("baseline","multi_attempt_rate"),esr:e("baseline","esr_rate"),top26:e("ablate","multi_attempt_rate"),rel:(1-e("ablate","multi_attempt_rate")/e("baseline","multi_attempt_rate")).toFixed(2),ci:d&&d.ci95}))' $out
