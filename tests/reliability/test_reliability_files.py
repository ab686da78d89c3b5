"""load_network and read_checkpoint trust nothing: each damage is a ValueError naming the file and what is wrong.

The tampered files are made here: truncations, bit flips, edited manifests, crafted archives (declared sizes far
beyond the file, object / complex arrays, arrays that disagree with the architecture)."""

from __future__ import annotations

import io
import json
import os
import shutil
import tracemalloc
import zipfile

import numpy as np
import pytest

from minidl.training import checkpoint as ckpt
from minidl.training import load_network, read_checkpoint, save_network
from tests.reliability.conftest import Tally


def copy_of(path, tmp_path, name="copy"):
    dst = tmp_path / name
    shutil.copytree(path, dst)
    return dst


def edit_manifest(folder, edit):
    m = folder / "manifest.json"
    manifest = json.loads(m.read_text())
    edit(manifest)
    m.write_text(json.dumps(manifest))


def rewrite(src, parent, edit_arrays=None, edit_manifest=None, name="edited"):
    """The checkpoint at ``src`` written anew (valid checksum) after editing its arrays and manifest."""
    manifest, arrays = read_checkpoint(src)
    manifest, arrays = dict(manifest), dict(arrays)
    manifest["network"] = json.loads(json.dumps(manifest["network"]))
    if edit_arrays:
        edit_arrays(arrays)
    if edit_manifest:
        edit_manifest(manifest)
    os.makedirs(parent, exist_ok=True)
    return ckpt.write_checkpoint(parent, name, manifest, arrays)


def raises_naming(path, fragment, loader=load_network):
    with pytest.raises(ValueError) as e:
        loader(path)
    assert str(path) in str(e.value) and fragment in str(e.value), str(e.value)


# ------------------------------------------------------------------------------------------- the fast subset
def test_a_truncated_archive_and_a_flipped_data_bit_are_clean_errors(run, tmp_path):
    a = copy_of(run.paths[-1], tmp_path, "a")
    data = (a / "arrays.npz").read_bytes()
    (a / "arrays.npz").write_bytes(data[: len(data) // 2])
    raises_naming(a, "truncated or damaged")
    b = copy_of(run.paths[-1], tmp_path, "b")
    with zipfile.ZipFile(b / "arrays.npz") as z:
        info = z.getinfo("net/params/fc_1.weight.npy")
    raw = bytearray((b / "arrays.npz").read_bytes())
    raw[info.header_offset + 30 + len(info.filename) + 130] ^= 0x10  # inside the array data: the CRC catches it
    (b / "arrays.npz").write_bytes(bytes(raw))
    raises_naming(b, "damaged")


@pytest.mark.parametrize("edit, fragment", [
    (lambda m: m["network"].pop("dtype"), "'network.dtype' is missing"),
    (lambda m: m["network"].__setitem__("is_classifier", "yes"), "'network.is_classifier'"),
    (lambda m: m["network"]["architecture"].__setitem__("layers", {}), "'network.architecture.layers'"),
    (lambda m: m["network"]["architecture"].__setitem__("input_shape", [-3]), "input_shape"),
    (lambda m: m["network"].__setitem__("dtype", "float16"), "'network.dtype'"),
    (lambda m: m["network"].__setitem__("classes", "|O"), "'network.classes'"),
    (lambda m: m.pop("training"), "'training' is missing"),
    (lambda m: m["network"]["architecture"]["layers"][2]["args"].__setitem__("epsilon", 0.5), "changed after"),
])
def test_edited_manifests_name_the_key(run, tmp_path, edit, fragment):
    folder = copy_of(run.paths[0], tmp_path)
    edit_manifest(folder, edit)
    raises_naming(folder, fragment)


@pytest.mark.parametrize("edit, fragment", [
    (lambda m: m["network"]["architecture"]["layers"][1].__setitem__("type", "os.system"), "does not build"),
    (lambda m: m["network"]["architecture"]["layers"][1]["args"].__setitem__("output_size", 5), "disagree"),
    (lambda m: m["network"]["architecture"]["layers"][1]["args"].__setitem__("bogus", 5), "does not build"),
    (lambda m: m["network"].__setitem__("is_classifier", False), "disagrees with the architecture"),
])
def test_consistent_manifests_that_disagree_with_the_arrays(run, tmp_path, edit, fragment):
    raises_naming(rewrite(run.paths[0], tmp_path / "edits", edit_manifest=edit), fragment)


def test_non_utf8_deep_json_and_constants_are_refused(run, tmp_path):
    for k, text in enumerate([b'{"format": "minidl-checkpoint", "x": "\xff\xfe"}', b"[" * 100000 + b"]" * 100000,
                              b"[" * 70 + b"]" * 70, b'{"format": "minidl-checkpoint", "x": NaN}']):
        folder = copy_of(run.paths[0], tmp_path, f"c{k}")
        (folder / "manifest.json").write_bytes(text)
        with pytest.raises(ValueError, match="UTF-8|nested|constant NaN|not a minidl checkpoint manifest") as e:
            load_network(folder)
        assert str(folder) in str(e.value)


def test_a_1kb_archive_declaring_8gib_allocates_nothing(run, tmp_path):
    folder = copy_of(run.paths[0], tmp_path)
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (2 ** 15, 2 ** 15)})
    with zipfile.ZipFile(folder / "arrays.npz", "w") as z:
        z.writestr("net/params/fc_1.weight.npy", buf.getvalue() + b"\0" * 64)
    tracemalloc.start()
    try:
        raises_naming(folder, "declares shape (32768, 32768)")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * 2 ** 20  # bytes; the declared array alone would take 8 GiB


def test_object_complex_and_misshaped_arrays_are_refused(run, tmp_path):
    folder = copy_of(run.paths[0], tmp_path)
    manifest, arrays = read_checkpoint(folder, history=False)
    arrays = {k + ".npy": v for k, v in arrays.items()}
    for bad in (np.array([{"a": 1}], dtype=object), np.ones(3, dtype=complex)):
        with zipfile.ZipFile(folder / "arrays.npz", "w") as z:
            for name, value in {**arrays, "net/params/fc_1.bias.npy": bad}.items():
                with z.open(name, "w") as f:
                    np.lib.format.write_array(f, value, allow_pickle=True)
        raises_naming(folder, "no object, complex or structured")
    parent = tmp_path / "edits"
    raises_naming(rewrite(run.paths[0], parent, lambda a: a.__setitem__("net/params/fc_1.weight", np.ones((4, 5))),
                          name="shape"), "disagree with the architecture")
    raises_naming(rewrite(run.paths[0], parent, lambda a: a.pop("net/params/fc_2.bias"), name="missing"),
                  "'net/params/fc_2.bias' is missing")
    raises_naming(rewrite(run.paths[0], parent, lambda a: a.__setitem__("net/state/batchnorm_1.mean", np.ones(7)),
                          name="bn"), "4 channels")
    raises_naming(rewrite(run.paths[0], parent, lambda a: a.__setitem__("classes", np.array(["a", "b"])),
                          name="classes"), "2 classes but the network outputs (3,)")


def test_nan_weights_and_negative_variances_load_only_when_asked(run, tmp_path):
    parent = tmp_path / "edits"

    def nan(a):
        a["net/params/fc_1.weight"] = a["net/params/fc_1.weight"].copy()
        a["net/params/fc_1.weight"][0, 0] = np.nan

    def negative(a):
        a["net/state/batchnorm_1.variance"] = -np.ones(4)

    for k, edit in enumerate((nan, negative)):
        path = rewrite(run.paths[0], parent, edit, name=f"e{k}")
        raises_naming(path, "allow_invalid_values=True")
        net = load_network(path, allow_invalid_values=True)
        assert net.initialized and net.classes.tolist() == ["a", "b", "c"]


def test_wrong_arguments_name_the_argument(run, tmp_path):
    with pytest.raises(TypeError, match="path: got 5 of type int"):
        load_network(5)
    with pytest.raises(TypeError, match=r"net: got .* of type str; allowed: a Network \(the order is"):
        save_network(str(tmp_path / "x"), run.net)
    with pytest.raises(ValueError, match=r"x: a list of arrays of shapes \[\(\)\]"):  # a list of rows is data,
        run.net.predict([1.0, 2.0, 3.0])                                                # a list of numbers is not


# ------------------------------------------------------------------------------------------- the corpus
def tampered(src, tmp_path, rng, n_flips: int, truncations: int):
    """Yield (kind, folder) tampered copies of the checkpoint ``src``."""
    files = ("arrays.npz", "manifest.json")
    for k in range(truncations):
        name = files[k % 2]
        size = os.path.getsize(os.path.join(src, name))
        folder = copy_of(src, tmp_path, f"t{k}")
        cut = int(rng.integers(0, size))
        with open(folder / name, "r+b") as f:
            f.truncate(cut)
        yield f"truncate {name} at {cut}", folder
        shutil.rmtree(folder)
    for k in range(n_flips):
        name = files[int(rng.random() < 0.3)]
        folder = copy_of(src, tmp_path, f"f{k}")
        raw = bytearray((folder / name).read_bytes())
        i = int(rng.integers(0, len(raw)))
        raw[i] ^= 1 << int(rng.integers(0, 8))
        (folder / name).write_bytes(bytes(raw))
        yield f"flip {name} byte {i}", folder
        shutil.rmtree(folder)


def same_network(a, b) -> bool:
    sa, sb = a.state_arrays(), b.state_arrays()
    return (sa.keys() == sb.keys() and all(np.array_equal(sa[k], sb[k]) for k in sa) and a.dtype == b.dtype
            and np.array_equal(a.classes, b.classes) and [layer.describe() for layer in a.layers] ==
            [layer.describe() for layer in b.layers])


def campaign(run, tmp_path, n_flips, truncations, seed=0):
    """Each tampered file: clean (ValueError naming the file), unclear (other message), crash (other exception),
    accepted (loads the very same network: the flip hit bytes nothing reads) or silent (loads another network)."""
    original = load_network(run.paths[-1])
    tally = Tally("tampered checkpoint files")
    for what, folder in tampered(run.paths[-1], tmp_path, np.random.default_rng(seed), n_flips, truncations):
        try:
            net = load_network(folder)
            read_checkpoint(folder, history=False)
        except ValueError as e:
            tally.add("clean errors" if str(folder) in str(e) else "unclear", (what, str(e)[:200]))
            continue
        except Exception as e:  # noqa: BLE001  (any other exception is what this campaign counts)
            tally.add("crash", (what, repr(e)[:200]))
            continue
        tally.add("accepted (identical)" if same_network(net, original) else "silent", what)
    tally.report()
    assert not {"unclear", "crash", "silent"} & tally.counts.keys(), tally.examples
    return tally


def test_a_sample_of_the_corpus(run, tmp_path):
    tally = campaign(run, tmp_path, n_flips=12, truncations=6)
    assert tally.counts.get("clean errors", 0) >= 12


@pytest.mark.reliability
def test_the_tampered_file_corpus(run, tmp_path):
    tally = campaign(run, tmp_path, n_flips=300, truncations=100, seed=1)
    assert tally.counts.get("clean errors", 0) >= 350
