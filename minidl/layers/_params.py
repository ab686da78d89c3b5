"""The weight/bias pair shared by Convolution2D and FullyConnected: initializers, given arrays, MATLAB factors."""

from __future__ import annotations

import numpy as np

from minidl.layers.base import Layer, Shape
from minidl.layers.init import check_initializer, initialize_array


class WeightBiasLayer(Layer):
    """A layer with a ``weight`` and a ``bias``: WeightL2Factor 1, BiasL2Factor 0 (MATLAB: biases not regularized)."""

    factor_defaults = {"weight": (1.0, 1.0), "bias": (1.0, 0.0)}

    def __init__(self, weights_initializer="normal", bias_initializer="zeros", weights=None, bias=None,
                 name: str | None = None, **factors: float):
        super().__init__(name=name, **factors)
        check_initializer("weights_initializer", weights_initializer)
        check_initializer("bias_initializer", bias_initializer)
        self.weights_initializer = weights_initializer
        self.bias_initializer = bias_initializer
        self._given = {"weight": weights, "bias": bias}

    def _make_params(self, weight_shape: Shape, bias_shape: Shape, fan_in: int, fan_out: int,
                     rng: np.random.Generator) -> None:
        """Create weight and bias unless present: given arrays first, else the initializers."""
        for key, shape, spec in (("weight", weight_shape, self.weights_initializer),
                                 ("bias", bias_shape, self.bias_initializer)):
            existing = self.params.get(key)
            if existing is not None and tuple(existing.shape) == tuple(shape):
                continue
            if existing is not None:
                raise ValueError(f"{self.describe()}: its {key} has shape {tuple(existing.shape)} but the input "
                                 f"needs {tuple(shape)}")
            given = self._given.get(key)
            arg = "weights" if key == "weight" else "bias"
            self.params[key] = initialize_array(arg, given if given is not None else spec, shape, fan_in, fan_out,
                                                rng)
