"""Batch and cross-channel normalization layers (math in minidl.functional.batchnorm; equations in docs/layers.md)."""

from __future__ import annotations

import numpy as np

from minidl import functional as F
from minidl._checks import check_finite_positive, check_positive_int, check_real
from minidl.backend import get_array_module
from minidl.functional.normalization_lrn import lrn_backward, lrn_forward
from minidl.layers.base import Layer, Shape
from minidl.layers.init import initialize_array


class BatchNormalization(Layer):
    """Per-channel y = γ·(x − μ)/√(σ² + ε) + β: batch statistics in training, stored statistics at prediction.

    MATLAB: ε = 1e-5; scale γ starts at 1, offset β at 0; ScaleL2Factor 1, OffsetL2Factor 1.  The stored ``mean``
    and ``variance`` (state) are the moving averages (μ* ← (1 − d)·μ* + d·μ_B with decay d = 0.1, the biased batch
    variance likewise) until the trainer replaces them with population statistics
    (docs/semantics-matlab.md#12-end-of-training).

    Sequences (N, C, T): per channel over the N observations and T time steps (MATLAB normalizes sequence data over
    the observation and time dimensions), padded steps included: the layer sees the padded array, as MATLAB's does.
    """

    kind = "batchnorm"
    factor_defaults = {"scale": (1.0, 1.0), "offset": (1.0, 1.0)}

    def __init__(self, epsilon: float = 1e-5, mean_decay: float = 0.1, variance_decay: float = 0.1,
                 scale=None, offset=None, name: str | None = None, **factors: float):
        super().__init__(name=name, **factors)
        self.epsilon = check_finite_positive("epsilon", epsilon)  # finite and > 0 (√(σ² + ε) divides)
        self.mean_decay = check_real("mean_decay", mean_decay, 0.0, 1.0)
        self.variance_decay = check_real("variance_decay", variance_decay, 0.0, 1.0)
        self._given = {"scale": scale, "offset": offset}
        self._collected = None  # (M, μ, σ²) merged over batches during a population pass
        self.update_statistics = True  # False: training forwards leave the moving mean and variance as they are
        self.batch_statistics = False  # prediction mode normalizes with the batch's own μ, σ² (state untouched)
        self.reduce = None  # data-parallel workers: the sum over workers (Network.set_shard): whole-batch statistics

    def build(self, input_shape: Shape, rng: np.random.Generator) -> Shape:
        if len(input_shape) not in (1, 3) and not (len(input_shape) == 2 and input_shape[1] is None):
            raise ValueError(f"{self.describe()}: needs (N, C), (N, C, H, W) or (N, C, T) sequence inputs; got "
                             f"per-example shape {input_shape}")
        c = input_shape[0]
        for key, init in (("scale", "ones"), ("offset", "zeros")):
            if key not in self.params:
                given = self._given[key]
                self.params[key] = initialize_array(key, given if given is not None else init, (c,), c, c, rng)
        self.state.setdefault("mean", np.zeros(c))
        self.state.setdefault("variance", np.ones(c))
        return input_shape

    def forward(self, x, training: bool = False):
        self._check_input(x)
        gamma, beta = self.params["scale"], self.params["offset"]
        if training or self._collected is not None or self.batch_statistics:
            y, cache, (m, mean, var) = F.batchnorm_forward(x, gamma, beta, self.epsilon, reduce=self.reduce)
            if training:
                self._cache = cache
                if self.update_statistics:  # moving averages (frozen layers of a Wolfram run keep theirs)
                    self.state["mean"] = (1 - self.mean_decay) * self.state["mean"] + self.mean_decay * mean
                    self.state["variance"] = ((1 - self.variance_decay) * self.state["variance"]
                                              + self.variance_decay * var)
            elif self._collected is not None:     # the population pass: merge the batch's moments exactly
                self._collected = F.merge_moments(self._collected, (m, mean, var))
            else:                                  # batch statistics in prediction mode: nothing is kept
                self._cache = None
            return y
        y, _ = F.batchnorm_inference(x, gamma, beta, self.state["mean"], self.state["variance"], self.epsilon)
        self._cache = None
        return y

    def backward(self, dy):
        dx, self.grads["scale"], self.grads["offset"] = F.batchnorm_backward(dy, self._need_cache(), self.reduce)
        return dx

    # -- population statistics (MATLAB's default BatchNormalizationStatistics 'population') --
    def start_population_pass(self) -> None:
        """From now on, prediction-mode forwards normalize with batch statistics and merge them exactly."""
        xp = get_array_module(self.params["scale"])
        c = self.params["scale"].shape[0]
        zero = xp.zeros(c, dtype=self.params["scale"].dtype)
        self._collected = (0, zero, zero)

    def finish_population_pass(self) -> None:
        """Store the merged population mean and (biased) variance as the statistics used at prediction."""
        m, mean, var = self._collected
        self._collected = None
        if m > 0:
            self.state["mean"], self.state["variance"] = mean, var

    def describe(self) -> str:
        c = self.input_shape[0] if self.input_shape else "?"
        return f"{self.name or self.kind}: batch normalization with {c} channels"


class CrossChannelNormalization(Layer):
    """Local response normalization across channels (MATLAB crossChannelNormalizationLayer):

        y = x / (K + α·ss/windowChannelSize)^β,   ss = Σ x² over the window of ``window_channel_size`` channels

    centred on each channel (for an even size one channel further down than up; math and window in
    :mod:`minidl.functional.normalization_lrn`).  Images (C, H, W); no learnable arrays.
    """

    kind = "crossnorm"

    def __init__(self, window_channel_size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0,
                 name: str | None = None):
        super().__init__(name=name)
        self.window_channel_size = check_positive_int("window_channel_size", window_channel_size,
                                                      wrong_type=ValueError)
        self.alpha = check_real("alpha", alpha)
        self.beta = check_finite_positive("beta", beta)
        self.k = check_finite_positive("k", k)

    def build(self, input_shape: Shape, rng: np.random.Generator) -> Shape:
        if len(input_shape) != 3:
            raise ValueError(f"input_shape: got {tuple(input_shape)} for {self.describe()}; allowed: images "
                             "(C, H, W)")
        return input_shape

    def forward(self, x, training: bool = False):
        self._check_input(x)
        y, cache = lrn_forward(x, self.window_channel_size, self.alpha, self.beta, self.k)
        self._cache = cache if training else None
        return y

    def backward(self, dy):
        return lrn_backward(dy, self._need_cache())

    def describe(self) -> str:
        return (f"{self.name or self.kind}: cross channel normalization with {self.window_channel_size} channels per "
                f"element (alpha {self.alpha:g}, beta {self.beta:g}, K {self.k:g})")
