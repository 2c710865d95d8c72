"""MNIST / Fashion-MNIST / CIFAR-10 from their distribution files (noisealign.engine.pipeline.dataset_files).

Every test writes small files in the exact official formats (IDX gzip with real headers,
CIFAR-10 binary records, the binary tar.gz) into a temporary data directory; nothing
needs the network. Downloads are tested against a local HTTP server on 127.0.0.1 and
against a closed local port.
"""

from __future__ import annotations

import ast
import functools
import gzip
import hashlib
import http.server
import io
import os
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from noisealign.engine import ExperimentSpec, run_experiment
from noisealign.engine.cli.commands import main as cli_main
from noisealign.engine.pipeline import dataset_files as datafiles
from noisealign.engine.pipeline.dataset_files import DataNotFoundError, Source
from noisealign.engine.pipeline.datasets import load_data

REPO = Path(__file__).resolve().parents[2]
CLOSED_PORT_URL = "http://127.0.0.1:9/"  # discard port: nothing listens, refused at once

# ----------------------------------------------------------------------------- writers


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big")
                                                 for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def make_mnist_like(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return (rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8),
            rng.integers(0, 10, size=n, dtype=np.uint8))


def write_idx_set(folder: Path, seed: int = 0, n_train: int = 60, n_test: int = 20,
                  gz: bool = True, names: dict[str, str] | None = None) -> dict:
    """Write the four IDX files; returns the raw arrays written."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    xtr, ytr = make_mnist_like(rng, n_train)
    xte, yte = make_mnist_like(rng, n_test)
    content = {
        "train-images-idx3-ubyte": idx_bytes(xtr, 2051),
        "train-labels-idx1-ubyte": idx_bytes(ytr, 2049),
        "t10k-images-idx3-ubyte": idx_bytes(xte, 2051),
        "t10k-labels-idx1-ubyte": idx_bytes(yte, 2049),
    }
    for base, data in content.items():
        name = (names or {}).get(base, base + (".gz" if gz else ""))
        (folder / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return {"xtr": xtr, "ytr": ytr, "xte": xte, "yte": yte}


def cifar_records(rng: np.random.Generator, n: int) -> tuple[bytes, np.ndarray, np.ndarray]:
    x = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    y = rng.integers(0, 10, size=n, dtype=np.uint8)
    return np.concatenate([y[:, None], x], axis=1).tobytes(), x, y


def cifar_batches(seed: int = 0, per_batch: int = 4, n_test: int = 12) -> dict:
    rng = np.random.default_rng(seed)
    out = {}
    for i in range(1, 6):
        out[f"data_batch_{i}.bin"] = cifar_records(rng, per_batch)
    out["test_batch.bin"] = cifar_records(rng, n_test)
    return out


def write_cifar(folder: Path, layout: str, batches: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if layout == "archive":
        with tarfile.open(folder / "cifar-10-binary.tar.gz", "w:gz") as tar:
            for name in ["batches.meta.txt", *batches]:
                data = b"airplane\n" if name.endswith(".txt") else batches[name][0]
                info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return
    where = folder / "cifar-10-batches-bin" if layout == "subdir" else folder
    where.mkdir(parents=True, exist_ok=True)
    for name, (data, _, _) in batches.items():
        (where / name).write_bytes(data)


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    """An empty data directory selected through the environment variable."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv(datafiles.DATA_DIR_ENV, str(root))
    datafiles.set_data_dir(None)
    datafiles.clear_cache()
    yield root
    datafiles.set_data_dir(None)
    datafiles.clear_cache()


# ----------------------------------------------------------------------------- data dir


def test_data_dir_env_default_and_setter(tmp_path, monkeypatch):
    monkeypatch.delenv(datafiles.DATA_DIR_ENV, raising=False)
    datafiles.set_data_dir(None)
    assert datafiles.data_dir() == REPO / "data"
    monkeypatch.setenv(datafiles.DATA_DIR_ENV, str(tmp_path / "env"))
    assert datafiles.data_dir() == (tmp_path / "env").resolve()
    try:
        datafiles.set_data_dir(tmp_path / "dash")  # the dashboard's setting wins
        assert datafiles.data_dir() == (tmp_path / "dash").resolve()
    finally:
        datafiles.set_data_dir(None)
    assert datafiles.data_dir() == (tmp_path / "env").resolve()


# ----------------------------------------------------------------------------- parsing


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_idx_gzip_parses_to_unit_floats_and_labels(data_root, name):
    raw = write_idx_set(data_root / name, seed=1)
    xtr, ytr, xte, yte = datafiles.load_pools(name)
    assert xtr.shape == (60, 784) and xte.shape == (20, 784)
    assert xtr.dtype == np.float32 and ytr.dtype == np.int64
    np.testing.assert_array_equal(xtr, raw["xtr"].reshape(60, 784).astype(np.float32) / 255)
    np.testing.assert_array_equal(xte[3], raw["xte"][3].ravel().astype(np.float32) / 255)
    np.testing.assert_array_equal(ytr, raw["ytr"])
    np.testing.assert_array_equal(yte, raw["yte"])
    assert 0.0 <= xtr.min() and xtr.max() <= 1.0


def test_uncompressed_and_dotted_idx_names_are_accepted(data_root):
    raw = write_idx_set(data_root / "mnist", gz=False, names={
        "train-images-idx3-ubyte": "train-images.idx3-ubyte",  # as some unzip tools name it
    })
    xtr, _ytr, xte, _ = datafiles.load_pools("mnist")
    np.testing.assert_array_equal(xtr[0], raw["xtr"][0].ravel() / np.float32(255))
    assert xte.shape == (20, 784)


@pytest.mark.parametrize("layout", ["subdir", "flat", "archive"])
def test_cifar_binary_layouts(data_root, layout):
    batches = cifar_batches(seed=2)
    write_cifar(data_root / "cifar10", layout, batches)
    xtr, ytr, xte, yte = datafiles.load_pools("cifar10")
    assert xtr.shape == (20, 3072) and xte.shape == (12, 3072) and xtr.dtype == np.float32
    # the train pool is batches 1..5 in order, pixels as stored (R, G, B planes)
    want_x = np.concatenate([batches[f"data_batch_{i}.bin"][1] for i in range(1, 6)])
    want_y = np.concatenate([batches[f"data_batch_{i}.bin"][2] for i in range(1, 6)])
    np.testing.assert_array_equal(xtr, want_x / np.float32(255))
    np.testing.assert_array_equal(ytr, want_y)
    np.testing.assert_array_equal(yte, batches["test_batch.bin"][2])
    if layout == "archive":  # read in memory, nothing extracted
        assert sorted(p.name for p in (data_root / "cifar10").iterdir()) == [
            "cifar-10-binary.tar.gz"]


def test_pools_are_cached_read_only_and_reloaded_when_files_change(data_root):
    write_idx_set(data_root / "mnist", seed=3)
    first = datafiles.load_pools("mnist")
    assert datafiles.load_pools("mnist")[0] is first[0]  # not parsed again
    with pytest.raises(ValueError):
        first[0][0, 0] = 1.0  # shared cache arrays cannot be corrupted by a caller
    raw = write_idx_set(data_root / "mnist", seed=4, n_train=30)
    os.utime(data_root / "mnist" / "train-images-idx3-ubyte.gz", ns=(1, 1))  # new mtime
    again = datafiles.load_pools("mnist")
    assert again[0].shape == (30, 784)
    np.testing.assert_array_equal(again[1], raw["ytr"])


def test_setter_overrides_env_and_is_cached_per_directory(data_root, tmp_path):
    write_idx_set(data_root / "mnist", seed=5, n_train=40)
    other = tmp_path / "other"
    write_idx_set(other / "mnist", seed=6, n_train=50)
    assert datafiles.load_pools("mnist")[0].shape[0] == 40
    datafiles.set_data_dir(other)
    assert datafiles.load_pools("mnist")[0].shape[0] == 50
    assert datafiles.load_pools("mnist", data_root)[0].shape[0] == 40  # explicit argument


# ----------------------------------------------------------------------------- engine use


def test_spec_on_mnist_files_loads_and_trains(data_root):
    write_idx_set(data_root / "mnist", seed=7)
    spec = ExperimentSpec(dataset="mnist", n_train=20, n_probe=10, width=8,
                          ensemble_size=2, max_epochs=5, noise="label", label_noise=0.2,
                          device="cpu")
    data = load_data(spec)
    assert data.x_train.shape == (20, 784) and data.x_probe.shape == (10, 784)
    assert data.n_classes == 10 and data.y_train.dtype == np.int64
    result = run_experiment(spec)
    assert result.hidden[0].shape == (2, 10, 8)
    assert result.output.shape == (2, 10, 10)
    assert np.all(np.isfinite(result.train_loss))


def test_spec_on_cifar_archive_loads(data_root):
    write_cifar(data_root / "cifar10", "archive", cifar_batches(seed=8))
    spec = ExperimentSpec(dataset="cifar10", n_train=12, n_probe=10, noise="none",
                          device="cpu")
    data = load_data(spec)
    assert data.x_train.shape == (12, 3072) and data.x_probe.shape == (10, 3072)


def test_spec_asking_more_points_than_the_files_hold_is_a_clear_error(data_root):
    write_idx_set(data_root / "fashion-mnist", seed=9)  # 60 train, 20 test
    spec = ExperimentSpec(dataset="fashion-mnist", n_train=100, n_probe=10, noise="none")
    with pytest.raises(ValueError, match=r"n_train=100 exceeds the 60 training points in "
                                         r"the files of 'fashion-mnist'"):
        load_data(spec)
    spec = ExperimentSpec(dataset="fashion-mnist", n_train=20, n_probe=30, noise="none")
    with pytest.raises(ValueError, match=r"n_probe=30 exceeds the 20 held-out points"):
        load_data(spec)


# ----------------------------------------------------------------------------- errors


def test_missing_mnist_files_name_the_folder_and_the_source(data_root):
    with pytest.raises(DataNotFoundError) as info:
        datafiles.load_pools("mnist")
    msg = str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, FileNotFoundError)
    assert str(data_root / "mnist") in msg
    for f in datafiles.IDX_FILES.values():
        assert f in msg
    assert "python -m engine download mnist" in msg
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz" in msg


def test_partially_missing_files_are_listed(data_root):
    write_idx_set(data_root / "mnist")
    (data_root / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataNotFoundError, match=r"missing: t10k-labels-idx1-ubyte.gz \("):
        datafiles.load_pools("mnist")


def test_missing_files_reach_the_user_through_load_data(data_root):
    spec = ExperimentSpec(dataset="cifar10", n_train=20, n_probe=10, noise="none")
    with pytest.raises(ValueError) as info:
        load_data(spec)
    msg = str(info.value)
    assert str(data_root / "cifar10" / "cifar-10-batches-bin") in msg
    assert "data_batch_1.bin" in msg and "cifar-10-binary.tar.gz" in msg
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz" in msg


def test_pickled_cifar_version_is_never_read(data_root):
    py = data_root / "cifar10" / "cifar-10-batches-py"
    py.mkdir(parents=True)
    for name in ("data_batch_1", "test_batch"):
        (py / name).write_bytes(b"\x80\x04not read")
    with pytest.raises(DataNotFoundError, match="pickled python version is not read"):
        datafiles.load_pools("cifar10")
    tree = ast.parse((REPO / "engine" / "pipeline" / "dataset_files.py").read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not {"pickle", "cPickle", "_pickle", "dill", "joblib"} & imported


def test_wrong_magic_number_is_named(data_root):
    write_idx_set(data_root / "mnist")
    labels = data_root / "mnist" / "train-labels-idx1-ubyte.gz"
    (data_root / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(labels.read_bytes())
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.gz: bad magic number 2049, "
                                         r"expected 2051 for an IDX image file"):
        datafiles.load_pools("mnist")


def test_truncated_idx_payload_is_reported(data_root):
    write_idx_set(data_root / "mnist", gz=False)
    f = data_root / "mnist" / "t10k-images-idx3-ubyte"
    f.write_bytes(f.read_bytes()[:-100])
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte: payload is 15580 bytes but "
                                         r"the header's dimensions 20x28x28 need 15680: "
                                         r"file truncated"):
        datafiles.load_pools("mnist")


def test_truncated_gzip_is_reported(data_root):
    write_idx_set(data_root / "mnist")
    f = data_root / "mnist" / "train-images-idx3-ubyte.gz"
    f.write_bytes(f.read_bytes()[:200])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.gz is a truncated or "
                                         r"corrupt gzip file"):
        datafiles.load_pools("mnist")


def test_images_and_labels_counts_must_agree(data_root):
    write_idx_set(data_root / "mnist")
    rng = np.random.default_rng(0)
    (data_root / "mnist" / "train-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(rng.integers(0, 10, 59, dtype=np.uint8), 2049)))
    with pytest.raises(ValueError, match="holds 60 images but .* holds 59 labels"):
        datafiles.load_pools("mnist")


def test_truncated_cifar_batch_is_reported(data_root):
    batches = cifar_batches()
    write_cifar(data_root / "cifar10", "subdir", batches)
    f = data_root / "cifar10" / "cifar-10-batches-bin" / "data_batch_3.bin"
    f.write_bytes(f.read_bytes()[:-10])
    with pytest.raises(ValueError, match=r"data_batch_3.bin: 12282 bytes is not a whole number "
                                         r"of 3073-byte CIFAR-10 records"):
        datafiles.load_pools("cifar10")


def test_cifar_label_out_of_range_is_reported(data_root):
    batches = cifar_batches()
    data = bytearray(batches["test_batch.bin"][0])
    data[3073] = 200  # label byte of the second record
    batches["test_batch.bin"] = (bytes(data), None, None)
    write_cifar(data_root / "cifar10", "subdir", batches)
    with pytest.raises(ValueError, match=r"test_batch.bin: label 200 found, expected 0 to 9"):
        datafiles.load_pools("cifar10")


def test_truncated_cifar_archive_is_reported(data_root):
    write_cifar(data_root / "cifar10", "archive", cifar_batches())
    f = data_root / "cifar10" / "cifar-10-binary.tar.gz"
    f.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 2])
    with pytest.raises(ValueError, match=r"cifar-10-binary.tar.gz is a truncated or corrupt"):
        datafiles.load_pools("cifar10")


def test_unknown_name_is_rejected():
    with pytest.raises(ValueError, match=r"dataset='svhn' is invalid .* allowed mnist, "
                                         r"fashion-mnist, cifar10"):
        datafiles.load_pools("svhn")


# ----------------------------------------------------------------------------- download


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def http_dir(tmp_path):
    """A folder served over HTTP on 127.0.0.1; yields (folder, base_url)."""
    served = tmp_path / "served"
    served.mkdir()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _files_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


def test_download_offline_fails_cleanly(data_root, monkeypatch, capsys):
    # the official sources, pointed at a closed local port (no DNS, no network needed)
    monkeypatch.setitem(datafiles.SOURCES, "mnist", Source(
        (CLOSED_PORT_URL,), datafiles.SOURCES["mnist"].md5, "https://example.invalid"))
    assert cli_main(["download", "mnist", "--timeout", "5"]) == 1
    err = capsys.readouterr().err
    assert "error: could not download train-images-idx3-ubyte.gz" in err
    assert "http://127.0.0.1:9/train-images-idx3-ubyte.gz" in err
    assert f"put them in {data_root / 'mnist'}" in err
    assert list(data_root.iterdir()) == []


def test_download_command_offline_in_a_subprocess_has_no_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "engine", "download", "cifar10", "--data-dir", str(tmp_path),
         "--mirror", CLOSED_PORT_URL, "--timeout", "5"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "could not download cifar-10-binary.tar.gz" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_checksum_mismatch_keeps_no_file(data_root, http_dir, capsys):
    served, url = http_dir
    write_idx_set(served)  # right names, but not the official contents
    assert cli_main(["download", "fashion-mnist", "--mirror", url, "--timeout", "5"]) == 1
    err = capsys.readouterr().err
    assert "checksum mismatch" in err and "the file was discarded" in err
    assert list(data_root.iterdir()) == []  # no partial or temp file, no empty folder


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_download_verifies_and_installs_idx_files(data_root, http_dir, monkeypatch, capsys):
    served, url = http_dir
    raw = write_idx_set(served, seed=11)
    md5 = {f: _md5(served / f) for f in datafiles.IDX_FILES.values()}
    monkeypatch.setitem(datafiles.SOURCES, "mnist", Source((url,), md5, "local test"))
    assert cli_main(["download", "mnist"]) == 0
    assert _files_under(data_root / "mnist") == sorted(md5)
    np.testing.assert_array_equal(datafiles.load_pools("mnist")[1], raw["ytr"])
    # present and valid: a second run needs no network
    monkeypatch.setitem(datafiles.SOURCES, "mnist", Source((CLOSED_PORT_URL,), md5, "x"))
    assert cli_main(["download", "mnist"]) == 0
    assert "already present and valid" in capsys.readouterr().err


def test_download_cifar_extracts_only_the_batches(data_root, http_dir, monkeypatch):
    served, url = http_dir
    batches = cifar_batches(seed=12)
    write_cifar(served, "archive", batches)
    # a hostile member path must not be written outside the data folder
    archive = served / "cifar-10-binary.tar.gz"
    with tarfile.open(archive, "r:gz") as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar]
    with tarfile.open(archive, "w:gz") as tar:
        evil = tarfile.TarInfo("../../escaped.bin")
        evil.size = 3
        tar.addfile(evil, io.BytesIO(b"bad"))
        for m, data in members:
            tar.addfile(m, io.BytesIO(data))
    monkeypatch.setitem(datafiles.SOURCES, "cifar10", Source(
        (url,), {"cifar-10-binary.tar.gz": _md5(archive)}, "local test"))
    folder = datafiles.download("cifar10", log=lambda m: None)
    assert folder == data_root / "cifar10"
    assert _files_under(data_root) == sorted(
        f"cifar10/cifar-10-batches-bin/{n}" for n in batches)  # archive removed after use
    assert not (data_root.parent / "escaped.bin").exists()
    np.testing.assert_array_equal(datafiles.load_pools("cifar10")[3],
                                  batches["test_batch.bin"][2])
