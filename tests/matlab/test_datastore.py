"""imageDatastore (labels from folder names, splitEachLabel), augmentedImageDatastore and imageDataAugmenter as
mini-batch sources; augmentation from the run's seeded generator."""

import numpy as np
import pytest

import minidl.matlab as M
from minidl.matlab.datastore import resample

Image = pytest.importorskip("PIL.Image")


def write_images(root, per_label=5, size=(6, 5), mode="L"):
    """root/<label>/img_k.png with known pixels; returns {path: (C, H, W) uint8}."""
    rng = np.random.default_rng(0)
    pixels = {}
    for label in ("zebra", "ant"):
        folder = root / label
        folder.mkdir(parents=True)
        for k in range(per_label):
            shape = size if mode == "L" else size + (3,)
            a = rng.integers(0, 256, shape, dtype=np.uint8)
            path = folder / f"img_{k}.png"
            Image.fromarray(a, mode).save(path)
            pixels[str(path)] = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    (root / "zebra" / "notes.txt").write_text("not an image")
    return pixels


def test_image_datastore_reads_files_and_folder_labels(tmp_path):
    pixels = write_images(tmp_path)
    imds = M.imageDatastore(str(tmp_path), "IncludeSubfolders", True, "LabelSource", "foldernames")
    assert imds.Files == sorted(pixels)                                  # sorted paths, the .txt left out
    assert list(imds.Labels) == ["ant"] * 5 + ["zebra"] * 5
    assert imds.countEachLabel() == {"ant": 5, "zebra": 5}
    x, y = imds.read(np.array([7, 0]))
    assert x.dtype == np.uint8 and x.shape == (2, 1, 6, 5)
    np.testing.assert_array_equal(x[0], pixels[imds.Files[7]])
    assert list(y) == ["zebra", "ant"]
    with pytest.raises(ValueError, match="no image files found"):
        M.imageDatastore(str(tmp_path))                                  # subfolders not included
    rgb = tmp_path / "rgb"
    write_images(rgb, 1, mode="RGB")
    x, _ = M.imageDatastore(str(rgb / "ant")).read(np.array([0]))
    assert x.shape == (1, 3, 6, 5)


def test_split_each_label(tmp_path):
    write_images(tmp_path, per_label=5)
    imds = M.imageDatastore(str(tmp_path), "IncludeSubfolders", True, "LabelSource", "foldernames")
    train, test = M.splitEachLabel(imds, 0.7)                            # round(0.7·5) = 4 of each label
    assert train.countEachLabel() == {"ant": 4, "zebra": 4} and test.countEachLabel() == {"ant": 1, "zebra": 1}
    assert train.Files == imds.Files[:4] + imds.Files[5:9]              # each label's first files, in order
    a, b, c = M.splitEachLabel(imds, 2, 1)
    assert (len(a), len(b), len(c)) == (4, 2, 4)
    r1, _ = M.splitEachLabel(imds, 0.6, "randomized", seed=3)
    r2, _ = M.splitEachLabel(imds, 0.6, "randomized", seed=3)
    assert r1.Files == r2.Files and r1.Files == sorted(r1.Files) and r1.countEachLabel() == {"ant": 3, "zebra": 3}
    with pytest.raises(ValueError, match="proportions"):
        M.splitEachLabel(imds, 0.7, 0.5)


def test_resize_and_crops_resample_exactly():
    H = W = 8
    ramp = np.tile(np.arange(H, dtype=np.float64)[:, None], (1, W))      # value = row
    X = np.stack([ramp, ramp.T], -1)[..., None]                          # h×w×c×N, c = 2 (rows, columns)
    same = M.augmentedImageDatastore([8, 8], X, np.array(["a"]))
    np.testing.assert_array_equal(same.read(np.array([0]))[0][0], X[..., 0].transpose(2, 0, 1))
    half, _ = M.augmentedImageDatastore([4, 4], X).read(np.array([0]))
    expected = 2 * np.arange(4) + 0.5                                    # output i samples input 2i + 0.5
    np.testing.assert_allclose(half[0, 0], np.tile(expected[:, None], (1, 4)), atol=1e-12)
    np.testing.assert_allclose(half[0, 1], np.tile(expected[None, :], (4, 1)), atol=1e-12)
    crop, _ = M.augmentedImageDatastore([4, 6], X, "OutputSizeMode", "centercrop").read(np.array([0]))
    np.testing.assert_array_equal(crop[0], X[2:6, 1:7, :, 0].transpose(2, 0, 1))


def test_augmentation_draws_from_the_generator():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (5, 5, 1, 6))
    aug = M.imageDataAugmenter("RandXReflection", True)
    ds = M.augmentedImageDatastore([5, 5], X, "DataAugmentation", aug)
    np.testing.assert_array_equal(ds.read(np.arange(6))[0], X.transpose(3, 2, 0, 1))   # no generator: none
    ds.use_generator(np.random.default_rng(42))
    out, _ = ds.read(np.arange(6))
    flips = np.random.default_rng(42).random(6) < 0.5                   # the same draws, made here
    assert flips.any() and not flips.all()
    for n in range(6):
        src = X[:, :, 0, n]
        np.testing.assert_array_equal(out[n, 0], src[:, ::-1] if flips[n] else src)
    rot = M.augmentedImageDatastore([5, 5], X, "DataAugmentation", M.imageDataAugmenter("RandRotation", [90, 90]))
    rot.use_generator(np.random.default_rng(0))
    np.testing.assert_allclose(rot.read(np.array([1]))[0][0, 0], np.rot90(X[:, :, 0, 1]), atol=1e-12)
    shift = M.augmentedImageDatastore([5, 5], X, "DataAugmentation",
                                      M.imageDataAugmenter("RandXTranslation", [2, 2], "FillValue", -1))
    shift.use_generator(np.random.default_rng(0))
    moved = shift.read(np.array([2]))[0][0, 0]
    np.testing.assert_array_equal(moved[:, 2:], X[:, :3, 0, 2])
    np.testing.assert_array_equal(moved[:, :2], -1.0)


def test_resample_matches_a_per_pixel_bilinear_reference():
    rng = np.random.default_rng(1)
    img = rng.standard_normal((2, 1, 4, 5))
    A = np.array([[[0.9, 0.2], [-0.1, 1.1]], [[1.0, 0.0], [0.0, 1.0]]])
    o = np.array([[0.3, -0.4], [1.5, 0.25]])
    out = resample(img, (3, 4), A, o, fill=7.0)
    for n, i, j in np.ndindex(2, 3, 4):
        r, c = A[n] @ np.array([i, j]) + o[n]
        total = 0.0
        for rr, cc in ((np.floor(r), np.floor(c)), (np.floor(r), np.floor(c) + 1), (np.floor(r) + 1, np.floor(c)),
                       (np.floor(r) + 1, np.floor(c) + 1)):
            wgt = (1 - abs(r - rr)) * (1 - abs(c - cc))
            inside = 0 <= rr < 4 and 0 <= cc < 5
            total += wgt * (img[n, 0, int(rr), int(cc)] if inside else 7.0)
        assert out[n, 0, i, j] == pytest.approx(total, abs=1e-12)


def test_training_from_folders_is_reproducible(tmp_path):
    write_images(tmp_path, per_label=6)
    imds = M.imageDatastore(str(tmp_path), "IncludeSubfolders", True, "LabelSource", "foldernames")
    aug = M.imageDataAugmenter("RandXReflection", True, "RandRotation", [-20, 20], "RandXTranslation", [-1, 1])

    def run(seed):
        ds = M.augmentedImageDatastore([4, 4], imds, "DataAugmentation", aug)
        layers = [M.imageInputLayer([4, 4, 1]), M.fullyConnectedLayer(2), M.softmaxLayer(),
                  M.classificationLayer()]
        opts = M.trainingOptions("sgdm", "MaxEpochs", 3, "MiniBatchSize", 4, "Verbose", 0, "Seed", seed,
                                 "Precision", "double")
        net, info = M.trainNetwork(ds, layers, opts)
        return net, info

    net, info = run(1)
    _, again = run(1)
    _, other = run(2)
    np.testing.assert_array_equal(info.TrainingLoss, again.TrainingLoss)
    assert not np.array_equal(info.TrainingLoss, other.TrainingLoss)
    assert list(net.classes) == ["ant", "zebra"]
    assert len(info.TrainingLoss) == 9


def test_a_resumed_run_draws_the_same_augmentations(tmp_path):
    write_images(tmp_path / "img", per_label=4)
    imds = M.imageDatastore(str(tmp_path / "img"), "IncludeSubfolders", True, "LabelSource", "foldernames")
    aug = M.imageDataAugmenter("RandXReflection", True, "RandRotation", [-30, 30])
    folder = tmp_path / "ck"
    folder.mkdir()

    def layers():
        return [M.imageInputLayer([4, 4, 1]), M.fullyConnectedLayer(2), M.softmaxLayer(), M.classificationLayer()]

    opts = M.trainingOptions("sgdm", "MaxEpochs", 3, "MiniBatchSize", 4, "Verbose", 0, "Precision", "double",
                             "Shuffle", "every-epoch", "CheckpointPath", str(folder))
    net, info = M.trainNetwork(M.augmentedImageDatastore([4, 4], imds, "DataAugmentation", aug), layers(), opts)
    first = sorted(p for p in folder.iterdir() if not p.name.startswith("."))[0]                      # after epoch 1
    resumed, info2 = M.trainNetwork(M.augmentedImageDatastore([4, 4], imds, "DataAugmentation", aug), None, opts,
                                    resume_from=str(first))
    for k, v in net.params.items():
        np.testing.assert_array_equal(resumed.params[k], v)
    np.testing.assert_array_equal(info2.TrainingLoss, info.TrainingLoss)
