"""Peer of bench/stats/stratified.ts: the within-prompt test of chosen latents in Python, timed.

- scipy.stats.permutation_test((on, *off.T), stat, permutation_type='samples', vectorized=True) with
  n_resamples Monte Carlo permutations (the exact enumeration, ((K+1)!)^n, is out of reach at 48 x 5);
- the exact p by numpy convolution of the rows' null distributions (an independent implementation).

Input: DIR/values.bin (float64, latents x prompts x (K+1), column 0 = on-topic), shape from argv.
Output (stdout, JSON): CPU seconds per method (time.process_time: the machine may be shared) and the p-values.
"""
import json
import sys
import time

import numpy as np
from scipy import stats

d, n_lat, n, k1, resamples = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
vals = np.fromfile(f"{d}/values.bin", np.float64).reshape(n_lat, n, k1)


def stat(on, *offs, axis=-1):
    s = 0
    for o in offs:
        s = s + 2 * (o > on) + (o == on)
    return np.sum(s, axis=axis)


t0 = time.process_time()
p_mc = []
for l in range(n_lat):
    v = vals[l]
    r = stats.permutation_test((v[:, 0], *v[:, 1:].T), stat, permutation_type="samples", n_resamples=resamples,
                               alternative="greater", vectorized=True, rng=l)
    p_mc.append(float(r.pvalue))
t_mc = time.process_time() - t0

t0 = time.process_time()
p_exact = []
for l in range(n_lat):
    v = vals[l]
    # U^(m) of every row and position: 2 * (# values above m) + (# ties with m, itself excluded)
    above = (v[:, None, :] > v[:, :, None]).sum(axis=2)
    ties = (v[:, None, :] == v[:, :, None]).sum(axis=2) - 1
    u = 2 * above + ties
    observed = int(u[:, 0].sum())
    pmf = np.ones(1)
    for row in u:
        row_pmf = np.bincount(row, minlength=2 * (k1 - 1) + 1) / k1
        pmf = np.convolve(pmf, row_pmf)
    p_exact.append(float(pmf[observed:].sum()))
t_exact = time.process_time() - t0

print(json.dumps({"seconds_mc": t_mc, "seconds_exact": t_exact, "p_mc": p_mc, "p_exact": p_exact}))
