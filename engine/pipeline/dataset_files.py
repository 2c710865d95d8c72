"""MNIST, Fashion-MNIST and CIFAR-10 from their standard distribution files.

The files live in the *data directory*: :func:`set_data_dir` (the dashboard's setting),
else the environment variable ``NOISEALIGN_DATA_DIR``, else ``<repo>/data``::

    <data_dir>/mnist/          train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz
    <data_dir>/fashion-mnist/  t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz
    <data_dir>/cifar10/cifar-10-batches-bin/   data_batch_1.bin ... data_batch_5.bin
                                               test_batch.bin

IDX files may also be un-gzipped (``train-images-idx3-ubyte`` or the
``train-images.idx3-ubyte`` name some unzip tools produce); the CIFAR-10 ``.bin`` files
may also sit directly in ``<data_dir>/cifar10/``, or stay inside the official archive
``<data_dir>/cifar10/cifar-10-binary.tar.gz``, whose members are read without
extracting anything. Only the *binary* CIFAR-10 version is read: the pickled python
version is never touched (unpickling a downloaded file can run arbitrary code).

``python -m engine download mnist|fashion-mnist|cifar10|all`` fetches the official files
and verifies their published MD5 checksums (see :data:`SOURCES`).

Pools are what :mod:`noisealign.engine.pipeline.datasets` samples from: the official training files are the
train pool and the official test files the probe pool. Files holding fewer images than the
official ones (e.g. small test fixtures in the same format) are accepted; the spec is
validated against the official sizes and :func:`noisealign.engine.pipeline.datasets.load_data` reports when
the files hold fewer points than a spec asks for.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import math
import os
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..base.paths import default_data_root

DATA_DIR_ENV = "NOISEALIGN_DATA_DIR"
DEFAULT_DATA_DIR = default_data_root()  # data/ in a checkout, else per user (noisealign.engine.base.paths)
_override: Path | None = None

FILE_DATASETS = ("mnist", "fashion-mnist", "cifar10")

# Official pool sizes (train files, test files): what the spec validates against.
OFFICIAL_SIZES = {"mnist": (60000, 10000), "fashion-mnist": (60000, 10000),
                  "cifar10": (50000, 10000)}

IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC = 2051, 2049
MNIST_SIDE = 28
CIFAR_PIXELS = 3 * 32 * 32  # R plane, G plane, B plane, each 32x32 row-major
CIFAR_RECORD = 1 + CIFAR_PIXELS
CIFAR_TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR_TEST_FILES = ("test_batch.bin",)
CIFAR_SUBDIR = "cifar-10-batches-bin"
CIFAR_ARCHIVE = "cifar-10-binary.tar.gz"
N_CLASSES = 10

# The most a file may declare or hold: the official files' sizes (60000 / 10000 images
# per IDX file, 10000 records per CIFAR-10 batch). A header declaring more, or a gzip
# that unpacks beyond its header's dimensions, is refused before it is read, so a
# crafted 27 MB gzip (6 GB unpacked) or a 40 GB sparse file never reaches memory.
MAX_IDX_ITEMS = 60000
MAX_CIFAR_RECORDS = 10000
# The official CIFAR-10 tar holds 6 batches and two small text files (~184 MB).
MAX_CIFAR_MEMBER = MAX_CIFAR_RECORDS * CIFAR_RECORD
MAX_CIFAR_MEMBERS = 100

IDX_FILES = {  # role -> official file name (gzipped)
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


@dataclass(frozen=True)
class Source:
    """Where a dataset's files come from: base URLs tried in order, and file -> MD5.

    The dataset authors publish MD5 sums only (no SHA-256), so MD5 is what we verify;
    it guards against truncated or substituted downloads, the realistic failure here.
    """

    mirrors: tuple[str, ...]
    md5: dict[str, str]
    homepage: str


SOURCES: dict[str, Source] = {
    # The mirror torchvision uses: yann.lecun.com now answers 403 to most clients.
    "mnist": Source(
        ("https://ossci-datasets.s3.amazonaws.com/mnist/",),
        {"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
         "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
         "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
         "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"},
        "http://yann.lecun.com/exdb/mnist/"),
    # The files in Zalando's own repository over HTTPS first; their S3 website endpoint
    # (HTTP only) as the fallback. The MD5 check covers both.
    "fashion-mnist": Source(
        ("https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
         "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
        {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
         "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
         "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
         "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"},
        "https://github.com/zalandoresearch/fashion-mnist"),
    "cifar10": Source(
        ("https://www.cs.toronto.edu/~kriz/",),
        {CIFAR_ARCHIVE: "c32a1d4ab5d03f1284b67883e8d87530"},
        "https://www.cs.toronto.edu/~kriz/cifar.html"),
}


class DataNotFoundError(FileNotFoundError, ValueError):
    """A dataset's files are not in the data directory (message says where to put them).

    Also a ValueError, so callers that show ValueErrors to the user (the CLI, the
    dashboard) show this one too.
    """


class DownloadError(RuntimeError):
    """A download failed (network, HTTP error or checksum mismatch); nothing was kept."""


# ----------------------------------------------------------------------------- data dir


def data_dir() -> Path:
    """The data directory: :func:`set_data_dir`'s value, else $NOISEALIGN_DATA_DIR, else
    ``<repo>/data``. Always absolute."""
    if _override is not None:
        return _override
    env = os.environ.get(DATA_DIR_ENV, "").strip()
    return (Path(env).expanduser() if env else DEFAULT_DATA_DIR).resolve()


def set_data_dir(path: str | os.PathLike | None) -> None:
    """Override the data directory for this process (``None`` restores the default).

    The parsed-array cache is keyed by directory, so switching back and forth is cheap.
    """
    global _override
    _override = None if path is None else Path(path).expanduser().resolve()


def _check_name(name: str) -> str:
    if name not in FILE_DATASETS:
        raise ValueError(f"dataset={name!r} is invalid for the data files: allowed "
                         f"{', '.join(FILE_DATASETS)}")
    return name


def dataset_folder(name: str, directory: str | os.PathLike | None = None) -> Path:
    """The folder where ``name``'s files belong: ``<data_dir>/<name>``."""
    base = data_dir() if directory is None else Path(directory).expanduser().resolve()
    return base / _check_name(name)


# ----------------------------------------------------------------------------- locating


@dataclass(frozen=True)
class DataFiles:
    """The files found for one dataset.

    ``paths`` maps a role (``train_images``..., or a CIFAR batch name) to its file;
    for CIFAR-10 read from the archive, ``archive`` is set and ``paths`` is empty.
    """

    name: str
    folder: Path
    paths: dict[str, Path]
    archive: Path | None = None

    def signature(self) -> tuple:
        """(path, size, mtime) of every file: part of the cache key, so replacing a
        file in place is noticed."""
        files = [self.archive] if self.archive is not None else list(self.paths.values())
        out = []
        for p in files:
            st = p.stat()
            out.append((str(p), st.st_size, st.st_mtime_ns))
        return tuple(out)


def _idx_candidates(gz_name: str) -> list[str]:
    raw = gz_name[:-3]
    # 'train-images.idx3-ubyte' is what some unzip tools and the old LeCun page produce.
    return [gz_name, raw, raw.replace("-idx", ".idx", 1)]


def _download_hint(name: str, base: Path) -> str:
    src = SOURCES[name]
    urls = [src.mirrors[0] + f for f in src.md5]
    opt = "" if base == DEFAULT_DATA_DIR else f" --data-dir {base}"
    return (f"They come from {src.homepage} (official files: {', '.join(urls)}). "
            f"Download them with:  python -m engine download {name}{opt}")


def find_files(name: str, directory: str | os.PathLike | None = None) -> DataFiles:
    """Locate ``name``'s files, or raise :class:`DataNotFoundError` saying what is missing,
    the exact folder to put it in, and where it comes from."""
    folder = dataset_folder(name, directory)
    if name == "cifar10":
        return _find_cifar(folder)
    paths, missing = {}, []
    for role, gz_name in IDX_FILES.items():
        found = next((folder / c for c in _idx_candidates(gz_name)
                      if _present(folder / c, folder.parent)), None)
        if found is None:
            missing.append(gz_name)
        else:
            paths[role] = found
    if missing:
        raise DataNotFoundError(
            f"{name!r} needs its IDX files in the folder {folder} ; missing: "
            f"{', '.join(missing)} (gzipped or not). " + _download_hint(name, folder.parent))
    return DataFiles(name, folder, paths)


def _inside(path: Path, base: Path) -> Path:
    """``path`` with its symlinks resolved, if that stays inside the data directory
    ``base`` (already resolved); else ValueError naming both.

    A link out of data/ would make the dashboard read (and echo parts of) any file the
    server can read: /etc/shadow, /dev/zero, another user's files.
    """
    real = path.resolve()
    if real != path and not real.is_relative_to(base):
        raise ValueError(f"{path} leads through a symbolic link to {real}, outside the data "
                         f"directory {base}: refused (copy the file into {path.parent} "
                         "instead)")
    return path


def _present(path: Path, base: Path) -> bool:
    """Whether ``path`` is a regular file (after :func:`_inside`'s check of links)."""
    _inside(path, base)
    return path.is_file()


def _find_cifar(folder: Path) -> DataFiles:
    wanted = CIFAR_TRAIN_FILES + CIFAR_TEST_FILES
    for where in (folder / CIFAR_SUBDIR, folder):
        paths = {f: where / f for f in wanted if _present(where / f, folder.parent)}
        if len(paths) == len(wanted):
            return DataFiles("cifar10", folder, paths)
    archive = folder / CIFAR_ARCHIVE
    if _present(archive, folder.parent):
        return DataFiles("cifar10", folder, {}, archive)
    sub = folder / CIFAR_SUBDIR
    have = [f for f in wanted if (sub / f).is_file()] or [f for f in wanted
                                                           if (folder / f).is_file()]
    missing = [f for f in wanted if f not in have]
    raise DataNotFoundError(
        f"'cifar10' needs the binary version of CIFAR-10 in the folder {sub} ; missing: "
        f"{', '.join(missing)} (alternatively put the archive {CIFAR_ARCHIVE} itself in "
        f"{folder} ; the pickled python version is not read). "
        + _download_hint("cifar10", folder.parent))


def is_available(name: str, directory: str | os.PathLike | None = None) -> bool:
    """Whether all of ``name``'s files are present (not whether they parse)."""
    try:
        find_files(name, directory)
        return True
    except ValueError:  # missing (DataNotFoundError), or a link out of the data directory
        return False


# ----------------------------------------------------------------------------- parsing


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _idx_header(magic: int, dims: tuple[int, ...], *, kind: str, source: str) -> int:
    """Check an IDX header's magic number and dimensions; the payload size it declares.

    Dimensions are multiplied as Python integers (numpy's int64 product wraps around for
    three dimensions near 2**32 and gives a wrong, even negative, size).
    """
    magic_wanted, _ndim = {"images": (IDX_IMAGES_MAGIC, 3), "labels": (IDX_LABELS_MAGIC, 1)}[kind]
    what = f"an IDX {'image' if kind == 'images' else 'label'} file"
    if magic != magic_wanted:
        raise ValueError(f"{source}: bad magic number {magic}, expected {magic_wanted} for "
                         f"{what}: wrong or corrupt file?")
    if kind == "images" and dims[1:] != (MNIST_SIDE, MNIST_SIDE):
        raise ValueError(f"{source}: images are {dims[1]}x{dims[2]}, expected "
                         f"{MNIST_SIDE}x{MNIST_SIDE}")
    if dims[0] > MAX_IDX_ITEMS:
        raise ValueError(f"{source}: the header declares {dims[0]} {kind}, over the "
                         f"{MAX_IDX_ITEMS} of the largest official file: wrong or corrupt "
                         f"file?")
    return math.prod(dims)


def _read_idx_file(path: Path, kind: str) -> np.ndarray:
    """An IDX file (gzipped or not) read no further than its header declares.

    The header is read first and checked; a plain file must then have exactly the
    declared size (checked before reading), a gzip is unpacked to at most the declared
    size plus one byte (so trailing data is noticed without unpacking it all).
    """
    ndim = 3 if kind == "images" else 1
    header_len = 4 + 4 * ndim
    source = str(path)
    try:
        gz = _is_gzip(path)
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as f:
            header = f.read(header_len)
            what = f"an IDX {'image' if kind == 'images' else 'label'} file"
            if len(header) < 4:
                raise ValueError(f"{source}: only {len(header)} bytes, too short for {what}: "
                                 f"file truncated?")
            if len(header) < header_len:
                magic = int.from_bytes(header[:4], "big")
                _idx_header(magic, (0,) * ndim if kind == "labels" else
                            (0, MNIST_SIDE, MNIST_SIDE), kind=kind, source=source)
                raise ValueError(f"{source}: header cut short ({len(header)} of {header_len} "
                                 f"bytes): file truncated?")
            magic = int.from_bytes(header[:4], "big")
            dims = tuple(int.from_bytes(header[4 + 4 * i: 8 + 4 * i], "big")
                         for i in range(ndim))
            need = _idx_header(magic, dims, kind=kind, source=source)
            shape = "x".join(map(str, dims))
            if not gz:
                payload = os.fstat(f.fileno()).st_size - header_len
                if payload != need:
                    raise ValueError(
                        f"{source}: payload is {payload} bytes but the header's dimensions "
                        f"{shape} need {need}: file "
                        f"{'truncated' if payload < need else 'has trailing bytes'}?")
            data = f.read(need + 1)
    except (OSError, EOFError, zlib.error) as e:
        if isinstance(e, FileNotFoundError) or not gz:
            raise
        raise ValueError(f"{path} is a truncated or corrupt gzip file ({e}): "
                         f"download it again") from None
    if len(data) != need:
        raise ValueError(
            f"{source}: payload is "
            f"{f'more than {need}' if len(data) > need else len(data)} bytes "
            f"but the header's dimensions {shape} need {need}: file "
            f"{'truncated' if len(data) < need else 'has trailing bytes'}?")
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def parse_idx(data: bytes, *, kind: str, source: str = "<bytes>") -> np.ndarray:
    """Parse an IDX file's bytes: ``kind='images'`` -> (n, rows, cols) uint8,
    ``kind='labels'`` -> (n,) uint8. Checks the magic number, dimensions and length."""
    ndim = {"images": 3, "labels": 1}[kind]
    what = f"an IDX {'image' if kind == 'images' else 'label'} file"
    if len(data) < 4:
        raise ValueError(f"{source}: only {len(data)} bytes, too short for {what}: "
                         f"file truncated?")
    magic = int.from_bytes(data[:4], "big")
    header = 4 + 4 * ndim
    if len(data) < header:
        _idx_header(magic, (0,) * ndim if kind == "labels" else (0, MNIST_SIDE, MNIST_SIDE),
                    kind=kind, source=source)
        raise ValueError(f"{source}: header cut short ({len(data)} of {header} bytes): "
                         f"file truncated?")
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    need = _idx_header(magic, dims, kind=kind, source=source)
    payload = len(data) - header
    if payload != need:
        shape = "x".join(map(str, dims))
        raise ValueError(f"{source}: payload is {payload} bytes but the header's dimensions "
                         f"{shape} need {need}: file "
                         f"{'truncated' if payload < need else 'has trailing bytes'}?")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _read_idx_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images = _read_idx_file(images_path, "images")
    labels = _read_idx_file(labels_path, "labels")
    if len(images) != len(labels):
        raise ValueError(f"{images_path} holds {len(images)} images but {labels_path} holds "
                         f"{len(labels)} labels: the files do not belong together")
    if len(images) == 0:
        raise ValueError(f"{images_path} holds no images")
    _check_labels(labels, str(labels_path))
    return images.reshape(len(images), -1), labels


def _check_labels(labels: np.ndarray, source: str) -> None:
    if labels.size and int(labels.max()) >= N_CLASSES:
        raise ValueError(f"{source}: label {int(labels.max())} found, expected 0 to "
                         f"{N_CLASSES - 1}: wrong or corrupt file?")


def parse_cifar_batch(data: bytes, *, source: str = "<bytes>") -> tuple[np.ndarray, np.ndarray]:
    """Parse CIFAR-10 binary records (1 label byte + 3072 pixel bytes each) ->
    images (n, 3072) uint8 in the file's channel-major order, labels (n,) uint8."""
    if len(data) == 0 or len(data) % CIFAR_RECORD:
        raise ValueError(f"{source}: {len(data)} bytes is not a whole number of "
                         f"{CIFAR_RECORD}-byte CIFAR-10 records (1 label + {CIFAR_PIXELS} "
                         f"pixels): file truncated, or not the binary version?")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, CIFAR_RECORD)
    labels = records[:, 0]
    _check_labels(labels, source)
    return records[:, 1:], labels


def _cifar_batches(files: DataFiles) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    wanted = CIFAR_TRAIN_FILES + CIFAR_TEST_FILES
    if files.archive is None:
        return {f: parse_cifar_batch(_read_cifar_file(p), source=str(p))
                for f, p in files.paths.items()}
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    try:
        # Read members in memory: nothing is extracted, so member paths cannot escape.
        with tarfile.open(files.archive, "r:gz") as tar:
            # tar.next() by hand: iterating would unpack (to skip) a member before its
            # size could be checked; a member larger than any official one is refused.
            # (``count`` is how many members the TarFile has read and keeps in memory.)
            count = 0
            while (member := tar.next()) is not None:
                count += 1
                if count > MAX_CIFAR_MEMBERS:  # each one is kept in memory
                    raise ValueError(f"{files.archive}: more than {MAX_CIFAR_MEMBERS} members "
                                     "(the CIFAR-10 archive has 9): not the CIFAR-10 archive?")
                if member.size > MAX_CIFAR_MEMBER:
                    raise ValueError(f"{files.archive}: member {member.name[:200]!r} is "
                                     f"{member.size} bytes, over the {MAX_CIFAR_MEMBER} of a "
                                     "full CIFAR-10 batch: not the CIFAR-10 archive?")
                base = member.name.rsplit("/", 1)[-1]
                if base in wanted and base not in out and member.isfile():
                    fobj = tar.extractfile(member)
                    assert fobj is not None  # regular files always have contents
                    out[base] = parse_cifar_batch(
                        fobj.read(), source=f"{files.archive} (member {member.name})")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise ValueError(f"{files.archive} is a truncated or corrupt archive ({e}): "
                         f"download it again") from None
    missing = [f for f in wanted if f not in out]
    if missing:
        raise ValueError(f"{files.archive} lacks the members {', '.join(missing)}: is it "
                         f"the binary version ({CIFAR_ARCHIVE})?")
    return out


def _read_cifar_file(path: Path) -> bytes:
    """A CIFAR-10 batch file's bytes, its size checked before reading."""
    size = path.stat().st_size
    if size > MAX_CIFAR_MEMBER:
        raise ValueError(f"{path}: {size} bytes, over the {MAX_CIFAR_MEMBER} of a full "
                         f"CIFAR-10 batch ({MAX_CIFAR_RECORDS} records): wrong or corrupt file?")
    with open(path, "rb") as f:
        return f.read(MAX_CIFAR_MEMBER + 1)


def _to_unit_float(images: np.ndarray) -> np.ndarray:
    x = images.astype(np.float32)
    np.divide(x, np.float32(255.0), out=x)
    x.flags.writeable = False  # cached and shared between callers
    return x


def _labels(y: np.ndarray) -> np.ndarray:
    out = y.astype(np.int64)
    out.flags.writeable = False
    return out


Pools = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@functools.lru_cache(maxsize=3)
def _parse_cached(name: str, folder: str, signature: tuple) -> Pools:
    files = find_files(name, Path(folder).parent)
    if name == "cifar10":
        batches = _cifar_batches(files)
        xtr = np.concatenate([batches[f][0] for f in CIFAR_TRAIN_FILES])
        ytr = np.concatenate([batches[f][1] for f in CIFAR_TRAIN_FILES])
        xte, yte = batches[CIFAR_TEST_FILES[0]]
    else:
        p = files.paths
        xtr, ytr = _read_idx_pair(p["train_images"], p["train_labels"])
        xte, yte = _read_idx_pair(p["test_images"], p["test_labels"])
    return _to_unit_float(xtr), _labels(ytr), _to_unit_float(xte), _labels(yte)


def load_pools(name: str, directory: str | os.PathLike | None = None) -> Pools:
    """``(x_train_pool, y_train_pool, x_probe_pool, y_probe_pool)`` of ``name``.

    x: (N, 784) for MNIST / Fashion-MNIST (row-major 28x28), (N, 3072) for CIFAR-10
    (R, G, B planes of 32x32, as in the files); float32 in [0, 1], read-only.
    y: (N,) int64 class labels 0..9. Train pools are the official training files (60000 /
    50000 points), probe pools the official test files (10000).

    Parsed arrays are cached in memory per (dataset, folder, files' size and mtime).
    Raises :class:`DataNotFoundError` when files are missing and ValueError naming the
    file when one is truncated or malformed.
    """
    files = find_files(name, directory)
    return _parse_cached(name, str(files.folder), files.signature())


def clear_cache() -> None:
    """Forget parsed arrays (tests; or to free memory)."""
    _parse_cached.cache_clear()


# ----------------------------------------------------------------------------- download


def _md5_file(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fetch(url: str, dest: Path, md5: str, *, timeout: float,
           log: Callable[[str], None]) -> None:
    """Stream ``url`` to a temp file next to ``dest``; rename only if the MD5 matches.
    On any failure the temp file is removed and DownloadError raised."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        h = hashlib.md5()
        with os.fdopen(fd, "wb") as out:
            req = urllib.request.Request(url, headers={"User-Agent": "noisealign-engine"})
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                total = int(resp.headers.get("Content-Length") or 0)
                done, next_report = 0, 0.1
                for chunk in iter(lambda: resp.read(1 << 20), b""):
                    out.write(chunk)
                    h.update(chunk)
                    done += len(chunk)
                    if total and done / total >= next_report:
                        log(f"  {dest.name}: {100 * done / total:.0f}% of {total / 1e6:.1f} MB")
                        next_report += 0.1
        got = h.hexdigest()
        if got != md5:
            raise DownloadError(f"{url}: checksum mismatch (MD5 {got}, expected {md5}); "
                                f"the file was discarded")
        os.replace(tmp, dest)
    except DownloadError:
        raise
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as e:
        # URLError (no network, DNS, HTTP 404...), timeouts, disk errors, bad URLs.
        reason = getattr(e, "reason", None) or e
        raise DownloadError(f"{url}: {reason}") from None
    finally:
        tmp.unlink(missing_ok=True)


def _fetch_any(mirrors: tuple[str, ...], filename: str, dest: Path, md5: str, *,
               timeout: float, log: Callable[[str], None]) -> None:
    errors = []
    for base in mirrors:
        url = base + filename
        log(f"downloading {url}")
        try:
            _fetch(url, dest, md5, timeout=timeout, log=log)
            return
        except DownloadError as e:
            errors.append(str(e))
            log(f"  failed: {e}")
    raise DownloadError(f"could not download {filename}: " + "; ".join(errors))


def _extract_cifar(archive: Path, folder: Path, log: Callable[[str], None]) -> None:
    """Copy the six batch files out of the (verified) archive into ``folder/CIFAR_SUBDIR``.

    Only regular members with the expected base names are written, to fixed names we
    choose: member paths from the archive are never used as output paths.
    """
    out_dir = folder / CIFAR_SUBDIR
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted = set(CIFAR_TRAIN_FILES + CIFAR_TEST_FILES)
    written = set()
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            base = member.name.rsplit("/", 1)[-1]
            if base in wanted and base not in written and member.isfile():
                src = tar.extractfile(member)
                assert src is not None
                fd, tmp_name = tempfile.mkstemp(prefix=f".{base}.", suffix=".part",
                                                dir=out_dir)
                try:
                    with os.fdopen(fd, "wb") as dst:
                        dst.write(src.read())
                    os.replace(tmp_name, out_dir / base)
                finally:
                    Path(tmp_name).unlink(missing_ok=True)
                written.add(base)
    if written != wanted:
        raise DownloadError(f"{archive} lacks {', '.join(sorted(wanted - written))}")
    log(f"extracted {len(written)} files into {out_dir}")


def download(name: str, directory: str | os.PathLike | None = None, *,
             mirror: str | None = None, force: bool = False, timeout: float = 60.0,
             log: Callable[[str], None] = print) -> Path:
    """Fetch ``name``'s official files into ``<directory>/<name>`` and verify their MD5.

    ``mirror`` replaces the official base URLs (a local copy). Files already present
    (and parsing) are kept unless ``force``. Returns the dataset folder. Raises
    :class:`DownloadError` when no source works; no partial file is left behind.
    """
    folder = dataset_folder(name, directory)
    src = SOURCES[name]
    mirrors = (mirror if mirror.endswith("/") else mirror + "/",) if mirror else src.mirrors
    if not force:
        try:
            load_pools(name, folder.parent)
            log(f"{name}: files already present and valid in {folder}")
            return folder
        except ValueError:  # missing (DataNotFoundError) or corrupt: fetch again
            pass
    created = not folder.exists()
    try:
        for filename, md5 in src.md5.items():
            dest = folder / filename
            if not force and dest.is_file() and _md5_file(dest) == md5:
                log(f"{dest} already present, checksum OK")
                continue
            _fetch_any(mirrors, filename, dest, md5, timeout=timeout, log=log)
            log(f"{dest}: MD5 OK")
        if name == "cifar10":
            archive = folder / CIFAR_ARCHIVE
            _extract_cifar(archive, folder, log)
            archive.unlink()  # the extracted batches are what gets read (faster)
    except (OSError, tarfile.TarError, DownloadError) as e:
        if created and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()  # leave no trace of a failed first download
        if isinstance(e, DownloadError):
            raise
        # unwritable folder, disk full, bad archive
        raise DownloadError(f"{name}: {e}") from None
    clear_cache()
    return folder

