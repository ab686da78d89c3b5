"""The embedded synthetic digits and the IDX (MNIST) reader."""

import gzip
import struct

import numpy as np
import pytest

from minidl import datasets as D


def test_digit_sets_have_the_documented_shapes_ranges_and_balance():
    for X, labels, angles in (D.digit_train_data(), D.digit_test_data()):
        assert X.shape == (5000, 1, 28, 28) and X.dtype == np.float32
        assert X.min() == 0.0 and X.max() == 1.0
        np.testing.assert_array_equal(np.bincount(labels, minlength=10), np.full(10, 500))
        assert labels.dtype == np.int64 and angles.dtype == np.float64
        assert angles.min() >= -45 and angles.max() <= 45 and angles.std() > 20  # spread over the whole range
        np.testing.assert_array_equal(np.round(X * 255), X * 255)  # 8-bit levels, as stored images
        assert not np.all(np.diff(labels) >= 0)  # shuffled, not sorted by class


def test_digit_sets_are_deterministic_cached_and_read_only():
    a, b = D.digit_train_data(), D.digit_train_data()
    assert all(x is y for x, y in zip(a, b))  # the process cache
    X, labels, angles = D.make_digits(30, seed=5)
    X2, labels2, angles2 = D.make_digits(30, seed=5)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(labels, labels2)
    np.testing.assert_array_equal(angles, angles2)
    assert not np.array_equal(D.make_digits(30, seed=6)[0], X)
    with pytest.raises(ValueError, match="read-only"):
        a[0][0, 0, 0, 0] = 1.0
    train, test = D.digit_train_data(), D.digit_test_data()
    assert not np.array_equal(train[0], test[0]) and not np.array_equal(train[2], test[2])


def test_recorded_angle_is_the_rotation_applied():
    """The ink's principal axis of every '1' leans by the recorded angle (counter-clockwise on screen)."""
    X, labels, angles = D.digit_train_data()
    ink = X[labels == 1, 0].astype(np.float64)
    rows, cols = np.mgrid[0:28, 0:28]
    mass = ink.sum(axis=(1, 2))
    dr = rows[None] - ((ink * rows).sum(axis=(1, 2)) / mass)[:, None, None]
    dc = cols[None] - ((ink * cols).sum(axis=(1, 2)) / mass)[:, None, None]
    mu20, mu02, mu11 = (ink * dc * dc).sum((1, 2)), (ink * dr * dr).sum((1, 2)), (ink * dc * dr).sum((1, 2))
    axis = 0.5 * np.degrees(np.arctan2(2 * mu11, mu20 - mu02))  # from the x axis, rows pointing down
    lean = np.where(axis > 0, axis - 90, axis + 90)  # from the vertical; screen counter-clockwise is negative here
    assert np.corrcoef(lean, angles[labels == 1])[0, 1] < -0.9
    assert np.median(np.abs(lean + angles[labels == 1])) < 10


def test_make_digits_checks_its_arguments():
    with pytest.raises(ValueError, match="n must be at least 1, got 0"):
        D.make_digits(0, seed=1)
    with pytest.raises(TypeError, match="n must be an int"):
        D.make_digits(2.5, seed=1)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        D.make_digits(3, seed=-1)


def _idx(path, array, gz=False):
    ndim = array.ndim
    data = struct.pack(">I", 0x0800 | ndim) + struct.pack(f">{ndim}I", *array.shape) + array.astype(np.uint8).tobytes()
    with (gzip.open if gz else open)(path, "wb") as fh:
        fh.write(data)


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_reads_idx_files(tmp_path, gz):
    rng = np.random.default_rng(0)
    tr, te = rng.integers(0, 256, (7, 28, 28)), rng.integers(0, 256, (3, 28, 28))
    ytr, yte = rng.integers(0, 10, 7), rng.integers(0, 10, 3)
    ext = ".gz" if gz else ""
    _idx(tmp_path / f"train-images-idx3-ubyte{ext}", tr, gz)
    _idx(tmp_path / f"train-labels-idx1-ubyte{ext}", ytr, gz)
    _idx(tmp_path / f"t10k-images-idx3-ubyte{ext}", te, gz)
    _idx(tmp_path / f"t10k-labels-idx1-ubyte{ext}", yte, gz)
    X_train, y_train, X_test, y_test = D.load_mnist(tmp_path)
    assert X_train.shape == (7, 1, 28, 28) and X_train.dtype == np.float32
    np.testing.assert_allclose(X_train[:, 0], tr / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y_train, ytr)
    np.testing.assert_array_equal(y_test, yte)
    assert y_test.dtype == np.int64 and X_test.shape == (3, 1, 28, 28)


def test_load_mnist_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        D.load_mnist(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        D.load_mnist(tmp_path)
    rng = np.random.default_rng(1)
    _idx(tmp_path / "train-images-idx3-ubyte", rng.integers(0, 256, (4, 28, 28)))
    _idx(tmp_path / "train-labels-idx1-ubyte", rng.integers(0, 10, 5))  # one label too many
    _idx(tmp_path / "t10k-images-idx3-ubyte", rng.integers(0, 256, (2, 28, 28)))
    _idx(tmp_path / "t10k-labels-idx1-ubyte", rng.integers(0, 10, 2))
    with pytest.raises(ValueError, match="4 images but 5 labels"):
        D.load_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x04\x01")  # 1 of 4 labels
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte"):
        D.load_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 12)  # a 3-d magic
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte"):
        D.load_mnist(tmp_path)


def test_stored_digit_file_has_its_recorded_checksum_and_a_damaged_one_is_named(tmp_path, monkeypatch):
    import hashlib

    with open(D.DATA_FILE, "rb") as fh:
        raw = fh.read()
    assert hashlib.sha256(raw).hexdigest() == D._DATA_SHA256
    damaged = tmp_path / "digits.npz"
    damaged.write_bytes(raw[:-1] + bytes([raw[-1] ^ 1]))
    monkeypatch.setattr(D, "DATA_FILE", str(damaged))
    with pytest.raises(RuntimeError, match="digits.npz.*expected " + D._DATA_SHA256):
        D._load_stored()


def test_stored_digit_file_holds_exact_uint8_levels_and_the_bank():
    s = D._stored()
    assert s["train_images"].dtype == np.uint8 and s["train_images"].shape == (5000, 28, 28)
    assert s["glyph_coverage"].shape == (10 * len(D.DIGIT_FONTS), 64, 64) and s["glyph_coverage"].max() == 16
    X, labels, angles = D.digit_test_data()
    np.testing.assert_array_equal(np.round(X[:, 0] * 255).astype(np.uint8), s["test_images"])
    np.testing.assert_array_equal(labels, s["test_labels"])
    np.testing.assert_array_equal(angles, s["test_angles"])


@pytest.mark.slow
def test_stored_digit_sets_are_what_make_digits_draws_from_the_stored_bank():
    """No font is read at run time, and the sampler still reproduces the stored sets bit for bit."""
    for stored, seed in ((D.digit_train_data(), D._TRAIN_SEED), (D.digit_test_data(), D._TEST_SEED)):
        for a, b in zip(stored, D.make_digits(5000, seed=seed)):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)
