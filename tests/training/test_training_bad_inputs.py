"""Bad inputs (options, data shapes, label kinds, NaN in data, missing folders and files): each raises a
ValueError or TypeError whose message names the argument."""

import numpy as np
import pytest

from minidl import layers as L
from minidl import train_network, training_options
from minidl.training import TrainingInfo, load_network, save_network
from minidl.training.data import ArraySource, MiniBatchSource

RNG = np.random.default_rng(0)
X = RNG.standard_normal((30, 4))
Y = np.array(["a", "b", "c"])[np.arange(30) % 3]
XR = RNG.standard_normal((30, 3))
TR = RNG.standard_normal((30, 2))
QUIET = dict(verbose=False, max_epochs=1, mini_batch_size=10)


def clf():
    return [L.FeatureInput(4), L.FullyConnected(3), L.Softmax(), L.ClassificationOutput()]


def reg():
    return [L.FeatureInput(3), L.FullyConnected(2), L.RegressionOutput()]


def with_nan(a, i=(3, 1), value=np.nan):
    a = a.copy()
    a[i] = value
    return a


class Stream(MiniBatchSource):
    """A mini-batch source that is not in-memory arrays (its MiniBatchSize is never clamped)."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def read(self, indices):
        return self.x[indices], self.y[indices]


def fit(x=X, y=Y, layers=None, **options):
    return train_network(x, y, clf() if layers is None else layers, training_options("sgdm", **{**QUIET, **options}))


def fit_reg(x=XR, y=TR, **options):
    return train_network(x, y, reg(), training_options("sgdm", **{**QUIET, **options}))


def opt(solver="sgdm", **kw):
    return lambda tmp: training_options(solver, **kw)


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


CASES = [
    # ---- options
    ("solver-name", opt("sgd"), ValueError, r"solver: got 'sgd'"),
    ("solver-type", lambda tmp: training_options(5), ValueError, r"solver: got 5"),
    ("unknown-option", opt(max_epoch=3), TypeError, r"unknown option 'max_epoch' \(did you mean 'max_epochs'\?\)"),
    ("rate-zero", opt(initial_learn_rate=0), ValueError, r"initial_learn_rate: got 0"),
    ("rate-negative", opt(initial_learn_rate=-1.0), ValueError, r"initial_learn_rate: got -1.0"),
    ("rate-text", opt(initial_learn_rate="fast"), TypeError, r"initial_learn_rate: got 'fast'"),
    ("rate-inf", opt(initial_learn_rate=np.inf), ValueError, r"initial_learn_rate: got inf"),
    ("momentum-above-one", opt(momentum=1.5), ValueError, r"momentum: got 1.5; allowed: a real number in \[0, 1\]"),
    ("momentum-negative", opt(momentum=-0.1), ValueError, r"momentum: got -0.1"),
    ("beta1-range", opt("adam", gradient_decay_factor=1.5), ValueError, r"gradient_decay_factor: got 1.5"),
    ("beta2-range", opt("rmsprop", squared_gradient_decay_factor=-0.1), ValueError,
     r"squared_gradient_decay_factor: got -0.1"),
    ("epsilon-zero", opt("adam", epsilon=0), ValueError, r"epsilon: got 0"),
    ("l2-negative", opt(l2_regularization=-1e-4), ValueError, r"l2_regularization: got -0.0001"),
    ("l2-nan", opt(l2_regularization=float("nan")), ValueError, r"l2_regularization: got nan"),
    ("batch-zero", opt(mini_batch_size=0), ValueError, r"mini_batch_size: got 0"),
    ("batch-float", opt(mini_batch_size=2.5), TypeError, r"mini_batch_size: got 2.5"),
    ("batch-bool", opt(mini_batch_size=True), TypeError, r"mini_batch_size: got True"),
    ("epochs-negative", opt(max_epochs=-3), ValueError, r"max_epochs: got -3"),
    ("shuffle-name", opt(shuffle="always"), ValueError, r"shuffle: got 'always'; allowed: 'once', 'never'"),
    ("schedule-name", opt(learn_rate_schedule="step"), ValueError, r"learn_rate_schedule: got 'step'"),
    ("drop-period-zero", opt(learn_rate_drop_period=0), ValueError, r"learn_rate_drop_period: got 0"),
    ("drop-factor-range", opt(learn_rate_drop_factor=1.5), ValueError, r"learn_rate_drop_factor: got 1.5"),
    ("threshold-zero", opt(gradient_threshold=0), ValueError, r"gradient_threshold: got 0"),
    ("threshold-method", opt(gradient_threshold_method="l1norm"), ValueError,
     r"gradient_threshold_method: got 'l1norm'"),
    ("verbose-text", opt(verbose="yes"), TypeError, r"verbose: got 'yes'"),
    ("verbose-frequency", opt(verbose_frequency=0), ValueError, r"verbose_frequency: got 0"),
    ("validation-one-item", opt(validation_data=(X,)), TypeError, r"validation_data: got tuple"),
    ("validation-n-mismatch", opt(validation_data=(X, Y[:10])), ValueError,
     r"validation_data\[1\]: got 10 labels/responses for 30"),
    ("validation-nan", opt(validation_data=(with_nan(X), Y)), ValueError,
     r"validation_data\[0\]: observation 3 holds NaN"),
    ("validation-shape", opt(validation_data=(X[:, 0], Y)), ValueError,
     r"validation_data\[0\]: got shape \(30,\)"),
    ("validation-frequency", opt(validation_frequency=0), ValueError, r"validation_frequency: got 0"),
    ("patience-zero", opt(validation_patience=0), ValueError, r"validation_patience: got 0"),
    ("patience-float", opt(validation_patience=2.5), TypeError, r"validation_patience: got 2.5"),
    ("checkpoint-missing", lambda tmp: training_options("sgdm", checkpoint_path=tmp / "nope"), ValueError,
     r"checkpoint_path: got '.*nope', which is not an existing folder"),
    ("checkpoint-file", lambda tmp: training_options("sgdm", checkpoint_path=write(tmp / "f.txt", "x")),
     ValueError, r"checkpoint_path: got '.*f.txt', which is not an existing folder"),
    ("checkpoint-type", opt(checkpoint_path=42), TypeError, r"checkpoint_path: got int"),
    ("output-fcn-text", opt(output_fcn="print"), TypeError, r"output_fcn: got str"),
    ("output-fcn-item", opt(output_fcn=[print, 3]), TypeError, r"output_fcn\[1\]: got int"),
    ("plots-name", opt(plots="progress"), ValueError, r"plots: got 'progress'"),
    ("plots-file-suffix", lambda tmp: training_options("sgdm", plots_file=tmp / "p.txt"), ValueError,
     r"plots_file: got '.*p.txt'; allowed: a file name ending in .png"),
    ("plots-file-folder", lambda tmp: training_options("sgdm", plots_file=tmp / "no" / "p.png"), ValueError,
     r"plots_file: got .*, but its folder .* does not exist"),
    ("environment-name", opt(execution_environment="tpu"), ValueError, r"execution_environment: got 'tpu'"),
    ("precision-name", opt(precision="float16"), ValueError, r"precision: got 'float16'"),
    ("seed-negative", opt(seed=-1), ValueError, r"seed: got -1"),
    ("bn-statistics-name", opt(batch_normalization_statistics="running"), ValueError,
     r"batch_normalization_statistics: got 'running'"),
    ("adam-form-name", opt("adam", adam_form="pytorch"), ValueError, r"adam_form: got 'pytorch'"),
    ("sequence-length-name", opt(sequence_length="medium"), ValueError, r"sequence_length: got 'medium'"),
    ("sequence-padding-type", opt(sequence_padding_value="x"), TypeError, r"sequence_padding_value: got 'x'"),
    # ---- data
    ("x-list", lambda tmp: fit(x=X.tolist()), TypeError, r"X: got list"),
    ("x-3d", lambda tmp: fit(x=X.reshape(30, 2, 2)), ValueError,
     r"X: got observations of shape \(2, 2\); the network's input layer takes \(N, 4\)"),
    ("x-nan", lambda tmp: fit(x=with_nan(X)), ValueError, r"X: observation 3 holds NaN or Inf"),
    ("x-inf", lambda tmp: fit(x=with_nan(X, (7, 0), np.inf)), ValueError, r"X: observation 7 holds NaN or Inf"),
    ("x-strings", lambda tmp: fit(x=X.astype(str)), TypeError, r"X: got dtype <U"),
    ("x-complex", lambda tmp: fit(x=X + 1j), TypeError, r"X: got dtype complex128"),
    ("x-empty", lambda tmp: fit(x=X[:0], y=Y[:0]), ValueError, r"X: got shape \(0, 4\)"),
    ("y-length", lambda tmp: fit(y=Y[:20]), ValueError, r"Y: got 20 labels/responses for 30 observations"),
    ("y-float-labels", lambda tmp: fit(y=np.arange(30) % 3 * 1.0), TypeError,
     r"Y: got float64 labels; a classifier needs class labels"),
    ("y-2d-labels", lambda tmp: fit(y=np.zeros((30, 3), dtype=int)), ValueError,
     r"Y: got labels of shape \(30, 3\)"),
    ("y-none-label", lambda tmp: fit(y=np.array(["a", "b", None] * 10, dtype=object)), TypeError,
     r"Y\[2\]: got None"),
    ("y-mixed-kinds", lambda tmp: fit(y=np.array(["a", 1, "b"] * 10, dtype=object)), TypeError,
     r"Y: labels of mixed kinds \['int', 'str'\]"),
    ("y-none", lambda tmp: fit(y=None), TypeError, r"Y: got None"),
    ("y-regression-strings", lambda tmp: fit_reg(y=np.array(["1.0"] * 30)), TypeError,
     r"Y: got dtype <U3; a regression network needs numeric responses"),
    ("y-regression-nan", lambda tmp: fit_reg(y=with_nan(TR)), ValueError, r"Y: responses hold NaN or Inf"),
    ("y-regression-width", lambda tmp: fit_reg(y=np.zeros((30, 3))), ValueError,
     r"Y: got 3 responses per observation; the network outputs 2"),
    ("y-class-count", lambda tmp: fit(y=np.array(["a", "b"] * 15)), ValueError,
     r"Y: the labels have 2 classes \['a', 'b'\] but the network outputs \(3,\)"),
    ("x-feature-count", lambda tmp: fit(x=np.zeros((30, 5))), ValueError,
     r"X: got observations of shape \(5,\); the network's input layer takes \(N, 4\)"),
    ("validation-features", lambda tmp: fit(validation_data=(np.zeros((5, 2)), Y[:5])), ValueError,
     r"validation_data\[0\]: got observations of shape \(2,\)"),
    ("validation-unknown-label", lambda tmp: fit(validation_data=(X[:4], np.array(["a", "b", "z", "a"]))),
     ValueError, r"validation_data\[1\]\[2\]: label 'z' is not one of the classes"),
    ("batch-larger-than-source", lambda tmp: train_network(
        Stream(X, Y), clf(), training_options("sgdm", **{**QUIET, "mini_batch_size": 31})), ValueError,
     r"mini_batch_size: got 31, more than the 30 training observations"),  # arrays: clamped to N instead
    ("options-dict", lambda tmp: train_network(X, Y, clf(), {"max_epochs": 1}), TypeError, r"options: got dict"),
    ("layers-string", lambda tmp: fit(layers="conv"), TypeError, r"layers: got str"),
    ("layers-none", lambda tmp: train_network(X, Y, None, training_options("sgdm")), TypeError,
     r"layers: got None"),
    ("layers-item", lambda tmp: fit(layers=[L.FeatureInput(4), "relu"]), TypeError, r"layers\[1\]: got str"),
    ("no-output-layer", lambda tmp: fit(layers=[L.FeatureInput(4), L.FullyConnected(3)]), ValueError,
     r"layers: the network has no output layer"),
    ("positional-count", lambda tmp: train_network(X, clf(), training_options("sgdm")), TypeError,
     r"train_network: got 3 positional arguments"),
    ("source-with-y", lambda tmp: train_network(ArraySource(X, Y), Y, clf(), training_options("sgdm")),
     TypeError, r"Y: got ndarray together with a mini-batch source"),
    # ---- files
    ("load-missing", lambda tmp: load_network(tmp / "nothing"), ValueError, r"path: '.*nothing' is not a checkpoint"),
    ("load-not-checkpoint", lambda tmp: load_network(tmp), ValueError, r"path: '.*' is not a minidl checkpoint"),
    ("load-bad-manifest", lambda tmp: (write(tmp / "c" / "manifest.json", "{oops"),
                                       write(tmp / "c" / "arrays.npz", ""), load_network(tmp / "c")),
     ValueError, r"path: '.*manifest.json' is not valid JSON"),
    ("load-foreign-manifest", lambda tmp: (write(tmp / "c" / "manifest.json", '{"format": "x"}'),
                                           write(tmp / "c" / "arrays.npz", ""), load_network(tmp / "c")),
     ValueError, r"path: '.*manifest.json' is not a minidl checkpoint manifest"),
    ("resume-missing", lambda tmp: fit(), None, None),  # placeholder replaced below
    ("info-json-foreign", lambda tmp: TrainingInfo.from_json(write(tmp / "i.json", "[1, 2]")), ValueError,
     r"path: '.*i.json' is not a minidl training-info JSON"),
    ("info-json-folder", lambda tmp: fit()[1].to_json(tmp / "missing" / "i.json"), ValueError,
     r"path: the folder of '.*i.json' does not exist"),
    ("save-network-exists", lambda tmp: save_network(fit()[0], tmp), ValueError, r"path: '.*' exists"),
    ("save-network-uninitialized", lambda tmp: save_network(__import__("minidl").Network(clf()), tmp / "n"),
     ValueError, r"net: the network is not initialized"),
]
CASES[[c[0] for c in CASES].index("resume-missing")] = (
    "resume-missing", lambda tmp: train_network(X, Y, None, training_options("sgdm"), resume_from=tmp / "no"),
    ValueError, r"path: '.*no' is not a checkpoint folder")


def test_there_are_at_least_forty_distinct_bad_inputs():
    assert len({c[0] for c in CASES}) == len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises_an_error_naming_the_argument(case, tmp_path):
    _, call, exc, pattern = case
    with pytest.raises(exc, match=pattern):
        call(tmp_path)
