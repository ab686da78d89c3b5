"""Data-parallel training in the engine (docs/parallel.md) on in-process thread workers: the same network, info and
validation values as one process, to ≤ 1e-12 relative in float64, and bit-identical parameters on every worker."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from minidl.backend import to_host
from minidl.testing import run_workers
from minidl.training import Trainer

sys.path.insert(0, str(Path(__file__).with_name("mpi")))
import parallel_case as case  # noqa: E402  (shared with the MPI script mpi/train.py)


def one_process(optimizer="adam", **kw):
    train, val = case.data()
    return Trainer(case.network(), train, case.config(optimizer, **kw), validation_data=val).run()


def workers(size, loads=None, optimizer="adam", **kw):
    def work(comm):
        train, val = case.data()
        cfg = case.config(optimizer, communicator=comm, worker_loads=loads, **kw)
        return Trainer(case.network(), train, cfg, validation_data=val).run()
    return run_workers(size, work)


def params(net):
    return {k: to_host(v) for k, v in {**net.params, **net.state}.items()}


def assert_same_run(one, many, rtol=1e-12):
    (net1, info1) = one
    ref = params(net1)
    first = params(many[0][0])
    for net, info in many:
        got = params(net)
        for k in ref:
            assert got[k].tobytes() == first[k].tobytes(), f"{k} differs between workers"
            np.testing.assert_allclose(got[k], ref[k], rtol=rtol, atol=1e-14, err_msg=k)
        for name in case.SERIES:
            np.testing.assert_allclose(info[name], info1[name], rtol=rtol, atol=1e-14, err_msg=name)
        assert info.final_validation_loss == pytest.approx(info1.final_validation_loss, rel=rtol)
        assert info.final_validation_accuracy == info1.final_validation_accuracy
        assert len(info) == len(info1) == 20


@pytest.mark.parametrize("size, loads, optimizer", [
    (2, None, "adam"), (2, [1, 3], "sgdm"), (3, None, "sgdm"), (3, [2, 1, 1], "adam"), (3, [1, 0, 2], "sgdm")])
def test_workers_equal_one_process(size, loads, optimizer):
    one = one_process(optimizer)
    assert np.isfinite(one[1]["validation_loss"]).sum() == 5   # iterations 1, 5, 10, 15, 20
    assert_same_run(one, workers(size, loads, optimizer))
