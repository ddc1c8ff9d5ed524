#!/usr/bin/env bash
# rule.sh ORG NAME NORM ROOT: the pre-declared strength and robustness rule (NOTES.md, ninth session) with the toolkit:
# for m = 0.6 ... 1.0, quick.sh at boost m x NORM (norm.py) on the first 48 of ORG's tune_b.txt (variant.py --from writes it)
# at seeds 11-14, runs under ROOT; stops at the first m with pooled baseline >= 25%, ESR >= 10% and every cut >= 55%.
# Absolute paths (quick.sh runs from the repo root).
set -uo pipefail
org=$1 name=$2 norm=$3 root=$4
head -48 $org/tune_b.txt > $org/tune_b48.txt
for m in 0.6 0.7 0.8 0.9 1.0; do
  boost=$(python3 -c "print(round($m*$norm,1))")
  for s in 11 12 13 14; do
    out=$root/$name-m$m-s$s
    mkdir -p $out
    [ -e $out/otd ] || { [ $m = 0.6 ] || ln -s $root/$name-m0.6-s$s/otd $out/otd; }
  done
  for s in 11 12; do "$(dirname "$0")/quick.sh" $org $org/tune_b48.txt $s $root/$name-m$m-s$s $boost; done > $root/rule-$name-$m-a.log 2>&1 &
  for s in 13 14; do "$(dirname "$0")/quick.sh" $org $org/tune_b48.txt $s $root/$name-m$m-s$s $boost; done > $root/rule-$name-$m-b.log 2>&1
  wait
  cat $root/rule-$name-$m-[ab].log | python3 -c "
import sys,json
rs=[json.loads(l) for l in sys.stdin if l.startswith('{')]
b=sum(r['base'] for r in rs)/len(rs); e=sum(r['esr'] for r in rs)/len(rs); cuts=[float(r['rel']) for r in rs]
ok=len(rs)==4 and b>=0.25 and e>=0.10 and min(cuts)>=0.55
print(json.dumps({'m':$m,'boost':$boost,'base':round(b,4),'esr':round(e,4),'cuts':cuts,'detectors':[r['detectors'] for r in rs],'passes':ok}))
sys.exit(0 if ok else 3)" | tee -a $root/rule-$name.txt
  [ ${PIPESTATUS[1]} = 0 ] && break
done
