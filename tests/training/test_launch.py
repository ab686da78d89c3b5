"""minidl.training.launch: the local pool (caller = rank 0), mpiexec, the dialect spellings, faults, the mpi extra.

Tests that start MPI processes are marked ``mpi`` and run only with ``-m mpi`` (as tests/training/test_parallel.py);
each starts a pool of 2 or 3 processes (about 1-3 s on 2 cores) and bounds every wait (MINIDL_WORKER_TIMEOUT=5).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import minidl
from minidl.training import launch
from minidl.training.parallel import WorkerFailed, WorkerLost
from minidl.wolfram import NetTrain
from minidl.wolfram import options as wopt

ROOT = Path(__file__).resolve().parents[2]
JOBS = Path(__file__).with_name("mpi")
sys.path.insert(0, str(JOBS))
import launch_jobs as J  # noqa: E402  (importable by this name in the workers too: JOBS is on their PYTHONPATH)

HAVE_MPI = shutil.which("mpiexec") is not None and importlib.util.find_spec("mpi4py") is not None


def assert_same(a, b, rtol=1e-12):
    """Two trained networks: every parameter and state array equal to ``rtol`` (float64)."""
    sa, sb = a.state_arrays(), b.state_arrays()
    assert sa.keys() == sb.keys()
    for k in sa:
        np.testing.assert_allclose(sb[k], sa[k], rtol=rtol, atol=1e-14, err_msg=k)


# ================================================================================================ without MPI
def test_workers_count_argument_then_env_then_cores(monkeypatch):
    monkeypatch.delenv("MINIDL_WORKERS", raising=False)
    assert launch.workers_count(3) == 3
    assert launch.workers_count(None) == max(1, os.cpu_count() or 1)
    monkeypatch.setenv("MINIDL_WORKERS", "2")
    assert launch.workers_count(None) == 2 and launch.workers_count(4) == 4
    monkeypatch.setenv("MINIDL_WORKERS", "two")
    with pytest.raises(ValueError, match="MINIDL_WORKERS: got 'two'; allowed: a positive integer"):
        launch.workers_count(None)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match=f"workers: got {bad!r}"):
            launch.workers_count(bad)


def test_parallel_without_mpi4py_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)      # as if mpi4py were not installed
    X, Y = J.problem()
    with pytest.raises(ImportError, match=re.escape("pip install 'minidl[mpi]'")):
        minidl.train_network(X, Y, J.layers(), J.options(execution_environment="parallel"), workers=2)
    with pytest.raises(ImportError, match=re.escape("pip install 'minidl[mpi]'")):
        NetTrain(minidl.Network(J.layers()), (X, Y), TargetDevice=("CPU", 2), MaxTrainingRounds=1,
                 TrainingProgressReporting=None)


def test_importing_minidl_and_launch_imports_no_mpi():
    code = "import sys, minidl, minidl.training.launch; print('mpi4py' in sys.modules)"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "PMIX_", "HYDRA_", "OMPI_"))}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**env, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0 and run.stdout.strip() == "False", run.stderr


def test_parallel_with_one_worker_is_the_one_process_run_bit_for_bit():
    X, Y = J.problem()
    one, info1 = minidl.train_network(X, Y, J.layers(), J.options(execution_environment="cpu"))
    par, info2 = minidl.train_network(X, Y, J.layers(), J.options(execution_environment="parallel"), workers=1)
    assert J.digest(one, info1) == J.digest(par, info2)
    assert launch.pool_size() == 0                          # no pool for one worker


def test_a_job_that_cannot_travel_is_refused_before_any_process_starts():
    X, Y = J.problem()
    o = J.options(execution_environment="parallel", learn_rate_schedule=lambda epoch, iteration: 1.0)
    with pytest.raises(TypeError, match="cannot be pickled .*define functions .* at a module's top level"):
        minidl.train_network(X, Y, J.layers(), o, workers=2)
    assert launch.pool_size() == 0


@pytest.mark.skipif(minidl.backend.gpu_available(), reason="a GPU is present")
def test_multi_gpu_without_a_gpu_names_the_cause():
    X, Y = J.problem()
    with pytest.raises(RuntimeError, match="ExecutionEnvironment.: got 'multi-gpu' .one worker per GPU., but "
                                           "(CuPy is not installed|CuPy sees no CUDA device|CuPy failed to import"
                                           "|.* failed: ).*; or use 'parallel'"):
        minidl.matlab.trainNetwork(X, Y, J.layers(), minidl.matlab.trainingOptions(
            "sgdm", "ExecutionEnvironment", "multi-gpu", "Verbose", False))


def test_wolfram_target_device_forms():
    arg = "TargetDevice"
    assert wopt.target_device("CPU", arg) == ("cpu", False, None)
    assert wopt.target_device(wopt.Automatic, arg) == ("cpu", False, None)
    assert wopt.target_device(("CPU", 3), arg) == ("cpu", True, 3)
    assert wopt.target_device(["cpu", "All"], arg) == ("cpu", True, None)
    assert wopt.target_device(("GPU", "All"), arg) == ("gpu", True, None)
    with pytest.raises(minidl.NotSupportedYetError, match=r'TargetDevice: got \{"GPU", 2\}; not supported yet'):
        wopt.target_device(("GPU", 2), arg)
    with pytest.raises(ValueError, match="TargetDevice {\"CPU\", n}: got 0"):
        wopt.target_device(("CPU", 0), arg)
    with pytest.raises(ValueError, match=r"TargetDevice: got \('CPU', 1, 2\); allowed"):
        wopt.target_device(("CPU", 1, 2), arg)


# ================================================================================================ with MPI
def needs_mpi(config) -> None:
    """Skip unless mpi4py and mpiexec are installed and the run selected the marker (``-m mpi``)."""
    if not HAVE_MPI:
        pytest.skip("mpi4py or mpiexec is not installed")
    if "mpi" not in (config.option.markexpr or "") or "not mpi" in config.option.markexpr:
        pytest.skip("MPI tests run with -m mpi")


@pytest.fixture(scope="module")
def pool_env(request):
    """The workers find launch_jobs (PYTHONPATH) and every wait is bounded by 5 s; no pool outlives the module."""
    needs_mpi(request.config)
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "MINIDL_WORKER_TIMEOUT", "MINIDL_WORKERS")}
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(JOBS)] + ([saved["PYTHONPATH"]]
                                                                         if saved["PYTHONPATH"] else []))
    os.environ["MINIDL_WORKER_TIMEOUT"] = "5"
    os.environ.pop("MINIDL_WORKERS", None)
    launch.close_pool()
    yield
    launch.close_pool()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _gone(pids) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not any(launch.pid_alive(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.mpi
@pytest.mark.parametrize("n", [2, 3])
def test_pool_trains_like_one_process_and_is_kept_for_the_next_call(n, pool_env):
    X, Y = J.problem()
    Xv, Yv = J.problem(20, 1)
    kw = dict(validation_data=(Xv, Yv), validation_frequency=3)
    one, info1 = minidl.train_network(X, Y, J.layers(), J.options(**kw))
    par, info2 = minidl.train_network(X, Y, J.layers(), J.options(execution_environment="parallel", **kw),
                                      workers=n)
    assert_same(one, par)
    np.testing.assert_allclose(info2.training_loss, info1.training_loss, rtol=1e-12)
    np.testing.assert_allclose(info2.validation_loss, info1.validation_loss, rtol=1e-12, equal_nan=True)
    assert launch.pool_size() == n
    pids = list(launch._POOL.pids)
    assert pids[0] == os.getpid() and len(set(pids)) == n
    again, _ = minidl.train_network(X, Y, J.layers(), J.options(execution_environment="parallel", **kw), workers=n)
    assert launch._POOL.pids == pids                        # the same processes served the second call
    assert_same(one, again)
    launch.close_pool()
    assert launch.pool_size() == 0 and _gone(pids[1:])


@pytest.mark.mpi
def test_uneven_worker_load_and_the_env_pool_size(pool_env, monkeypatch):
    monkeypatch.setenv("MINIDL_WORKERS", "3")
    X, Y = J.problem()
    one, _ = minidl.train_network(X, Y, J.layers(), J.options())
    par, _ = minidl.train_network(X, Y, J.layers(), J.options(execution_environment="parallel",
                                                               worker_load=[2, 1, 1]))
    assert launch.pool_size() == 3
    assert_same(one, par)
    with pytest.raises(ValueError, match=r"worker_load: got 2 loads \[2.0, 1.0\]; allowed: one value per worker"):
        minidl.train_network(X, Y, J.layers(), J.options(execution_environment="parallel", worker_load=[2, 1]))


@pytest.mark.mpi
def test_a_worker_that_raises_is_named_with_the_network(pool_env):
    X, Y = J.problem()
    o = J.options(execution_environment="parallel")
    with pytest.raises(WorkerFailed, match=r"worker 1 \(pid \d+\).*RuntimeError.*boom in worker pid") as e:
        minidl.train_network(X, Y, J.layers(J.RaiseOnWorker(os.getpid(), after=3)), o, workers=2)
    assert e.value.rank == 1 and isinstance(e.value.minidl_net, minidl.Network)
    net, _ = minidl.train_network(X, Y, J.layers(), o, workers=2)     # the pool (kept or new) trains again
    assert_same(minidl.train_network(X, Y, J.layers(), J.options())[0], net)


@pytest.mark.mpi
def test_a_killed_worker_ends_the_run_within_the_timeout_and_leaves_no_process(pool_env):
    X, Y = J.problem()
    o = J.options(execution_environment="parallel", max_epochs=3)
    minidl.train_network(X, Y, J.layers(), o, workers=3)            # the pool is open
    pids, mpiexec = list(launch._POOL.pids), launch._POOL.process

    def kill(info):
        if info["Iteration"] == 2 and info["State"] == "iteration":
            os.kill(pids[2], signal.SIGKILL)

    t0 = time.monotonic()
    with pytest.raises(WorkerLost, match="stopped answering|pool ended|no answer") as e:
        minidl.train_network(X, Y, J.layers(), J.options(execution_environment="parallel", max_epochs=3,
                                                         output_fcn=kill), workers=3)
    assert time.monotonic() - t0 < 5 + 5                   # the timeout (5 s) and the pool's teardown
    assert f"(pid {pids[2]})" in str(e.value) and isinstance(e.value.minidl_net, minidl.Network)
    assert launch.pool_size() == 0 and mpiexec.poll() is not None and _gone(pids[1:])
    net, _ = minidl.train_network(X, Y, J.layers(), o, workers=3)    # a new pool
    assert launch._POOL.pids[1:] != pids[1:]
    assert_same(minidl.train_network(X, Y, J.layers(), J.options(max_epochs=3))[0], net)


@pytest.mark.mpi
def test_a_pool_that_cannot_start_is_an_error_not_a_hang(pool_env, monkeypatch):
    monkeypatch.setenv("MINIDL_MPIEXEC", shutil.which("false") or "/bin/false")   # a launcher that exits at once
    X, Y = J.problem()
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="the parallel pool of 2 workers did not start: mpiexec exited with "
                                           "status 1"):
        minidl.train_network(X, Y, J.layers(), J.options(execution_environment="parallel"), workers=2)
    assert time.monotonic() - t0 < 30 and launch.pool_size() == 0


@pytest.mark.mpi
def test_a_parallel_checkpoint_resumes_in_parallel_and_on_one_process(pool_env, tmp_path):
    X, Y = J.problem()
    full, info_full = minidl.train_network(X, Y, J.layers(), J.options(execution_environment="parallel",
                                                                       checkpoint_path=str(tmp_path)), workers=2)
    saved = sorted(tmp_path.glob("net_checkpoint__*"), key=lambda p: int(p.name.split("__")[1]))
    assert [p.name.split("__")[1] for p in saved] == ["4", "8"]          # 48 rows / 12 = 4 iterations per epoch
    for env, workers in (("parallel", 2), ("cpu", None)):
        net, info = minidl.train_network(X, Y, None, J.options(execution_environment=env), workers=workers,
                                         resume_from=saved[0])
        assert_same(full, net)
        np.testing.assert_allclose(info.training_loss, info_full.training_loss, rtol=1e-12)


@pytest.mark.mpi
def test_wolfram_target_device_cpu_n_trains_like_one_process(pool_env):
    X, Y = J.problem()
    one = NetTrain(minidl.Network(J.layers()), (X, Y), **J.WOLFRAM)
    par = NetTrain(minidl.Network(J.layers()), (X, Y), TargetDevice=("CPU", 2), **J.WOLFRAM)
    assert_same(one, par)


@pytest.mark.mpi
def test_wolfram_under_mpiexec_every_rank_gets_the_trained_net(pool_env, tmp_path):
    X, Y = J.problem()
    one = NetTrain(minidl.Network(J.layers()), (X, Y), "ResultsObject", **J.WOLFRAM)
    run = subprocess.run([launch._mpiexec(), "-n", "2", sys.executable, str(JOBS / "launch_jobs.py"), str(tmp_path),
                          "wolfram"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    for r in range(2):
        got = dict(np.load(tmp_path / f"rank{r}.npz"))
        np.testing.assert_allclose(got.pop("training_loss"), one["BatchLossList"], rtol=1e-12)
        for k, v in one["TrainedNet"].state_arrays().items():
            np.testing.assert_allclose(got[f"net/{k}"], v, rtol=1e-12, atol=1e-14, err_msg=k)


@pytest.mark.mpi
@pytest.mark.parametrize("n", [2, 3])
def test_under_mpiexec_every_rank_trains_and_returns_the_result(n, pool_env, tmp_path):
    X, Y = J.problem()
    one, info = minidl.train_network(X, Y, J.layers(), J.options())
    run = subprocess.run([launch._mpiexec(), "-n", str(n), sys.executable, str(JOBS / "launch_jobs.py"),
                          str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("|  Epoch  |") == 1 and f"Training on {n} workers (CPUs)." in run.stdout  # rank 0
    results = [dict(np.load(tmp_path / f"rank{r}.npz")) for r in range(n)]
    for r in range(n):
        np.testing.assert_allclose(results[r].pop("training_loss"), info.training_loss, rtol=1e-12)
        assert results[r].keys() == results[0].keys()
        for k, v in results[r].items():
            np.testing.assert_array_equal(v, results[0][k], err_msg=k)      # every rank the same network
    for k, v in one.state_arrays().items():
        np.testing.assert_allclose(results[0][f"net/{k}"], v, rtol=1e-12, atol=1e-14, err_msg=k)

def test_a_restored_network_travels_to_workers(tmp_path):
    """A network restored from a checkpoint (what a resumed parallel run ships) survives pickling."""
    import pickle
    X, Y = J.problem()
    minidl.train_network(X, Y, J.layers(), J.options(max_epochs=1, checkpoint_path=str(tmp_path)))
    saved = next(tmp_path.glob("net_checkpoint__*"))
    manifest, arrays = minidl.training.read_checkpoint(saved)
    net = minidl.training.checkpoint.restore_network(manifest["network"], arrays)
    assert_same(net, pickle.loads(pickle.dumps(net)))


class _Pending:
    """A request that never completes (a peer that will not answer)."""

    def Test(self):
        return False


class _Ended:
    """A Popen whose job has ended."""

    returncode = -9

    def poll(self):
        return self.returncode


def test_the_pools_wait_spins_then_stops_when_the_workers_job_ends():
    c = object.__new__(launch._PoolCommunicator)
    c.comm, c.rank, c.size, c.timeout, c.spin = None, 0, 2, 30.0, 0.01
    c.peers, c.process, c.lost = [("h", os.getpid()), ("h", 2 ** 22 + 7)], _Ended(), None
    t0 = time.monotonic()
    with pytest.raises(WorkerLost):
        c._wait(_Pending(), "an allreduce")
    assert 0.01 <= time.monotonic() - t0 < 5          # the spin first, then the ended job, not the 30 s timeout
    with pytest.raises(WorkerLost):                   # once lost, every later collective fails at once
        c._wait(_Pending(), "a broadcast")
    assert c.lost is not None
