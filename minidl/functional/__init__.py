"""The math: stateless forward/backward pairs written once against ``xp`` (NumPy, CuPy or the stand-in).

Each ``*_forward`` returns ``(y, cache)``; each ``*_backward`` takes ``dy`` and that cache (CS231n style).
Equations: docs/layers.md.  :mod:`minidl.functional.reference` holds every op again as plain naive loops (the
reference each fast function names in its docstring; ``minidl.testing.check_op`` compares the two).
"""

from minidl.functional.activation import (
    clipped_relu_backward,
    clipped_relu_forward,
    elu_backward,
    elu_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    relu_backward,
    relu_forward,
    softmax_backward,
    softmax_forward,
)
from minidl.functional.batchnorm import (
    batchnorm_backward,
    batchnorm_forward,
    batchnorm_inference,
    channel_moments,
    merge_moments,
)
from minidl.functional.conv import (
    conv2d_backward,
    conv2d_forward,
    conv_output_size,
    grouped_conv2d_backward,
    grouped_conv2d_forward,
    same_padding,
)
from minidl.functional.conv_transposed import (
    conv_transpose2d_backward,
    conv_transpose2d_forward,
    same_cropping,
    transposed_output_size,
)
from minidl.functional.dense import dense_backward, dense_forward
from minidl.functional.dropout import dropout_backward, dropout_forward
from minidl.functional.elementwise import FUNCTIONS as ELEMENTWISE_FUNCTIONS
from minidl.functional.elementwise import elementwise_backward, elementwise_forward
from minidl.functional.losses import (
    binary_cross_entropy_example_losses,
    binary_cross_entropy_gradient,
    binary_cross_entropy_loss,
    cross_entropy_example_losses,
    cross_entropy_gradient,
    cross_entropy_loss,
    half_mse_example_losses,
    half_mse_gradient,
    half_mse_loss,
    mean_absolute_example_losses,
    mean_absolute_gradient,
    mean_absolute_loss,
    mean_squared_example_losses,
    mean_squared_gradient,
    mean_squared_loss,
)
from minidl.functional.normalization_lrn import lrn_backward, lrn_forward
from minidl.functional.pooling import (
    avgpool2d_backward,
    avgpool2d_forward,
    global_avgpool2d_backward,
    global_avgpool2d_forward,
    global_maxpool2d_backward,
    global_maxpool2d_forward,
    maxpool2d_backward,
    maxpool2d_forward,
    maxpool2d_indices,
    pool_output_size,
)
from minidl.functional.unpooling import maxunpool2d_backward, maxunpool2d_forward

__all__ = [
    "relu_forward", "relu_backward", "softmax_forward", "softmax_backward",
    "batchnorm_forward", "batchnorm_backward", "batchnorm_inference", "channel_moments", "merge_moments",
    "conv2d_forward", "conv2d_backward", "conv_output_size", "same_padding",
    "maxpool2d_forward", "maxpool2d_backward", "avgpool2d_forward", "avgpool2d_backward", "pool_output_size",
    "dense_forward", "dense_backward", "dropout_forward", "dropout_backward",
    "cross_entropy_loss", "cross_entropy_gradient", "cross_entropy_example_losses",
    "half_mse_loss", "half_mse_gradient", "half_mse_example_losses",
    "mean_squared_loss", "mean_squared_gradient", "mean_squared_example_losses",
    "elementwise_forward", "elementwise_backward", "ELEMENTWISE_FUNCTIONS",
    "binary_cross_entropy_loss", "binary_cross_entropy_gradient", "binary_cross_entropy_example_losses",
    "mean_absolute_loss", "mean_absolute_gradient", "mean_absolute_example_losses",
    "leaky_relu_forward", "leaky_relu_backward", "clipped_relu_forward", "clipped_relu_backward", "elu_forward",
    "elu_backward", "global_avgpool2d_forward", "global_avgpool2d_backward", "global_maxpool2d_forward",
    "global_maxpool2d_backward", "maxpool2d_indices", "lrn_forward", "lrn_backward", "grouped_conv2d_forward",
    "grouped_conv2d_backward", "conv_transpose2d_forward", "conv_transpose2d_backward", "transposed_output_size",
    "same_cropping", "maxunpool2d_forward", "maxunpool2d_backward",
]
