"""Checkpoints: a folder with ``manifest.json`` (architecture, training state) and ``arrays.npz`` (every array).

Format (version 1)::

    <name>/            (the dialect names it: MATLAB's net_checkpoint__<iteration>__<yyyy_mm_dd__HH_MM_SS>)
        manifest.json   {"format": "minidl-checkpoint", "version": 1, "network": {...}, "training": {...} | null}
        arrays.npz      net/params/<name>, net/state/<name>, classes, optimizer/<slot>/<name>, data/order,
                        data/validation_order, info/<epoch series>, checksum/manifest
    .minidl_history__<run>.f8   the run's per-iteration info series, appended at each checkpoint (float64 rows
                        of minidl.training.info.SERIES); a checkpoint's manifest names the file, its row count and
                        the SHA-256 of those rows, so its size does not grow with the run

The folder is written under a hidden temporary name in the same parent and renamed when complete, so a crash or
an error mid-write never leaves a partial checkpoint under the final name. No pickle anywhere.

Reading trusts nothing (docs/training.md#reliability): the manifest must be UTF-8 JSON of bounded size and depth
with every key of the right type; the archive is read member by member, each member's declared size checked against
the file before anything is allocated and its CRC checked after; arrays must be real numbers (no object, complex
or structured dtypes) whose shapes agree with the architecture; ``checksum/manifest`` (SHA-256 of the manifest
bytes, inside the archive) catches a manifest changed after writing.  Every failure is a ValueError naming the file.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import zipfile
from typing import Any

import numpy as np

from minidl._files import atomic_folder, replace_folder
from minidl.backend import to_host
from minidl.network import Network
from minidl.training.serialization import network_from_json, network_to_json

__all__ = ["write_checkpoint", "read_checkpoint", "read_arrays", "save_network", "load_network",
           "network_arrays", "restore_network", "replace_network", "check_network_manifest", "FORMAT", "VERSION"]

FORMAT = "minidl-checkpoint"
VERSION = 1
MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"
CHECKSUM = "checksum/manifest"
#: Largest manifest read (bytes) and deepest JSON nesting accepted.
MAX_MANIFEST_BYTES = 64 * 2 ** 20
MAX_JSON_DEPTH = 64
#: The side file of a run's per-iteration info series (see the module docstring).
HISTORY = re.compile(r"^\.minidl_history__[0-9a-f]{32}\.f8$")
#: Array kinds a checkpoint may hold: booleans, integers, floats, strings (class labels).
_KINDS = "biufUS"


def network_arrays(net: Network) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The network's manifest part (architecture, dtype, classes kind) and its arrays (host copies)."""
    arrays = {f"net/{k}": v for k, v in net.state_arrays().items()}
    classes = None
    if net.classes is not None:
        c = np.asarray(net.classes)
        if c.dtype.kind == "O":
            raise TypeError("net.classes: labels of object dtype (mixed kinds or tuples) cannot be saved without "
                            "pickle; allowed: integer, string or boolean labels")
        arrays["classes"] = c
        classes = c.dtype.str
    manifest = {"architecture": network_to_json(net), "dtype": None if net.dtype is None else net.dtype.name,
                "classes": classes, "is_classifier": net.is_classifier}
    return manifest, arrays


def restore_network(manifest: dict[str, Any], arrays: dict[str, np.ndarray], *, where: str | None = None,
                    allow_invalid_values: bool = False) -> Network:
    """A Network on the CPU from :func:`network_arrays` output (weights and statistics as saved, bit for bit).

    Every learnable array the architecture needs must be present with its shape (nothing is drawn, so a damaged
    architecture cannot make this allocate more than the file holds); NaN or Inf values and negative variances are
    refused unless ``allow_invalid_values``.  ``where`` names the file in errors (default: the archive the
    manifest was read with, as :func:`read_checkpoint` records it).
    """
    where = where or getattr(manifest, "path", None) or "checkpoint"
    check_network_manifest(manifest, where)
    spec = manifest["architecture"]
    try:
        net = network_from_json(spec)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: the architecture does not build a network ({e})") from None
    by_name = {layer.name: layer for layer in net.layers}
    for key, value in arrays.items():  # arrays first: initialize keeps present arrays and draws nothing for them
        if key.startswith(("net/params/", "net/state/")):
            _, table, full = key.split("/", 2)
            layer_name, _, local = full.partition(".")
            if layer_name not in by_name or not local:
                raise ValueError(f"{where}: array {key!r} names no layer of the saved architecture")
            if value.dtype.kind != "f":
                raise ValueError(f"{where}: array {key!r} has dtype {value.dtype}; allowed: floating point")
            getattr(by_name[layer_name], table)[local] = np.array(value)
    for layer in net.layers:
        for local in layer.factor_defaults:
            if local not in layer.params:
                raise ValueError(f"{where}: array 'net/params/{layer.name}.{local}' is missing; the architecture's "
                                 f"layer {layer.name!r} needs it")
    shape = spec.get("input_shape")
    try:
        with np.errstate(all="ignore"):
            net.initialize(tuple(shape) if shape else None, rng=_NoDraws(where), dtype=manifest["dtype"] or "float32")
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: the arrays disagree with the architecture ({e})") from None
    _check_shapes(net, arrays, where)
    if not allow_invalid_values:
        _check_values(net, where)
    if manifest.get("classes") is not None:
        classes = arrays.get("classes")
        if classes is None or classes.ndim != 1 or classes.dtype.str != manifest["classes"]:
            got = "none" if classes is None else f"dtype {classes.dtype.str}, shape {classes.shape}"
            raise ValueError(f"{where}: the class list ('classes') is missing or mistyped (got {got}; the manifest "
                             f"says a list of dtype {manifest['classes']})")
        out = net.output_shape if net.is_chain or net.classification_layer is None else \
            net.classification_layer.input_shape              # a graph: what its first classification loss receives
        if tuple(d for d in out if d is not None) != (len(classes),):  # (K,) or (K, None): per step
            raise ValueError(f"{where}: {len(classes)} classes but the network outputs {out}")
        if len(np.unique(classes)) != len(classes):
            raise ValueError(f"{where}: the class list holds repeated labels")
        net.classes = np.array(classes)
    if bool(manifest["is_classifier"]) != net.is_classifier:
        raise ValueError(f"{where}: the manifest's is_classifier = {manifest['is_classifier']!r} disagrees with the "
                         "architecture's output layer")
    return net


class _NoDraws:
    """A generator stand-in for restoring: any draw means an array the architecture needs is not in the file."""

    def __init__(self, where: str):
        self.where = where

    def __getattr__(self, name):
        if name.startswith("__") or name == "where":  # pickle's and copy's probes (before ``where`` is set)
            raise AttributeError(name)
        raise ValueError(f"{self.where}: an array the architecture needs is missing from the file")


def _check_shapes(net: Network, arrays: dict[str, np.ndarray], where: str) -> None:
    """The file's arrays are exactly the network's, and statistics have their layer's channel count."""
    from minidl.layers.normalization import BatchNormalization

    expected = {f"net/{k}" for k in net.state_arrays()}
    given = {k for k in arrays if k.startswith("net/")}
    if given != expected:
        raise ValueError(f"{where}: the arrays disagree with the architecture: missing {sorted(expected - given)}, "
                         f"unexpected {sorted(given - expected)}")
    for layer in net.layers:
        if isinstance(layer, BatchNormalization):
            c = (layer.input_shape[0],)
            for table in (layer.params, layer.state):
                for k, v in table.items():
                    if tuple(v.shape) != c:
                        raise ValueError(f"{where}: array '{layer.name}.{k}' has shape {tuple(v.shape)}; the "
                                         f"layer has {c[0]} channels")


def _check_values(net: Network, where: str) -> None:
    """No NaN or Inf anywhere, no negative variance, no zero or negative standard deviation."""
    for key, v in net.state_arrays().items():
        if not np.isfinite(v).all():
            raise ValueError(f"{where}: array {key!r} holds NaN or Inf values; load with allow_invalid_values=True "
                             "to inspect it anyway")
        local = key.rsplit(".", 1)[-1]
        if key.startswith("state/") and ((local == "variance" and (v < 0).any()) or (local == "std" and
                                                                                    (v <= 0).any())):
            raise ValueError(f"{where}: array {key!r} holds {'negative' if local == 'variance' else 'non-positive'} "
                             "values; load with allow_invalid_values=True to inspect it anyway")


def check_network_manifest(manifest: Any, where: str) -> None:
    """The network part of a manifest has every key with its type; else a ValueError naming the key."""
    _expect(manifest, dict, "network", where)
    for key in ("architecture", "dtype", "classes", "is_classifier"):
        if key not in manifest:
            raise ValueError(f"{where}: manifest key 'network.{key}' is missing")
    arch = manifest["architecture"]
    _expect(arch, dict, "network.architecture", where)
    _expect(arch.get("layers"), list, "network.architecture.layers", where)
    if not arch["layers"]:
        raise ValueError(f"{where}: manifest key 'network.architecture.layers' is an empty list")
    for i, spec in enumerate(arch["layers"]):
        _expect(spec, dict, f"network.architecture.layers[{i}]", where)
        _expect(spec.get("type"), str, f"network.architecture.layers[{i}].type", where)
        _expect(spec.get("args"), dict, f"network.architecture.layers[{i}].args", where)
    shape = arch.get("input_shape")
    if shape is not None and not (isinstance(shape, list) and shape and all(
            (isinstance(s, int) and not isinstance(s, bool) and 0 < s < 2 ** 31)
            or (s is None and 0 < i == len(shape) - 1) for i, s in enumerate(shape))):
        raise ValueError(f"{where}: manifest key 'network.architecture.input_shape' is {shape!r}; allowed: null or a "
                         "list of positive integers (the last one null for a time axis)")
    if manifest["dtype"] not in (None, "float32", "float64"):
        raise ValueError(f"{where}: manifest key 'network.dtype' is {manifest['dtype']!r}; allowed: 'float32', "
                         "'float64', null")
    if manifest["classes"] is not None:
        _expect(manifest["classes"], str, "network.classes", where)
        try:
            kind = np.dtype(manifest["classes"]).kind
        except TypeError:
            kind = None
        if kind not in _KINDS:
            raise ValueError(f"{where}: manifest key 'network.classes' is {manifest['classes']!r}; allowed: the "
                             "dtype of integer, string or boolean labels")
    _expect(manifest["is_classifier"], bool, "network.is_classifier", where)


def _expect(value: Any, kind: type, key: str, where: str) -> None:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"{where}: manifest key {key!r} is {_short(value)} of type {type(value).__name__}; "
                         f"allowed: {kind.__name__}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def write_checkpoint(folder: str | os.PathLike, name: str, manifest: dict[str, Any],
                     arrays: dict[str, np.ndarray]) -> str:
    """Write ``folder/name/{manifest.json, arrays.npz}`` atomically; returns the final path.

    The files go to a hidden temporary folder, are flushed to disk, and the folder is renamed to ``name``. If
    ``name`` exists, ``__2``, ``__3``, ... is appended (nothing is ever overwritten).
    """
    training = manifest.get("training")
    if training and training.get("run") and any(k.startswith("info/") for k in arrays):
        manifest, arrays = _append_history(os.fspath(folder), manifest, arrays)
    return atomic_folder(folder, name, _filler(manifest, arrays), arg="checkpoint_path")


def _series_names() -> tuple[str, ...]:
    from minidl.training.info import SERIES

    return SERIES


def _append_history(folder: str, manifest: dict[str, Any], arrays: dict[str, np.ndarray]):
    """Move the per-iteration info series out of the arrays into the run's side file, writing only the rows it
    does not hold yet; the manifest gets ``training.info_history`` = {file, iterations, sha256}."""
    names = _series_names()
    if not os.path.isdir(folder):
        raise ValueError(f"checkpoint_path: {folder!r} is not an existing folder")
    arrays = dict(arrays)
    rows = np.ascontiguousarray(np.stack([np.asarray(arrays.pop(f"info/{n}"), dtype="<f8") for n in names], axis=1))
    data = rows.tobytes()
    width = 8 * len(names)
    file = f".minidl_history__{manifest['training']['run']}.f8"
    fd = os.open(os.path.join(folder, file), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        have = min(os.fstat(fd).st_size // width, len(rows))  # rows already written by this run's checkpoints
        os.pwrite(fd, data[have * width:], have * width)
        os.ftruncate(fd, len(data))
        os.fsync(fd)
    finally:
        os.close(fd)
    ref = {"file": file, "iterations": len(rows), "series": list(names), "sha256": hashlib.sha256(data).hexdigest()}
    return {**manifest, "training": {**manifest["training"], "info_history": ref}}, arrays


def _read_history(path: str, manifest: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Put the per-iteration info series named by ``training.info_history`` back into ``arrays`` (checked)."""
    ref = manifest["training"]["info_history"]
    where = os.path.join(path, MANIFEST)
    names = _series_names()
    if not (isinstance(ref, dict) and isinstance(ref.get("file"), str) and HISTORY.match(ref["file"])
            and isinstance(ref.get("iterations"), int) and not isinstance(ref["iterations"], bool)
            and ref["iterations"] >= 0 and ref.get("series") == list(names)
            and isinstance(ref.get("sha256"), str)):
        raise ValueError(f"path: {where!r}: manifest key 'training.info_history' is {_short(ref)}; allowed: "
                         "{file: '.minidl_history__<run>.f8', iterations: n, series: [...], sha256: hex}")
    side = os.path.join(os.path.dirname(os.path.abspath(path)), ref["file"])
    n = ref["iterations"] * 8 * len(names)
    if not os.path.isfile(side):
        raise ValueError(f"path: {where!r}: the info history file {side!r} is missing (it lives beside the "
                         "checkpoint folders; copy it with them to resume)")
    if os.path.getsize(side) < n:
        raise ValueError(f"path: {side!r} holds {os.path.getsize(side)} bytes; the checkpoint needs {n} (truncated)")
    with open(side, "rb") as f:
        data = f.read(n)
    if hashlib.sha256(data).hexdigest() != ref["sha256"]:
        raise ValueError(f"path: {side!r}: its first {ref['iterations']} rows differ from those the checkpoint "
                         "was written with (SHA-256 mismatch)")
    rows = np.frombuffer(data, dtype="<f8").reshape(ref["iterations"], len(names))
    for j, name in enumerate(names):
        arrays[f"info/{name}"] = rows[:, j].astype(np.float64)


def _filler(manifest: dict[str, Any], arrays: dict[str, np.ndarray]):
    """A function writing ``manifest.json`` and ``arrays.npz`` into a folder (for the atomic folder writers)."""
    payload = {"format": FORMAT, "version": VERSION, **manifest}
    text = json.dumps(payload, indent=1, allow_nan=False).encode("utf-8")
    host = {k: np.ascontiguousarray(to_host(v)) for k, v in arrays.items()}
    host[CHECKSUM] = np.frombuffer(hashlib.sha256(text).digest(), dtype=np.uint8)

    def fill(tmp: str) -> None:
        _write_file(os.path.join(tmp, MANIFEST), lambda f: f.write(text))
        _write_file(os.path.join(tmp, ARRAYS), lambda f: np.savez(f, **host))

    return fill


def _write_file(path: str, write) -> None:
    with open(path, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())


def read_checkpoint(path: str | os.PathLike, *, history: bool = True) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(manifest, arrays) of a checkpoint folder, every part checked (see the module docstring); no pickle.

    ``history``: also read the per-iteration info series from the run's side file into ``arrays["info/..."]``
    (what a resume needs; :func:`load_network` skips it)."""
    path = _check_path(path)
    if not os.path.isdir(path):
        raise ValueError(f"path: {path!r} is not a checkpoint folder (it does not exist or is a file)")
    m_path, a_path = os.path.join(path, MANIFEST), os.path.join(path, ARRAYS)
    if not (os.path.isfile(m_path) and os.path.isfile(a_path)):
        raise ValueError(f"path: {path!r} is not a minidl checkpoint (needs {MANIFEST} and {ARRAYS})")
    text, manifest = _read_manifest(m_path)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"path: {m_path!r} is not a minidl checkpoint manifest")
    if manifest.get("version") != VERSION:
        raise ValueError(f"path: checkpoint format version {manifest.get('version')!r}; this minidl reads {VERSION}")
    for key in ("network", "training"):
        if key not in manifest:
            raise ValueError(f"path: {m_path!r}: manifest key {key!r} is missing")
    check_network_manifest(manifest["network"], m_path)
    if manifest["training"] is not None and not isinstance(manifest["training"], dict):
        raise ValueError(f"path: {m_path!r}: manifest key 'training' is of type "
                         f"{type(manifest['training']).__name__}; allowed: dict or null")
    arrays = read_arrays(a_path)
    digest = arrays.pop(CHECKSUM, None)
    if digest is not None and (digest.dtype != np.uint8 or digest.tobytes() != hashlib.sha256(text).digest()):
        raise ValueError(f"path: {m_path!r} was changed after the checkpoint was written (its SHA-256 differs from "
                         f"the one in {ARRAYS})")
    if history and manifest["training"] is not None and "info_history" in manifest["training"]:
        _read_history(path, manifest, arrays)
    manifest = Manifest(manifest)
    manifest.path = path
    manifest["network"] = Manifest(manifest["network"])
    manifest["network"].path = a_path  # restore_network names the archive in its errors
    return manifest, arrays


class Manifest(dict):
    """A checkpoint's manifest, with ``path``: the folder it was read from (named in resume errors)."""

    path: str | None = None


def _check_path(path: Any, arg: str = "path") -> str:
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise TypeError(f"{arg}: got {_short(path)} of type {type(path).__name__}; allowed: a folder path (str or "
                        "os.PathLike)")
    return os.fspath(path)


def _read_manifest(m_path: str) -> tuple[bytes, Any]:
    """(bytes, parsed JSON) of a manifest: bounded size, strict UTF-8, no NaN constants, bounded nesting."""
    size = os.path.getsize(m_path)
    if size > MAX_MANIFEST_BYTES:
        raise ValueError(f"path: {m_path!r} is {size} bytes; a manifest holds at most {MAX_MANIFEST_BYTES}")
    with open(m_path, "rb") as f:
        text = f.read(size + 1)  # a bounded read (f.read(n) allocates n bytes first)
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"path: {m_path!r} is not UTF-8 text ({e.reason} at byte {e.start})") from None

    def no_constants(name):
        raise ValueError(f"path: {m_path!r} holds the JSON constant {name}; allowed: numbers only")

    try:
        manifest = json.loads(decoded, parse_constant=no_constants)
    except json.JSONDecodeError as e:
        raise ValueError(f"path: {m_path!r} is not valid JSON ({e})") from None
    except RecursionError:
        raise ValueError(f"path: {m_path!r} is JSON nested too deeply") from None
    depth, todo = 0, [(manifest, 1)]
    while todo:
        value, d = todo.pop()
        depth = max(depth, d)
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"path: {m_path!r} is JSON nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(value, dict):
            todo.extend((v, d + 1) for v in value.values())
        elif isinstance(value, list):
            todo.extend((v, d + 1) for v in value)
    return text, manifest


def read_arrays(a_path: str) -> dict[str, np.ndarray]:
    """Every member of an ``.npz`` written by minidl, read one by one without pickle: each member's declared size
    is checked against the file and its header before the array is allocated, and its CRC after reading."""
    size = os.path.getsize(a_path)
    try:
        archive = zipfile.ZipFile(a_path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise ValueError(f"path: {a_path!r} is not a readable archive (truncated or damaged: {e})") from None
    out: dict[str, np.ndarray] = {}
    total = 0
    with archive:
        for info in archive.infolist():
            name = info.filename
            if not name.endswith(".npy") or name[:-4] in out:
                raise ValueError(f"path: {a_path!r} holds an unexpected or repeated member {name!r}")
            total += info.file_size
            if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size or total > size:
                raise ValueError(f"path: {a_path!r}: member {name!r} declares {info.file_size} bytes, more than the "
                                 f"{size}-byte file can hold (damaged)")
            try:
                out[name[:-4]] = _read_member(archive, info, a_path)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError, SyntaxError) as e:
                msg = str(e) if str(e).startswith("path:") else f"path: {a_path!r}: member {name!r} is damaged ({e})"
                raise ValueError(msg) from None
    return out


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, a_path: str) -> np.ndarray:
    fmt = np.lib.format
    with archive.open(info) as f:
        version = fmt.read_magic(f)
        read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran, dtype = read_header(f)
        if dtype.hasobject or dtype.kind not in _KINDS or dtype.fields is not None or dtype.subdtype is not None:
            raise ValueError(f"path: {a_path!r}: member {info.filename!r} has dtype {dtype}; allowed: booleans, "
                             "integers, real floats, strings (no object, complex or structured arrays)")
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        header = f.tell()
        if header + nbytes != info.file_size:
            raise ValueError(f"path: {a_path!r}: member {info.filename!r} declares shape {shape} ({nbytes} bytes) "
                             f"but holds {info.file_size - header}")
        data = f.read(nbytes)
        if len(data) != nbytes or f.read(1):  # reading to the end checks the CRC
            raise ValueError(f"path: {a_path!r}: member {info.filename!r} is truncated")
    array = np.frombuffer(data, dtype=dtype, count=count).reshape(shape, order="F" if fortran else "C")
    return array.copy()


def save_network(net: Network, path: str | os.PathLike, *, unique: bool = False) -> str:
    """Save a network alone (no training state) to the folder ``path`` (must not exist), atomically; returns the
    path written.  ``unique=True``: if ``path`` exists, ``__2``, ``__3``, ... is appended instead of an error."""
    if not isinstance(net, Network):
        raise TypeError(f"net: got {_short(net)} of type {type(net).__name__}; allowed: a Network (the order is "
                        "save_network(net, path))")
    path = os.path.abspath(_check_path(path))
    if os.path.exists(path) and not unique:
        raise ValueError(f"path: {path!r} exists; allowed: a new folder name (nothing is overwritten)")
    if not net.initialized:
        raise ValueError("net: the network is not initialized (train it or call net.initialize first)")
    manifest, arrays = network_arrays(net)
    parent, name = os.path.split(path)
    return write_checkpoint(parent, name, {"network": manifest, "training": None}, arrays)


def replace_network(net: Network, path: str | os.PathLike) -> str:
    """Save a network alone to the folder ``path``, replacing what is there atomically (``path`` always loads)."""
    if not isinstance(net, Network):
        raise TypeError(f"net: got {type(net).__name__}; allowed: a Network")
    if not net.initialized:
        raise ValueError("net: the network is not initialized (train it or call net.initialize first)")
    manifest, arrays = network_arrays(net)
    return replace_folder(path, _filler({"network": manifest, "training": None}, arrays))


def load_network(path: str | os.PathLike, *, allow_invalid_values: bool = False) -> Network:
    """The network of a checkpoint or of :func:`save_network` output, on the CPU with its saved dtype and classes.

    Args:
        path: a checkpoint folder (MATLAB's are named ``net_checkpoint__<iteration>__<time>``) or a folder written
            by save_network.  Every part is checked; damage is a ValueError naming the file and what is wrong.
        allow_invalid_values: load arrays holding NaN or Inf, negative variances or non-positive standard
            deviations (refused by default: such a network cannot predict).
    """
    manifest, arrays = read_checkpoint(path, history=False)
    return restore_network(manifest["network"], arrays, where=os.path.join(_check_path(path), ARRAYS),
                           allow_invalid_values=allow_invalid_values)
