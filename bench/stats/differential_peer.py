"""Peer of bench/stats/differential.ts: scipy vectorized over dense blocks of latents (the ones the
TypeScript side samples evenly), timing mannwhitneyu + ttest_ind(equal_var=False) + BH."""
import json
import sys
import time

import numpy as np
from scipy import sparse, stats

d, n, dsae, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
indptr = np.fromfile(f"{d}/indptr.bin", np.int32)
lat = np.fromfile(f"{d}/latents.bin", np.int32)
val = np.fromfile(f"{d}/values.bin", np.float64)
X = sparse.csr_matrix((val, lat, indptr), shape=(n, dsae)).tocsc()
cols = np.linspace(0, dsae - 1, k).astype(int)
t0 = time.perf_counter()
us, ps, ts = [], [], []
for start in range(0, k, 1024):
    block = X[:, cols[start:start + 1024]].toarray()
    a, b = block[: n // 2], block[n // 2:]
    mw = stats.mannwhitneyu(a, b, axis=0)
    with np.errstate(all="ignore"):
        tt = stats.ttest_ind(a, b, axis=0, equal_var=False)
    us.append(mw.statistic), ps.append(mw.pvalue), ts.append(tt.statistic)
p = np.concatenate(ps)
stats.false_discovery_control(p)
secs = time.perf_counter() - t0
print(json.dumps({"seconds": secs, "latents": cols.tolist(), "u": np.concatenate(us).tolist(), "p_mwu": p.tolist(),
                  "t": [None if not np.isfinite(x) else float(x) for x in np.concatenate(ts)]}))
