"""The data-parallel hooks of the ops (docs/parallel.md): batch norm with a ``reduce`` over workers equals batch norm
of the whole batch; dropout with ``rows`` keeps the whole batch's mask rows; Network.backward's ``scale``."""

from __future__ import annotations

import numpy as np
import pytest

from minidl import functional as F
from minidl import layers as L
from minidl.network import Network
from minidl.testing import run_workers
from minidl.training.parallel import WorkerSum, shares


@pytest.mark.parametrize("shape, loads", [((7, 3, 2, 2), [1, 1]), ((7, 3), [2, 0, 1]), ((5, 2, 3, 1), [1, 1, 1])])
def test_batchnorm_with_a_reduce_over_workers_is_the_whole_batch(shape, loads):
    rng = np.random.default_rng(0)
    x, dy = rng.standard_normal(shape) * 3 + 1, rng.standard_normal(shape)
    gamma, beta = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    y, cache, (m, mean, var) = F.batchnorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = F.batchnorm_backward(dy, cache)
    rows = shares(shape[0], loads)

    def work(comm):
        lo, hi = rows[comm.rank]
        yy, c, moments = F.batchnorm_forward(x[lo:hi], gamma, beta, reduce=comm.allreduce)
        dxx, dg, db = F.batchnorm_backward(dy[lo:hi], c, reduce=comm.allreduce)
        return lo, hi, yy, moments, dxx, dg, db
    parts = run_workers(len(loads), work)
    for lo, hi, yy, moments, dxx, _, _ in parts:
        np.testing.assert_allclose(yy, y[lo:hi], rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(dxx, dx[lo:hi], rtol=1e-12, atol=1e-14)
        assert moments[0] == m
        np.testing.assert_allclose(moments[1], mean, rtol=1e-13)
        np.testing.assert_allclose(moments[2], var, rtol=1e-13)
    np.testing.assert_allclose(sum(p[5] for p in parts), dgamma, rtol=1e-12)   # each worker returns its part
    np.testing.assert_allclose(sum(p[6] for p in parts), dbeta, rtol=1e-12)


@pytest.mark.parametrize("offset, round_trips", [(1.0, 1), (200.0, 2)])   # κ ≈ 1: one; κ ≥ 60: two-pass
@pytest.mark.parametrize("shape, loads", [((9, 3, 2, 2), [1, 1]), ((7, 3), [2, 0, 1]), ((5, 2, 3, 1), [1, 1, 1])])
def test_batchnorm_over_a_worker_sum_takes_one_round_trip_when_well_conditioned(shape, loads, offset, round_trips):
    rng = np.random.default_rng(1)
    means = offset * np.arange(1, shape[1] + 1).reshape((1, -1) + (1,) * (len(shape) - 2))
    trend = np.arange(shape[0]).reshape((-1,) + (1,) * (len(shape) - 1))   # the workers' own means differ (δ ≠ 0)
    x = rng.standard_normal(shape) * 3 + means + trend
    dy = rng.standard_normal(shape)
    gamma, beta = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    y, cache, (m, mean, var) = F.batchnorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = F.batchnorm_backward(dy, cache)
    rows = shares(shape[0], loads)

    def work(comm):
        calls = []
        lo, hi = rows[comm.rank]
        total = WorkerSum(lambda a: (calls.append(a.size), comm.allreduce(a))[1], comm.rank, comm.size)
        yy, c, moments = F.batchnorm_forward(x[lo:hi], gamma, beta, reduce=total)
        forward_calls = list(calls)
        return (lo, hi, yy, moments, forward_calls, c[-1]) + F.batchnorm_backward(dy[lo:hi], c, reduce=total)
    parts = run_workers(len(loads), work)
    for lo, hi, yy, moments, calls, shift, dxx, _, _ in parts:
        assert len(calls) == round_trips
        assert (shift is not None) == (round_trips == 1)   # the combine keeps x − μᵢ and δ = μ − μᵢ
        assert moments[0] == m
        np.testing.assert_allclose(moments[1], mean, rtol=1e-13)
        np.testing.assert_allclose(moments[2], var, rtol=1e-12)   # the combine's error ≤ 64ε beyond the two-pass
        np.testing.assert_allclose(yy, y[lo:hi], rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(dxx, dx[lo:hi], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(sum(p[-2] for p in parts), dgamma, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(sum(p[-1] for p in parts), dbeta, rtol=1e-12, atol=1e-13)


def test_dropout_rows_are_the_whole_batch_mask_rows_and_draw_the_same():
    x = np.ones((6, 2, 3))
    _, whole = F.dropout_forward(x, 0.4, np.random.default_rng(5))
    g = np.random.default_rng(5)
    _, part = F.dropout_forward(x[2:5], 0.4, g, rows=(2, 5, 6))
    np.testing.assert_array_equal(part, whole[2:5])
    assert g.random() == (lambda r: (r.random(x.shape), r.random())[1])(np.random.default_rng(5))


def test_network_backward_scale_multiplies_every_loss_gradient():
    def net():
        n = Network([L.FeatureInput(3, normalization="none", name="in"), L.FullyConnected(2, name="fc"),
                     L.RegressionOutput(name="r1"), L.FullyConnected(1, name="fc2"), L.RegressionOutput(name="r2")],
                    [("in", "fc"), ("fc", "r1"), ("in", "fc2"), ("fc2", "r2")])
        n.loss_weights["r2"] = 0.5
        return n.initialize(rng=np.random.default_rng(1), dtype="float64")
    x = np.random.default_rng(2).standard_normal((4, 3))
    t = {"r1": np.ones((4, 2)), "r2": np.zeros((4, 1))}
    a, b = net(), net()
    a.backward(a.forward(x, training=True), t)
    b.backward(b.forward(x, training=True), t, scale=0.25)
    for k, g in a.grads.items():
        np.testing.assert_allclose(b.grads[k], 0.25 * g, rtol=1e-15, err_msg=k)
    chain = Network([L.FeatureInput(3, normalization="none"), L.FullyConnected(1), L.RegressionOutput()])
    chain.initialize(rng=np.random.default_rng(1), dtype="float64")
    chain.backward(chain.forward(x, training=True), np.ones((4, 1)))
    g1 = dict(chain.grads)
    chain.backward(chain.forward(x, training=True), np.ones((4, 1)), scale=3.0)
    for k, g in g1.items():
        np.testing.assert_allclose(chain.grads[k], 3.0 * g, rtol=1e-15)
