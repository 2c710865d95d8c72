"""Data files that would exhaust memory or lead outside data/ (issue 13, case 8).

Real files in a temporary data directory: a gzip that unpacks far beyond its header,
a 40 GB sparse file, headers declaring absurd or overflowing dimensions, symbolic links
out of the data directory. Each is refused with a message naming the file, before its
contents are read (peak memory measured with tracemalloc).
"""

from __future__ import annotations

import gzip
import os
import tarfile
import tracemalloc
import zlib

import numpy as np
import pytest

from noisealign.engine.pipeline import dataset_files as datafiles
from tests.pipeline.test_datafiles import cifar_batches, write_cifar, write_idx_set

MB = 1 << 20


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv(datafiles.DATA_DIR_ENV, str(root))
    datafiles.set_data_dir(None)
    datafiles.clear_cache()
    yield root
    datafiles.set_data_dir(None)
    datafiles.clear_cache()


def refused(match: str) -> tuple[str, int]:
    """(message, peak bytes allocated) of loading MNIST, which must raise ValueError."""
    datafiles.clear_cache()
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=match) as info:
            datafiles.load_pools("mnist")
        return str(info.value), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def header(magic: int, *dims: int) -> bytes:
    return magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)


def test_gzip_unpacking_beyond_its_header_is_cut_at_the_declared_size(data_root):
    folder = data_root / "mnist"
    write_idx_set(folder, n_train=60)
    # A valid header for 60 images, then 512 MB of zeros: about 0.5 MB on disk.
    z = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip framing
    chunks = [z.compress(header(2051, 60, 28, 28) + bytes(60 * 784))]
    block = bytes(MB)
    chunks += [z.compress(block) for _ in range(512)]
    chunks.append(z.flush())
    bomb = folder / "train-images-idx3-ubyte.gz"
    bomb.write_bytes(b"".join(chunks))
    assert bomb.stat().st_size < 3 * MB
    message, peak = refused("has trailing bytes")
    assert str(bomb) in message
    assert peak < 20 * MB, f"{peak / MB:.0f} MB allocated"


def test_huge_sparse_file_is_refused_by_its_size_before_reading(data_root):
    folder = data_root / "mnist"
    write_idx_set(folder, gz=False)
    sparse = folder / "train-images-idx3-ubyte"
    with open(sparse, "r+b") as f:
        f.truncate(40 << 30)  # 40 GB of holes after a valid header
    message, peak = refused("has trailing bytes")
    assert str(sparse) in message and "42949672944 bytes" in message
    assert peak < 5 * MB

    # CIFAR-10 batches too
    write_cifar(data_root / "cifar10", "subdir", cifar_batches())
    batch = data_root / "cifar10" / "cifar-10-batches-bin" / "data_batch_3.bin"
    with open(batch, "r+b") as f:
        f.truncate(40 << 30)
    with pytest.raises(ValueError, match="over the 30730000 of a full CIFAR-10 batch") as info:
        datafiles.load_pools("cifar10")
    assert str(batch) in str(info.value)


@pytest.mark.parametrize("dims, match", [
    ((4_000_000_000, 28, 28), "declares 4000000000 images, over the 60000"),
    ((2**32 - 1, 2**32 - 1, 2**32 - 1), "images are 4294967295x4294967295, expected 28x28"),
    ((2**31, 28, 28), "declares 2147483648 images"),
])
def test_absurd_or_overflowing_dimensions_name_the_file(data_root, dims, match):
    folder = data_root / "mnist"
    write_idx_set(folder)
    bad = folder / "train-images-idx3-ubyte.gz"
    bad.write_bytes(gzip.compress(header(2051, *dims) + bytes(1000)))
    message, peak = refused(match)
    assert str(bad) in message and peak < 5 * MB
    # the same header given as bytes
    with pytest.raises(ValueError, match=match):
        datafiles.parse_idx(header(2051, *dims) + bytes(10), kind="images", source="f.idx")


def test_labels_declaring_more_than_the_official_file_are_refused(data_root):
    folder = data_root / "mnist"
    write_idx_set(folder)
    bad = folder / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(gzip.compress(header(2049, 2**32 - 1) + bytes(100)))
    message, _ = refused("declares 4294967295 labels")
    assert str(bad) in message


def test_archive_member_larger_than_a_batch_is_refused_before_unpacking(data_root):
    folder = data_root / "cifar10"
    folder.mkdir()
    info = tarfile.TarInfo("cifar-10-batches-bin/junk.bin")
    info.size = 6 << 30  # declared 6 GB; only the header and a little data follow
    archive = folder / datafiles.CIFAR_ARCHIVE
    archive.write_bytes(gzip.compress(info.tobuf() + bytes(4096)))
    with pytest.raises(ValueError, match=r"member 'cifar-10-batches-bin/junk.bin' is "
                                         r"6442450944 bytes") as e:
        datafiles.load_pools("cifar10")
    assert str(archive) in str(e.value)


def test_symlinks_out_of_the_data_directory_are_refused(data_root, tmp_path):
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_bytes(b"root:x:0:0:the first bytes of a file nobody should see")
    folder = data_root / "mnist"
    write_idx_set(folder)
    link = folder / "train-images-idx3-ubyte.gz"
    link.unlink()
    link.symlink_to(secret)
    message, _ = refused("outside the data directory")
    assert str(link) in message and str(secret) in message
    assert "root:x" not in message and str(int.from_bytes(b"root", "big")) not in message
    link.unlink()
    link.symlink_to("/dev/zero")
    message, _ = refused("outside the data directory")

    # A dataset folder that is itself a link out of data/
    elsewhere = tmp_path / "outside" / "mnist"
    write_idx_set(elsewhere)
    os.rename(folder, tmp_path / "moved")
    folder.symlink_to(elsewhere, target_is_directory=True)
    refused("outside the data directory")

    # A link that stays inside data/ is fine
    folder.unlink()
    write_idx_set(data_root / "shared")
    folder.mkdir()
    for f in (data_root / "shared").iterdir():
        (folder / f.name).symlink_to(f)
    xtr, _ytr, _xte, yte = datafiles.load_pools("mnist")
    assert xtr.shape == (60, 784) and len(yte) == 20


def test_files_still_parse_after_the_checks(data_root):
    """The bounded reader gives the same arrays as before, gzipped or not."""
    for gz in (True, False):
        folder = data_root / "mnist"
        raw = write_idx_set(folder, seed=3, gz=gz)
        datafiles.clear_cache()
        xtr, ytr, _, _ = datafiles.load_pools("mnist")
        np.testing.assert_array_equal(ytr, raw["ytr"])
        np.testing.assert_allclose(xtr, raw["xtr"].reshape(60, -1) / 255.0, rtol=1e-6)
        for f in folder.iterdir():
            f.unlink()
