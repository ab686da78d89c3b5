"""kill -9 of a process while it writes checkpoints: every checkpoint loads after, and the next write to the
folder leaves no temporary entry behind (MATLAB's new folders and Wolfram's one folder replaced in place)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from minidl import _files as files
from minidl.training import load_network, read_checkpoint, save_network
from tests.reliability.conftest import Tally, visible

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    import minidl as dl
    from minidl.training.checkpoint import replace_network
    sys.path.insert(0, {root!r})
    from tests.reliability.conftest import tiny_data, tiny_layers, tiny_options
    mode, folder = sys.argv[1], sys.argv[2]
    X, Y = tiny_data()
    if mode == "new-folders":   # MATLAB: a new checkpoint folder after every epoch
        dl.train_network(X, Y, tiny_layers(), tiny_options(folder, max_epochs=10 ** 6, mini_batch_size=12))
    else:                       # Wolfram {{"File", path}}: one folder replaced in place, again and again
        net, _ = dl.train_network(X, Y, tiny_layers(), tiny_options(None, max_epochs=1))
        k = 0
        while True:
            k += 1
            net.params["fc_1.bias"][0] = k
            replace_network(net, folder)
""")


def start(tmp_path, mode, target):
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(root=ROOT))
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, str(script), mode, str(target)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for(condition, child, seconds=60.0):
    end = time.monotonic() + seconds
    while not condition():
        if child.poll() is not None:
            raise AssertionError(f"the child exited: {child.stderr.read().decode()[-2000:]}")
        if time.monotonic() > end:
            raise AssertionError("the child wrote nothing in time")
        time.sleep(0.005)


def kill(child, rng):
    time.sleep(float(rng.uniform(0.0, 0.25)))
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stderr.close()


def loads(path) -> bool:
    try:
        net = load_network(path)
        read_checkpoint(path)  # with the run's info history (what a resume reads)
        return net.initialized
    except ValueError:
        return False


def kill_new_folders(tmp_path, kills, seed=0):
    rng, tally = np.random.default_rng(seed), Tally("kill -9 during checkpoint writes (new folders)")
    folder = tmp_path / "ck"
    folder.mkdir()
    seen = 0
    for _ in range(kills):
        child = start(tmp_path, "new-folders", folder)
        wait_for(lambda n=seen: len(visible(folder)) > n, child)
        kill(child, rng)
        tally.add("kills")
        if files.temp_entries(folder):
            tally.add("kills that left a temporary entry (cleaned by the next write)")
        paths = visible(folder)
        for p in paths[seen:]:
            tally.add("checkpoints that load" if loads(p) else "broken files", p)
        seen = len(paths)
    last = load_network(visible(folder)[-1])
    save_network(last, folder / "after", unique=True)  # the next write to the folder cleans the dead writers' entries
    for name in files.temp_entries(folder):
        tally.add("leftovers", name)
    tally.report()
    return tally


def kill_replaced(tmp_path, kills, seed=0):
    rng, tally = np.random.default_rng(seed), Tally("kill -9 during in-place replacement ({'File', path})")
    path = tmp_path / "latest"
    for _ in range(kills):
        child = start(tmp_path, "replace", path)
        wait_for(lambda: path.exists(), child)
        kill(child, rng)
        tally.add("kills")
        if files.temp_entries(tmp_path):
            tally.add("kills that left a temporary entry (cleaned by the next write)")
        tally.add("path loads" if path.is_dir() and loads(path) else "broken files", str(path))
    save_network(load_network(path), tmp_path / "after")
    for name in files.temp_entries(tmp_path):
        tally.add("leftovers", name)
    tally.report()
    return tally


def test_two_kills_during_checkpoint_writes(tmp_path):
    tally = kill_new_folders(tmp_path, 2)
    assert tally.counts["kills"] == 2 and "broken files" not in tally.counts and "leftovers" not in tally.counts


def test_a_kill_during_an_in_place_replacement(tmp_path):
    tally = kill_replaced(tmp_path, 1)
    assert tally.counts["kills"] == tally.counts["path loads"] == 1 and "leftovers" not in tally.counts


@pytest.mark.reliability
def test_twenty_five_kills_during_checkpoint_writes(tmp_path):
    tally = kill_new_folders(tmp_path, 25, seed=1)
    assert tally.counts["kills"] == 25 and "broken files" not in tally.counts and "leftovers" not in tally.counts


@pytest.mark.reliability
def test_twenty_kills_during_in_place_replacements(tmp_path):
    tally = kill_replaced(tmp_path, 20, seed=2)
    assert tally.counts["kills"] == tally.counts["path loads"] == 20 and "leftovers" not in tally.counts


def test_the_next_write_removes_only_the_entries_of_dead_writers(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f".minidl.{dead.pid}.ck.abc123.tmp").mkdir()            # a killed writer's folder
    (tmp_path / f".minidl.{dead.pid}.log.json.xyz.tmp").write_text("x")  # and its file
    (tmp_path / f".minidl.{os.getpid()}.mine.q.tmp").mkdir()             # a live writer's (this process)
    (tmp_path / ".someone-else.tmp").write_text("not minidl's naming")
    files.atomic_write_text(tmp_path / "log.json", "{}")
    assert sorted(os.listdir(tmp_path)) == [f".minidl.{os.getpid()}.mine.q.tmp", ".someone-else.tmp", "log.json"]


@pytest.mark.parametrize("exchange", [True, False])
def test_an_in_place_replacement_leaves_only_the_new_folder(tmp_path, monkeypatch, exchange):
    if not exchange:  # a system without renameat2: the old folder is moved aside, then removed
        monkeypatch.setattr(files, "_exchange", lambda a, b: False)
    def fill(k):
        def write(d):
            with open(os.path.join(d, "v"), "w") as f:
                f.write(str(k))
        return write

    for k in range(3):
        files.replace_folder(tmp_path / "latest", fill(k))
    assert os.listdir(tmp_path) == ["latest"] and (tmp_path / "latest" / "v").read_text() == "2"
