"""Times numpy float32 `a @ b` on the shapes of bench/gemm.mjs, as a native reference.

Uses threadpoolctl to run 1 and 2 BLAS threads when it is installed; otherwise it runs once with
whatever OPENBLAS_NUM_THREADS the caller set. OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE overrides make
OpenBLAS pick slower kernels, so unset them for this command:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 bench/gemm-numpy.py
"""
import os
import time

import numpy as np

try:
    from threadpoolctl import threadpool_limits
except ImportError:
    threadpool_limits = None

H, B, T, V = [128, 512], 50, 50, 65
shapes = []
for h in H:
    shapes += [
        (f"H={h} rec fwd   NT", 0, 1, B, 4 * h, h),
        (f"H={h} in proj   NT", 0, 1, T * B, 4 * h, h),
        (f"H={h} rec bwd   NN", 0, 0, B, h, 4 * h),
        (f"H={h} wgrad     TN", 1, 0, 4 * h, h, T * B),
        (f"H={h} in bwd    NN", 0, 0, T * B, h, 4 * h),
        (f"H={h} decoder   NT", 0, 1, T * B, V, h),
        (f"H={h} sample    NT", 0, 1, 1, 4 * h, h),
        (f"H={h} sample dec NT", 0, 1, 1, V, h),
        (f"H={h} sample    NN", 0, 0, 1, 4 * h, h),
    ]
shapes += [("square         NN", 0, 0, 512, 512, 512), ("square         TT", 1, 1, 512, 512, 512)]


def bench(ta, tb, m, n, k, runs=9):
    rng = np.random.default_rng(1)
    # Stored layouts match the wasm benchmark; transposes are views, as BLAS sees them.
    a = rng.standard_normal((k, m) if ta else (m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n), dtype=np.float32)
    a = a.T if ta else a
    b = b.T if tb else b
    out = np.empty((m, n), dtype=np.float32)
    reps = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(reps):
            np.matmul(a, b, out=out)
        dt = time.perf_counter() - t0
        if dt > 0.02:
            break
        reps *= 4
    rates = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for _ in range(reps):
            np.matmul(a, b, out=out)
        rates.append(2.0 * m * n * k * reps / (time.perf_counter() - t0) / 1e9)
    return sorted(rates)[len(rates) // 2]


def main():
    if threadpool_limits is not None:
        threads = [1, 2]
    else:
        threads = [int(os.environ.get("OPENBLAS_NUM_THREADS", "0")) or os.cpu_count()]
    print(f"numpy {np.__version__}, GFLOP/s median of 9 runs")
    print("shape                 M     N     K" + "".join(f"{f'{t} thr':>10}" for t in threads))
    for label, ta, tb, m, n, k in shapes:
        cols = []
        for t in threads:
            if threadpool_limits is not None:
                with threadpool_limits(limits=t, user_api="blas"):
                    cols.append(bench(ta, tb, m, n, k))
            else:
                cols.append(bench(ta, tb, m, n, k))
        print(f"{label:<18}{m:>5} {n:>5} {k:>5}" + "".join(f"{r:>10.1f}" for r in cols))


if __name__ == "__main__":
    main()
