"""Checkpoints: a folder with ``manifest.json`` (architecture, training state) and ``arrays.npz`` (every array).

Format (version 1)::

    <name>/            (the dialect names it: MATLAB's net_checkpoint__<iteration>__<yyyy_mm_dd__HH_MM_SS>)
        manifest.json   {"format": "minidl-checkpoint", "version": 1, "network": {...}, "training": {...} | null}
        arrays.npz      net/params/<name>, net/state/<name>, classes, optimizer/<slot>/<name>, data/order,
                        data/validation_order, info/<series>   (read with allow_pickle=False)

The folder is written under a hidden temporary name in the same parent and renamed when complete, so a crash or
an error mid-write never leaves a partial checkpoint under the final name. No pickle anywhere.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from minidl._files import atomic_folder, replace_folder
from minidl.backend import to_host
from minidl.network import Network
from minidl.training.serialization import network_from_json, network_to_json

__all__ = ["write_checkpoint", "read_checkpoint", "save_network", "load_network",
           "network_arrays", "restore_network", "replace_network", "FORMAT", "VERSION"]

FORMAT = "minidl-checkpoint"
VERSION = 1
MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"


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


def restore_network(manifest: dict[str, Any], arrays: dict[str, np.ndarray]) -> Network:
    """A Network on the CPU from :func:`network_arrays` output (weights and statistics as saved, bit for bit)."""
    spec = manifest["architecture"]
    net = network_from_json(spec)
    by_name = {layer.name: layer for layer in net.layers}
    for key, value in arrays.items():  # arrays first: initialize keeps present arrays and draws nothing for them
        if key.startswith(("net/params/", "net/state/")):
            _, table, full = key.split("/", 2)
            layer_name, local = full.split(".", 1)
            if layer_name not in by_name:
                raise ValueError(f"checkpoint: array {key!r} names no layer of the saved architecture")
            getattr(by_name[layer_name], table)[local] = np.array(value)
    shape = spec.get("input_shape")
    net.initialize(tuple(shape) if shape else None, rng=np.random.default_rng(0), dtype=manifest["dtype"])
    net.load_state_arrays({k[len("net/"):]: v for k, v in arrays.items() if k.startswith("net/")})
    if manifest.get("classes") is not None:
        net.classes = np.array(arrays["classes"])
    return net


def write_checkpoint(folder: str | os.PathLike, name: str, manifest: dict[str, Any],
                     arrays: dict[str, np.ndarray]) -> str:
    """Write ``folder/name/{manifest.json, arrays.npz}`` atomically; returns the final path.

    The files go to a hidden temporary folder, are flushed to disk, and the folder is renamed to ``name``. If
    ``name`` exists, ``__2``, ``__3``, ... is appended (nothing is ever overwritten).
    """
    return atomic_folder(folder, name, _filler(manifest, arrays), arg="checkpoint_path")


def _filler(manifest: dict[str, Any], arrays: dict[str, np.ndarray]):
    """A function writing ``manifest.json`` and ``arrays.npz`` into a folder (for the atomic folder writers)."""
    payload = {"format": FORMAT, "version": VERSION, **manifest}
    text = json.dumps(payload, indent=1, allow_nan=False).encode("utf-8")
    host = {k: np.ascontiguousarray(to_host(v)) for k, v in arrays.items()}

    def fill(tmp: str) -> None:
        _write_file(os.path.join(tmp, MANIFEST), lambda f: f.write(text))
        _write_file(os.path.join(tmp, ARRAYS), lambda f: np.savez(f, **host))

    return fill


def _write_file(path: str, write) -> None:
    with open(path, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(manifest, arrays) of a checkpoint folder; arrays read with ``allow_pickle=False``."""
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise ValueError(f"path: {path!r} is not a checkpoint folder (it does not exist or is a file)")
    m_path, a_path = os.path.join(path, MANIFEST), os.path.join(path, ARRAYS)
    if not (os.path.isfile(m_path) and os.path.isfile(a_path)):
        raise ValueError(f"path: {path!r} is not a minidl checkpoint (needs {MANIFEST} and {ARRAYS})")
    with open(m_path, encoding="utf-8") as f:
        try:
            manifest = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"path: {m_path!r} is not valid JSON ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"path: {m_path!r} is not a minidl checkpoint manifest")
    if manifest.get("version") != VERSION:
        raise ValueError(f"path: checkpoint format version {manifest.get('version')!r}; this minidl reads {VERSION}")
    with np.load(a_path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return manifest, arrays


def save_network(net: Network, path: str | os.PathLike, *, unique: bool = False) -> str:
    """Save a network alone (no training state) to the folder ``path`` (must not exist), atomically; returns the
    path written.  ``unique=True``: if ``path`` exists, ``__2``, ``__3``, ... is appended instead of an error."""
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path) and not unique:
        raise ValueError(f"path: {path!r} exists; allowed: a new folder name (nothing is overwritten)")
    if not net.initialized:
        raise ValueError("net: the network is not initialized (train it or call net.initialize first)")
    manifest, arrays = network_arrays(net)
    parent, name = os.path.split(path)
    return write_checkpoint(parent, name, {"network": manifest, "training": None}, arrays)


def replace_network(net: Network, path: str | os.PathLike) -> str:
    """Save a network alone to the folder ``path``, replacing what is there atomically (``path`` always loads)."""
    if not net.initialized:
        raise ValueError("net: the network is not initialized (train it or call net.initialize first)")
    manifest, arrays = network_arrays(net)
    return replace_folder(path, _filler({"network": manifest, "training": None}, arrays))


def load_network(path: str | os.PathLike) -> Network:
    """The network of a checkpoint or of :func:`save_network` output, on the CPU with its saved dtype and classes.

    Args:
        path: a checkpoint folder (MATLAB's are named ``net_checkpoint__<iteration>__<time>``) or a folder written
            by save_network.
    """
    manifest, arrays = read_checkpoint(path)
    return restore_network(manifest["network"], arrays)
