"""The cost of one allreduce between MPI processes on this machine, against the message size (1 KB … 64 MB), and
the latency α and per-byte cost β of the ring-allreduce model fitted to it (docs/parallel-performance.md).

    python -m pytest bench/test_bench_comm.py --benchmark-enable -s

Each test starts ``mpiexec -n N python bench/test_bench_comm.py OUT`` (N = 2 and 3; 3 ranks are oversubscribed
on a 2-core machine) and reads the medians rank 0 wrote to OUT.  Two ways of reducing are timed per size:

- ``mpi``: mpi4py's blocking ``Allreduce`` (MPI's own wait: it spins on the shared-memory channel);
- ``minidl``: :class:`minidl.training.parallel.MPICommunicator` ``.allreduce`` (what the engine pays: a
  non-blocking ``Iallreduce`` polled without sleep for 200 µs, then with a sleep backoff from 20 µs to 1 ms);
- ``minidl-sleep``: the same with ``spin=0`` (the sleep backoff from the first poll: the engine before issue 15's
  speed work).

Model (ring allreduce of n bytes on N ranks): t(n) = 2(N−1)·α + 2(N−1)/N·n·β.  The fit: the slope b from a
least-squares line through the messages of 1 MB and more, the intercept a the median of t(n) − b·n over the
messages of 1, 4 and 16 KB (latency-bound; the median ignores one disturbed size); then α = a / (2(N−1)) and
β = b·N / (2(N−1)).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

SIZES = [1 << k for k in range(10, 27, 2)]      # bytes: 1 KB, 4 KB, …, 16 MB, 64 MB
ROOT = Path(__file__).resolve().parents[1]


def _repeats(nbytes: int) -> int:
    """Enough repeats for a stable median, fewer for big messages (about 0.3 GB moved per size)."""
    return int(min(300, max(5, 3e8 // nbytes)))


def _time_allreduce(reduce, buf: np.ndarray, repeats: int, barrier) -> float:
    """Median seconds of ``reduce(buf)`` (a barrier before each, so every rank starts together)."""
    times = []
    for _ in range(3):                           # warm-up: first-touch pages, MPI's internal buffers
        reduce(buf)
    for _ in range(repeats):
        barrier()
        t0 = time.perf_counter()
        reduce(buf)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def worker(out: str) -> None:
    """Run under mpiexec: time both allreduces for every size; rank 0 writes {kind: {bytes: seconds}} to ``out``."""
    from mpi4py import MPI

    from minidl.training.parallel import MPICommunicator

    comm = MPI.COMM_WORLD
    ours, sleeping = MPICommunicator(comm), MPICommunicator(comm, spin=0.0)
    result: dict[str, dict[int, float]] = {"mpi": {}, "minidl": {}, "minidl-sleep": {}}
    for nbytes in SIZES:
        buf = np.ones(nbytes // 4, dtype=np.float32)
        recv = np.empty_like(buf)
        reps = _repeats(nbytes)
        result["mpi"][nbytes] = _time_allreduce(lambda b, r=recv: comm.Allreduce(b, r, op=MPI.SUM), buf, reps,
                                                comm.Barrier)
        result["minidl"][nbytes] = _time_allreduce(ours.allreduce, buf, reps, comm.Barrier)
        result["minidl-sleep"][nbytes] = _time_allreduce(sleeping.allreduce, buf, reps, comm.Barrier)
    # the largest over ranks: an allreduce ends for the step when the slowest rank has it
    worst = {k: {n: max(comm.allgather(v[n])) for n in SIZES} for k, v in result.items()}
    if comm.Get_rank() == 0:
        Path(out).write_text(json.dumps({"size": comm.Get_size(), "times": worst}))


def fit(times: dict[int, float], n_ranks: int) -> dict[str, float]:
    """α (s), β (s/byte) of the ring model from {bytes: seconds} (see the module docstring)."""
    big = sorted(n for n in times if n >= 1 << 20)
    b, _ = np.polyfit(np.array(big, dtype=float), np.array([times[n] for n in big]), 1)
    a = statistics.median(times[n] - b * n for n in times if n <= 16 << 10)   # 1, 4, 16 KB: one outlier is ignored
    return {"alpha_s": a / (2 * (n_ranks - 1)), "beta_s_per_byte": b * n_ranks / (2 * (n_ranks - 1)),
            "intercept_s": a, "slope_s_per_byte": b}


def measure(n_ranks: int, tmp: Path) -> dict:
    """Run the worker on ``n_ranks`` processes; the times and the fits of both kinds."""
    out = tmp / f"comm{n_ranks}.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    subprocess.run(["mpiexec", "-n", str(n_ranks), sys.executable, __file__, str(out)], check=True, env=env,
                   timeout=600)
    data = json.loads(out.read_text())
    times = {kind: {int(k): v for k, v in t.items()} for kind, t in data["times"].items()}
    return {"times": times, "fit": {kind: fit(t, n_ranks) for kind, t in times.items()}}


def _table(n_ranks: int, m: dict) -> str:
    lines = [f"allreduce on {n_ranks} ranks (median of the slowest rank)",
             f"{'bytes':>10} {'mpi µs':>10} {'minidl µs':>10} {'sleep µs':>10} {'mpi GB/s':>9}"]
    for n in SIZES:
        t_mpi, t_ours, t_spin = (m["times"][k][n] for k in ("mpi", "minidl", "minidl-sleep"))
        lines.append(f"{n:>10} {t_mpi * 1e6:>10.1f} {t_ours * 1e6:>10.1f} {t_spin * 1e6:>10.1f} "
                     f"{n / t_mpi / 1e9:>9.2f}")
    for kind, f in m["fit"].items():
        lines.append(f"{kind}: α = {f['alpha_s'] * 1e6:.1f} µs, β = {f['beta_s_per_byte'] * 1e9:.3f} ns/byte "
                     f"({1 / f['beta_s_per_byte'] / 1e9:.2f} GB/s)")
    return "\n".join(lines)


HAVE_MPI = shutil.which("mpiexec") is not None and __import__("importlib").util.find_spec("mpi4py") is not None


@pytest.mark.skipif(not HAVE_MPI, reason="needs mpiexec and mpi4py (pip install 'minidl[mpi]')")
@pytest.mark.parametrize("n_ranks", [2, 3])
def test_allreduce_cost_against_message_size(benchmark, n_ranks, tmp_path):
    result = {}

    def run():
        result.update(measure(n_ranks, tmp_path))

    benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update({"ranks": n_ranks,
                                 "times_s": {k: {str(n): v for n, v in t.items()} for k, t in result["times"].items()},
                                 "fit": result["fit"]})
    print("\n" + _table(n_ranks, result))
    assert all(v > 0 for t in result["times"].values() for v in t.values())


if __name__ == "__main__":
    worker(sys.argv[1])
