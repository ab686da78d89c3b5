"""Audit tools shipped with minidl: finite-difference gradient checks, a telling ``assert_allclose``, ``check_layer``
and ``check_op`` (a fast op against its naive reference, finite differences and a second device).

All checks run in float64. A function or layer may live on any device; the finite differences perturb host copies
and move them back, so the same check audits NumPy, CuPy and the stand-in alike.

>>> import numpy as np
>>> from minidl.testing import gradient_check
>>> x = np.array([0.5, -1.5, 2.0])
>>> errors = gradient_check(lambda x: x ** 3, {"x": x}, lambda dy: {"x": 3 * x ** 2 * dy})
>>> errors["x"] < 1e-7
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from minidl.backend import device_of, get_device, to_device, to_host

__all__ = ["assert_allclose", "gradient_check", "check_layer", "numerical_gradient", "check_op", "spaced",
           "ThreadGroup", "ThreadCommunicator", "run_workers"]


def assert_allclose(actual, desired, rtol: float = 1e-7, atol: float = 0.0, name: str = "array") -> None:
    """Raise AssertionError naming the worst element (index, both values, abs and rel error) unless all are close.

    The test is |actual − desired| ≤ atol + rtol·|desired| element-wise (as numpy.testing.assert_allclose); shapes
    must match exactly; NaNs must coincide.
    """
    a = np.asarray(to_host(actual), dtype=np.float64)
    d = np.asarray(to_host(desired), dtype=np.float64)
    if a.shape != d.shape:
        raise AssertionError(f"{name}: shape {a.shape} != expected {d.shape}")
    nan_a, nan_d = np.isnan(a), np.isnan(d)
    if np.any(nan_a != nan_d):
        i = np.unravel_index(np.argmax(nan_a != nan_d), a.shape)
        raise AssertionError(f"{name}: NaN mismatch at {i}: {a[i]!r} vs expected {d[i]!r}")
    a, d = np.where(nan_a, 0.0, a), np.where(nan_d, 0.0, d)
    err = np.abs(a - d)
    excess = err - (atol + rtol * np.abs(d))
    if a.size and np.max(excess) > 0:
        i = np.unravel_index(np.argmax(excess), a.shape)
        rel = err[i] / abs(d[i]) if d[i] != 0 else np.inf
        bad = int(np.sum(excess > 0))
        raise AssertionError(
            f"{name}: {bad} of {a.size} elements differ; worst at index {tuple(map(int, i))}: got {a[i]!r}, "
            f"expected {d[i]!r}, abs error {err[i]:.3e}, rel error {rel:.3e} (rtol={rtol:g}, atol={atol:g})")


def _scalar(f: Callable[[], Any], dy: np.ndarray) -> float:
    """L = Σ f() · dy in float64 on the host."""
    return float(np.sum(np.asarray(to_host(f()), dtype=np.float64) * dy))


def numerical_gradient(f: Callable[[], Any], x, dy: np.ndarray, eps: float = 1e-6,
                       directions: int | None = None, rng: np.random.Generator | None = None):
    """Central differences of L = Σ f()·dy with respect to the array ``x``, which ``f`` reads (perturbed in place).

    With ``directions=k``: k random unit directions d; returns (D (k, x.size), dL/dd (k,)) instead of the full
    gradient, for large tensors.  x must be float64.
    """
    host = np.array(to_host(x), dtype=np.float64)
    dev = device_of(x)

    def write(values):
        x[...] = to_device(values, dev, dtype=x.dtype)

    try:
        if directions is None:
            grad = np.zeros(host.shape)
            flat = host.reshape(-1)
            for i in range(flat.size):
                old = flat[i]
                flat[i] = old + eps
                write(host)
                plus = _scalar(f, dy)
                flat[i] = old - eps
                write(host)
                minus = _scalar(f, dy)
                flat[i] = old
                grad.reshape(-1)[i] = (plus - minus) / (2 * eps)
            return grad
        rng = rng if rng is not None else np.random.default_rng(0)
        dirs = rng.standard_normal((directions, host.size))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        slopes = np.empty(directions)
        for k in range(directions):
            write(host + eps * dirs[k].reshape(host.shape))
            plus = _scalar(f, dy)
            write(host - eps * dirs[k].reshape(host.shape))
            minus = _scalar(f, dy)
            slopes[k] = (plus - minus) / (2 * eps)
        return dirs, slopes
    finally:
        write(host)


def gradient_check(f: Callable[..., Any], inputs: Mapping[str, Any], backward: Callable[[Any], Mapping[str, Any]],
                   dy=None, eps: float = 1e-6, rtol: float = 1e-6, atol: float = 1e-9,
                   directions: int | None = None, rng: np.random.Generator | None = None) -> dict[str, float]:
    """Check analytic gradients of y = f(**inputs) against central finite differences in float64.

    ``backward(dy)`` returns ``{name: dL/d input}`` for L = Σ y·dy (any subset of ``inputs``; it is called once,
    after one ``f`` call).  ``dy`` defaults to standard-normal values from ``rng``.  Every element is checked, or,
    with ``directions=k``, k random directions (for large tensors).  Keep inputs away from kinks (ReLU at 0,
    max-pool ties) by more than ``eps``.  Returns the worst relative error per input; raises AssertionError (naming
    the input and the worst element) when a gradient is off.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    for name, x in inputs.items():
        if getattr(x, "dtype", None) != np.float64:
            raise TypeError(f"gradient_check: input {name!r} has dtype {getattr(x, 'dtype', type(x))}; allowed: "
                            "float64 (finite differences are meaningless in float32)")
    y = f(**inputs)
    dy_host = rng.standard_normal(np.shape(to_host(y))) if dy is None else np.asarray(to_host(dy), np.float64)
    analytic = backward(to_device(dy_host, device_of(y), dtype=y.dtype))
    worst = {}
    for name, g in analytic.items():
        g = np.asarray(to_host(g), dtype=np.float64)
        x = inputs[name]
        numeric = numerical_gradient(lambda: f(**inputs), x, dy_host, eps, directions, rng)
        if directions is None:
            assert_allclose(g, numeric, rtol=rtol, atol=atol, name=f"gradient of {name!r}")
            scale = np.maximum(np.abs(numeric), atol / rtol if rtol else 1.0)
            worst[name] = float(np.max(np.abs(g - numeric) / scale)) if g.size else 0.0
        else:
            dirs, slopes = numeric
            assert_allclose(dirs @ g.reshape(-1), slopes, rtol=rtol, atol=atol,
                            name=f"directional derivatives of {name!r}")
            worst[name] = float(np.max(np.abs(dirs @ g.reshape(-1) - slopes) / np.maximum(np.abs(slopes), 1e-300)))
    return worst


def check_layer(layer, input_shape: tuple[int, ...], backend: Any = "cpu", rng: np.random.Generator | None = None,
                x=None, eps: float = 1e-6, rtol: float = 1e-6, atol: float = 1e-9,
                directions: int | None = None) -> dict[str, float]:
    """Gradient-check a layer in float64 on ``backend``: dx and every parameter gradient, in training mode.

    ``input_shape`` is the full shape (N, ...) of a test input; ``x`` may give the input (host array), else it is
    standard normal from ``rng``.  The layer is initialized from ``input_shape[1:]`` with ``rng``.  A layer with its
    own generator (dropout) is replayed from the same generator state at every evaluation, so the mask is fixed.
    Returns the worst relative error per checked array ('x', 'weight', ...).
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    device = get_device(backend)
    layer.initialize(tuple(input_shape[1:]), rng=rng, dtype="float64", device=device)
    x_host = rng.standard_normal(input_shape) if x is None else np.asarray(to_host(x), dtype=np.float64)
    inputs = {"x": to_device(x_host, device, dtype="float64")}
    inputs.update({f"param:{k}": v for k, v in layer.params.items()})
    layer_rng = getattr(layer, "rng", None)
    rng_state = layer_rng.bit_generator.state if layer_rng is not None else None

    def f(**kw):
        if rng_state is not None:
            layer_rng.bit_generator.state = rng_state
        return layer.forward(kw["x"], training=True)

    def backward(dy):
        dx = layer.backward(dy)
        grads = {"x": dx}
        grads.update({f"param:{k}": g for k, g in layer.grads.items()})
        return grads

    worst = gradient_check(f, inputs, backward, eps=eps, rtol=rtol, atol=atol, directions=directions, rng=rng)
    if set(k[6:] for k in worst if k.startswith("param:")) != set(layer.params):
        raise AssertionError(f"{layer.describe()}: backward filled grads for {sorted(layer.grads)}, "
                             f"expected every parameter {sorted(layer.params)}")
    return {k.replace("param:", ""): v for k, v in worst.items()}



def spaced(rng: np.random.Generator, shape: tuple[int, ...], gap: float = 0.01) -> np.ndarray:
    """Distinct values ``gap`` apart in random order, none closer than gap/2 to 0: shape ``shape``, float64.

    Inputs for ops with kinks: no ties (max pooling) and no value at 0 (ReLU) within reach of a finite difference.

    >>> v = spaced(np.random.default_rng(0), (2, 3))
    >>> sorted(v.ravel().round(3).tolist())
    [-0.025, -0.015, -0.005, 0.005, 0.015, 0.025]
    """
    k = int(np.prod(shape))
    return ((rng.permutation(k) - k // 2 + 0.5) * gap).reshape(shape)


def _as_tuple(grads) -> tuple:
    return tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)


def check_op(fast: Callable[..., Any], reference: Callable[..., Any], shapes: Mapping[str, tuple[int, ...]], *,
             kwargs: Mapping[str, Any] | None = None, backward: Callable[..., Any] | None = None,
             reference_backward: Callable[..., Any] | None = None, gradient: Callable[..., Any] | None = None,
             reference_gradient: Callable[..., Any] | None = None, wrt: tuple[str, ...] | None = None,
             inputs: Mapping[str, Any] | None = None, backend: Any = "standin",
             rng: np.random.Generator | None = None, rtol: float = 1e-10, atol: float = 1e-12,
             eps: float = 1e-6, grad_rtol: float = 1e-6, grad_atol: float = 1e-8, directions: int | None = None,
             device_rtol: float = 1e-12, check_float32: bool = True) -> dict[str, float]:
    """Check a fast op four ways (Chainer's FunctionTestCase, tinygrad's helper_test_op), in float64.

    1. forward: ``fast(*arrays, **kwargs)`` (returning y or (y, cache, ...)) against ``reference(*arrays,
       **kwargs)`` (returning y), both on NumPy;
    2. backward: the analytic gradients of L = Σ y·dy against central finite differences, on ``backend``; with a
       reference also against the reference's gradients (on NumPy);
    3. devices: y and the gradients on ``backend`` against NumPy's (the CPU stand-in catches host/device mixing,
       a GPU its rounding), relative to the largest magnitude, within ``device_rtol``;
    4. dtype: with ``check_float32``, float32 inputs give float32 outputs and gradients.

    Args:
        fast, reference: the op and its naive version (:mod:`minidl.functional.reference`).
        shapes: input name → shape, in the order of the op's array arguments (e.g. ``{"x": ..., "W": ..., "b": ...}``).
        kwargs: non-array arguments passed to both (stride, padding, eps, ...).
        backward: ``backward(dy, cache)`` → the gradients of the array inputs in order (one array for one input;
            None for an input it does not differentiate); ``reference_backward(dy, *arrays, **kwargs)`` alike.
        gradient: for an op with a scalar result (a loss): ``gradient(*arrays, **kwargs)`` → dL/d(first of
            ``wrt``); ``reference_gradient`` alike.  Neither backward nor gradient: the forward is checked alone.
        wrt: the inputs to differentiate (default: every input).
        inputs: name → a host array or a function ``(rng, shape) → array`` (e.g. :func:`spaced`, to stay away
            from kinks and ties; probabilities for a cross-entropy); the others are standard normal from ``rng``.
        backend: the device compared with NumPy and used for the finite differences ("standin", "gpu", "cpu").
        rtol, atol: forward (and reference gradient) tolerances; eps, grad_rtol, grad_atol, directions: as in
            :func:`gradient_check` (grad_atol 1e-8: the rounding of L = Σ y·dy over a few hundred elements, divided
            by 2·eps, reaches 1e-9).

    Returns the worst errors: ``"forward"`` (largest |fast − reference|) and, per differentiated input, the worst
    relative finite-difference error.  Raises AssertionError naming the first check that fails.

    >>> from minidl import functional as F
    >>> from minidl.functional import reference as R
    >>> errors = check_op(F.dense_forward, R.dense_forward, {"x": (3, 4), "W": (2, 4), "b": (2,)},
    ...                   backward=F.dense_backward, reference_backward=R.dense_backward)
    >>> sorted(errors), errors["forward"] < 1e-12
    (['W', 'b', 'forward', 'x'], True)
    >>> check_op(F.relu_forward, R.relu_forward, {"x": (4, 3)}, backward=F.relu_backward,
    ...          inputs={"x": spaced})["x"] < 1e-6
    True
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    kwargs = dict(kwargs or {})
    names = list(shapes)
    wrt = tuple(names if wrt is None else wrt)
    if backward is not None and gradient is not None:
        raise TypeError("check_op: got both backward and gradient; allowed: one of them (gradient for a scalar op)")
    for name in wrt:
        if name not in shapes:
            raise ValueError(f"wrt: got {name!r}; allowed: input names {names}")
    makers = dict(inputs or {})
    host = {}
    for name in names:
        make = makers.get(name)
        value = rng.standard_normal(shapes[name]) if make is None else make(rng, shapes[name]) if callable(make) \
            else make
        host[name] = np.array(to_host(value), dtype=np.float64)
        if host[name].shape != tuple(shapes[name]):
            raise ValueError(f"inputs[{name!r}]: got shape {host[name].shape}; allowed: shapes[{name!r}] = "
                             f"{tuple(shapes[name])}")
    device = get_device(backend)
    differentiate = backward is not None or gradient is not None

    def run(arrays: Mapping[str, Any], dy=None):
        """(y, {name: gradient}) of the fast op on these arrays; gradients only when dy is given."""
        out = fast(*(arrays[n] for n in names), **kwargs)
        y, cache = (out[0], out[1] if len(out) > 1 else None) if isinstance(out, tuple) else (out, None)
        if dy is None or not differentiate:
            return y, {}
        if gradient is not None:
            return y, {wrt[0]: gradient(*(arrays[n] for n in names), **kwargs) * dy}
        return y, {n: g for n, g in zip(names, _as_tuple(backward(dy, cache))) if n in wrt and g is not None}

    # 1. forward against the reference (NumPy, float64)
    y_np, _ = run(host)
    y_ref = reference(*(host[n] for n in names), **kwargs)
    assert_allclose(y_np, y_ref, rtol=rtol, atol=atol, name="forward (fast vs reference)")
    worst = {"forward": float(np.max(np.abs(np.asarray(y_np, np.float64) - np.asarray(y_ref, np.float64)),
                                     initial=0.0))}
    dy_host = rng.standard_normal(np.shape(y_np))
    _, g_np = run(host, dy_host)
    if differentiate:
        missing = [n for n in wrt if n not in g_np]
        if missing:
            raise AssertionError(f"backward: returned no gradient for {missing}; expected every input of wrt {wrt}")
    # 2a. gradients against the reference's (NumPy)
    if reference_backward is not None or reference_gradient is not None:
        if reference_gradient is not None:
            ref = {wrt[0]: np.asarray(reference_gradient(*(host[n] for n in names), **kwargs)) * dy_host}
        else:
            ref = dict(zip(names, _as_tuple(reference_backward(dy_host, *(host[n] for n in names), **kwargs))))
        for n in wrt:
            assert_allclose(g_np[n], ref[n], rtol=rtol, atol=atol, name=f"gradient of {n!r} (fast vs reference)")
    # 2b. gradients against finite differences (on the backend)
    dev = {n: to_device(np.array(host[n]), device, dtype="float64") for n in names}
    if differentiate:
        scalar = np.ndim(y_np) == 0
        cache_box = {}

        def f(**perturbed):
            y, _ = run({**dev, **perturbed})
            cache_box["arrays"] = {**dev, **perturbed}
            return y.reshape(1) if scalar else y

        def analytic(dy):
            _, grads = run(cache_box["arrays"], dy.reshape(()) if scalar else dy)
            return grads

        worst.update(gradient_check(f, {n: dev[n] for n in wrt}, analytic, eps=eps, rtol=grad_rtol, atol=grad_atol,
                                    directions=directions, rng=rng))
    # 3. the backend against NumPy
    y_dev, g_dev = run(dev, to_device(dy_host, device, dtype="float64"))
    for label, got, want in [("forward", y_dev, y_np)] + [(f"gradient of {n!r}", g_dev[n], g_np[n]) for n in g_np]:
        scale = float(np.max(np.abs(to_host(want)), initial=0.0))
        assert_allclose(to_host(got), want, rtol=device_rtol, atol=device_rtol * scale,
                        name=f"{label} on {device.name} vs NumPy")
    # 4. float32 in, float32 out
    if check_float32:
        y32, g32 = run({n: host[n].astype(np.float32) for n in names}, dy_host.astype(np.float32))
        for label, a in [("forward", y32)] + [(f"gradient of {n!r}", g) for n, g in g32.items()]:
            if getattr(a, "dtype", None) != np.float32:
                raise AssertionError(f"{label}: float32 inputs gave dtype {getattr(a, 'dtype', type(a).__name__)}; "
                                     "expected float32 (every op keeps its input dtype)")
    return worst


class ThreadGroup:
    """``size`` in-process workers that talk through a barrier: a :class:`minidl.training.parallel.Communicator`
    per rank for proving data-parallel maths fast (no MPI).  Sums run in rank order on every rank, so all ranks
    get the same bits; a collective that waits ``timeout`` seconds (or whose group was aborted by a worker that
    raised) raises :class:`minidl.training.parallel.WorkerLost`.

    >>> results = run_workers(2, lambda comm: comm.allreduce(np.array([comm.rank + 1.0])).tolist())
    >>> results
    [[3.0], [3.0]]
    """

    def __init__(self, size: int, timeout: float = 20.0):
        import threading

        self.size, self.timeout = size, float(timeout)
        self.barrier = threading.Barrier(size)
        self.slots: list[Any] = [None] * size

    def communicator(self, rank: int) -> ThreadCommunicator:
        return ThreadCommunicator(self, rank)


class ThreadCommunicator:
    """Rank ``rank`` of a :class:`ThreadGroup` (see there)."""

    def __init__(self, group: ThreadGroup, rank: int):
        self.group, self.rank, self.size, self.timeout = group, rank, group.size, group.timeout

    def _exchange(self, value: Any, what: str) -> list[Any]:
        import threading

        from minidl.training.parallel import WorkerLost

        g = self.group
        g.slots[self.rank] = value
        try:
            g.barrier.wait(self.timeout)          # every rank has put its value
            values = list(g.slots)
            g.barrier.wait(self.timeout)          # every rank has read them (the slots may be reused)
        except threading.BrokenBarrierError:
            raise WorkerLost(f"a worker stopped answering: no reply to {what} within {self.timeout:g} s on "
                             f"worker {self.rank}") from None
        return values

    def allreduce(self, buf: np.ndarray) -> np.ndarray:
        values = self._exchange(np.array(buf, copy=True), f"an allreduce of {np.size(buf)} numbers")
        total = values[0].copy()
        for v in values[1:]:                      # rank order: the same sum on every rank
            total += v
        return total

    def bcast(self, obj: Any, root: int = 0) -> Any:
        import copy

        return copy.deepcopy(self._exchange(obj if self.rank == root else None, "a broadcast")[root])

    def allgather(self, obj: Any) -> list[Any]:
        import copy

        return copy.deepcopy(self._exchange(obj, "an allgather"))


def run_workers(size: int, work: Callable[[Any], Any], timeout: float = 20.0) -> list[Any]:
    """``work(comm)`` on ``size`` threads of one :class:`ThreadGroup`; the results in rank order.  A worker that
    raises aborts the group (the others get WorkerLost from their next collective); after all threads ended, the
    lowest rank's error is raised, an error other than WorkerLost first."""
    import threading

    group = ThreadGroup(size, timeout)
    results: list[Any] = [None] * size
    errors: list[BaseException | None] = [None] * size

    def body(rank: int) -> None:
        try:
            results[rank] = work(group.communicator(rank))
        except BaseException as e:  # noqa: BLE001 - handed to the caller below
            errors[rank] = e
            group.barrier.abort()

    threads = [threading.Thread(target=body, args=(r,), name=f"minidl-worker-{r}") for r in range(size)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    from minidl.training.parallel import WorkerLost

    first = [e for e in errors if e is not None and not isinstance(e, WorkerLost)] + \
        [e for e in errors if isinstance(e, WorkerLost)]
    if first:
        raise first[0]                            # the cause before the WorkerLost it caused in the others
    return results
