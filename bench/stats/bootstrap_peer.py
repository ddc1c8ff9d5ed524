"""Peer of bench/stats/bootstrap.ts: scipy.stats.bootstrap (BCa, 10,000 resamples) of each ESR metric,
resampling cluster indices; the statistic sums the resampled clusters' trial vectors."""
import json
import sys
import time

import numpy as np
from scipy import stats

sums = np.fromfile(sys.argv[1], np.float64).reshape(-1, 5)
idx = np.arange(len(sums))
metrics = [(1, 0), (2, 0), (2, 1), (3, 0), (4, 1)]  # numerator column, denominator column


def make(num, den):
    def statistic(i, axis=-1):
        t = sums[i]  # (..., clusters, 5)
        return t[..., num].sum(axis=-1) / t[..., den].sum(axis=-1)
    return statistic


t0 = time.perf_counter()
cis = []
for num, den in metrics:
    r = stats.bootstrap((idx,), make(num, den), n_resamples=10_000, method="BCa", rng=np.random.default_rng(1), vectorized=True)
    cis.append([r.confidence_interval.low, r.confidence_interval.high])
print(json.dumps({"seconds": time.perf_counter() - t0, "ci": cis}))
