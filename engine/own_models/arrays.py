"""Representation files read header-first: ``.npz``, a folder of ``.npy``, ``.safetensors``.

:func:`noisealign.engine.own_models.inputs.load_arrays` reads a user's activations through this module. Every
format is opened in two passes: :func:`scan` reads only the headers (names, shapes,
dtypes; a few hundred bytes per array) so the caller can refuse a file by the memory it
*declares* -- a 261 KB zip of deflated zeros declaring two 20000 x 6710 arrays (2 GB as
float64) is refused before one data byte is unpacked -- and only then :meth:`Member.read`
reads each array's data, no more bytes than its header declared.

Nothing is unpickled: ``.npy`` data is read with ``allow_pickle=False`` semantics (object
dtypes are refused from the header), a PyTorch ``.pt`` / ``.pth`` checkpoint or any other
pickle is refused with a message naming the safe formats (:data:`SAFE_FORMATS`), and the
``.safetensors`` format (an 8-byte little-endian header length, a JSON header, raw
little-endian buffers) is parsed here, so no extra package is needed.

Dtypes (:func:`dtype_problem`): bool, every integer and float (float16, float32, float64,
longdouble/float128, bfloat16 in safetensors), either byte order, convert to float64
(float32 stays float32: the measures compute in float64 either way, and it halves the
memory); complex, object, structured, string and date arrays are refused naming the
array.
"""

from __future__ import annotations

import functools
import io
import json
import math
import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

import numpy as np

from ..base.validation import show

SAFE_FORMATS = (".npz (numpy.savez), a folder of .npy files (numpy.save) or .safetensors "
                "(safetensors.numpy.save_file / safetensors.torch.save_file)")
#: suffixes of pickle-based files (PyTorch checkpoints, joblib, pickle): never opened
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".tar")
#: the most a .npy or safetensors header may hold (numpy's own default cap is 10 000)
MAX_HEADER_BYTES = 1 << 20
_NPY_MAGIC = b"\x93NUMPY"
_PICKLE_HINT = ("refused: pickled files are never loaded (unpickling can run any code). "
                "Save the activations as " + SAFE_FORMATS + ", e.g. "
                "numpy.savez('acts.npz', **{name: t.detach().cpu().numpy()})")

# safetensors dtype names -> (numpy dtype of the stored bytes, how to make real numbers)
_BF16 = "BF16"
_SAFETENSORS_DTYPES = {
    "BOOL": "|b1", "U8": "|u1", "I8": "|i1", "U16": "<u2", "I16": "<i2", "U32": "<u4",
    "I32": "<i4", "U64": "<u8", "I64": "<i8", "F16": "<f2", "F32": "<f4", "F64": "<f8",
    _BF16: "<u2",  # bfloat16: the top half of a float32 (converted on reading)
}


@dataclass
class Member:
    """One array as its header declares it; :meth:`read` reads its data."""

    name: str                     # the array's name (member or file name, no suffix)
    stored: str                   # where it is: the member / file / tensor name as stored
    shape: tuple[int, ...]
    dtype: np.dtype               # of the stored values (bfloat16: uint16, see ``bf16``)
    fortran: bool = False
    bf16: bool = False
    _reader: Callable[[], bytearray | None] | None = None  # None: the data ended early

    @property
    def size(self) -> int:
        """Values the header declares (Python ints: no int64 wrap-around)."""
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def read(self) -> np.ndarray:
        """The data, exactly ``nbytes`` bytes of it, as an array of the declared shape."""
        label = f"array {show(self.name, 60)}"
        try:
            buf = self._reader() if self._reader is not None else bytearray()
        except (OSError, EOFError, RuntimeError, NotImplementedError, zipfile.BadZipFile,
                zlib.error) as e:  # truncated, encrypted, corrupt
            raise ValueError(f"{label} could not be read ({type(e).__name__}: "
                             f"{show(str(e), 80)}): allowed an intact file") from None
        if buf is None:
            raise ValueError(f"{label} holds less data than the {self.nbytes:,} bytes its "
                             f"header declares (shape {self.shape}, {self.dtype}): file "
                             "truncated?")
        a = np.frombuffer(buf, dtype=self.dtype)
        if self.bf16:
            a = (a.astype(np.uint32) << 16).view(np.float32)
        return a.reshape(self.shape, order="F" if self.fortran else "C")


def dtype_problem(dtype: np.dtype) -> str | None:
    """Why an array of ``dtype`` cannot be compared (one phrase), or None if it converts.

    Allowed: bool, signed and unsigned integers, floats of every width (float16 to
    longdouble), in either byte order.
    """
    if dtype.hasobject:
        return "objects (never unpickled)"
    if dtype.fields is not None or dtype.subdtype is not None:
        return "a structured (record) dtype"
    if dtype.kind == "c":
        return ("complex numbers (save the real part, the magnitude, or the real and "
                "imaginary parts as separate features)")
    if dtype.kind not in "biuf":
        return "text, dates or raw bytes"
    return None


def dtype_message(name: str, dtype: np.dtype) -> str | None:
    """One line refusing array ``name`` of ``dtype``, or None when it converts."""
    why = dtype_problem(dtype)
    if why is None:
        return None
    return (f"array {show(name, 60)} has dtype {show(str(dtype), 40)}: allowed real numbers "
            f"(bool, integer or float of any width, either byte order), not {why}")


def _read_exactly(f: IO[bytes], size: int) -> bytearray | None:
    """``size`` bytes of ``f`` into one writable buffer (no second copy; arrays made
    from it are writable), or None when the stream ends first."""
    buf = bytearray(size)
    view, got = memoryview(buf), 0
    while got < size:
        # Every stream read here has readinto (files, zip members, BytesIO uploads);
        # typing.BinaryIO does not declare it.
        k = f.readinto(view[got:])  # type: ignore[attr-defined]
        if not k:
            return None
        got += k
    return buf


# ------------------------------------------------------------------------ .npy headers
def npy_header(f: IO[bytes], name: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Shape, Fortran order and dtype of a .npy stream; reads only its header."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            # numpy's stubs lack max_header_size (numpy >= 1.24 takes it)
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(  # type: ignore[call-arg]
                f, max_header_size=MAX_HEADER_BYTES)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(  # type: ignore[call-arg]
                f, max_header_size=MAX_HEADER_BYTES)
        else:
            raise ValueError(f"format version {version}")
    except Exception as e:  # noqa: BLE001 -- any malformed header
        raise ValueError(f"array {show(name, 60)} is not a valid .npy array "
                         f"({show(str(e), 80)}): allowed arrays written by numpy.save / "
                         "numpy.savez") from None
    return tuple(int(s) for s in shape), bool(fortran), dtype


def _npy_member(name: str, stored: str, opener: Callable[[], IO[bytes]]) -> Member:
    """A .npy array's header; its reader reopens the stream and reads the data only."""
    with opener() as f:
        shape, fortran, dtype = npy_header(f, name)
    member = Member(name, stored, shape, dtype, fortran)
    bad = dtype_message(name, dtype)
    if bad:
        raise ValueError(bad)

    def reader() -> bytearray | None:
        with opener() as f:
            npy_header(f, name)
            return _read_exactly(f, member.nbytes)

    member._reader = reader
    return member


# ------------------------------------------------------------------------------ scan
def _refuse_pickle(what: str) -> None:
    raise ValueError(f"{what} is a PyTorch checkpoint or pickle: {_PICKLE_HINT}")


def _add(out: dict[str, Member], m: Member) -> None:
    """Add ``m``, refusing a second array under the same name (``a.npy`` and ``a``)."""
    if m.name in out:
        raise ValueError(f"array {show(m.name, 60)} is stored twice (as "
                         f"{show(out[m.name].stored, 60)} and {show(m.stored, 60)}): "
                         "allowed one array per name")
    out[m.name] = m


def scan(source: str | os.PathLike | bytes | bytearray | BinaryIO, *,
         max_arrays: int, side: int = 2) -> dict[str, Member]:
    """The arrays of ``source`` by name, from their headers only.

    Parameters
    ----------
    source : path, bytes or binary file
        A ``.npz``, a ``.safetensors`` file, a folder of ``.npy`` files, or the bytes /
        a binary file object of a ``.npz`` or ``.safetensors`` (an upload).
    max_arrays : int
        The most representations accepted, besides ``side`` more (labels, groups);
        checked before any header is read.
    side : int
        How many side arrays (labels, groups) may come on top.

    Returns
    -------
    dict of str to Member
        In stored order; nothing of the data has been read.

    Raises
    ------
    ValueError
        Pickles (``.pt``, ``.pth``...), an unknown format, malformed headers, refused
        dtypes, two arrays under one name, too many arrays.
    """
    max_members = (max_arrays, side)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            return _scan_folder(path, max_members)
        if path.suffix.lower() in PICKLE_SUFFIXES:
            _refuse_pickle(show(str(path), 120))
        if not path.is_file():
            raise ValueError(f"{show(str(path), 120)} is not a file or folder: allowed "
                             + SAFE_FORMATS)
        f: BinaryIO = open(path, "rb")  # noqa: SIM115  (a reader per member reads it later)
        what = f"the input {show(str(path), 120)}"
    elif isinstance(source, (bytes, bytearray, memoryview)):
        f, what = io.BytesIO(bytes(source)), "the input"
    else:
        f, what = source, "the input"
    head = f.read(16)
    f.seek(0)
    if head.startswith(b"PK"):
        return _scan_zip(f, what, max_members)
    if len(head) >= 9 and head[8:9] == b"{":
        return _scan_safetensors(f, what, max_members)
    if head[:1] == b"\x80" or head.startswith(b"\x1f\x8b"):
        _refuse_pickle(what)  # a protocol-2+ pickle (legacy torch.save); gzipped pickles
    if head.startswith(_NPY_MAGIC):
        raise ValueError(f"{what} is a single .npy array: allowed " + SAFE_FORMATS
                         + " (put the .npy files of all arrays in one folder)")
    raise ValueError(f"{what} is not a .npz archive nor a .safetensors file: allowed "
                     + SAFE_FORMATS)


def _scan_folder(folder: Path, max_members: tuple[int, int]) -> dict[str, Member]:
    files = sorted(p for p in folder.rglob("*.npy") if p.is_file())
    if not files:
        raise ValueError(f"folder {show(str(folder), 120)} holds no .npy files: allowed "
                         "a folder of .npy arrays (one per representation)")
    if len(files) > sum(max_members):
        raise ValueError(f"folder {show(str(folder), 120)} holds {len(files)} .npy files: "
                         f"allowed at most {max_members[0]} (+ labels, groups)")
    out: dict[str, Member] = {}
    for p in files:
        name = p.relative_to(folder).with_suffix("").as_posix()
        try:
            _add(out, _npy_member(name, p.name, _opener(p)))
        except OSError as e:
            raise ValueError(f"array {show(name, 60)} could not be read "
                             f"({show(e.strerror or str(e), 80)}): allowed a readable "
                             ".npy file") from None
    return out


def _opener(path: Path) -> Callable[[], IO[bytes]]:
    """Opens ``path`` for reading bytes, each time it is called."""
    return lambda: open(path, "rb")


def _scan_zip(f: BinaryIO, what: str, max_members: tuple[int, int]) -> dict[str, Member]:
    try:
        zf = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise ValueError(f"{what} is not a .npz archive ({show(str(e), 80)}): allowed "
                         + SAFE_FORMATS) from None
    members = [m for m in zf.infolist() if not m.is_dir()]
    if any(m.filename.endswith((".pkl", "/version")) for m in members):
        _refuse_pickle(what)  # torch.save's zip format: archive/data.pkl + storages
    if not members:
        raise ValueError(f"the .npz archive is empty: allowed 1 to {max_members[0]} arrays")
    if len(members) > sum(max_members):
        raise ValueError(f"the .npz archive holds {len(members)} arrays: allowed at most "
                         f"{max_members[0]} (+ labels, groups)")
    out: dict[str, Member] = {}
    for m in members:
        name = m.filename.removesuffix(".npy")
        try:
            member = _npy_member(name, m.filename, functools.partial(zf.open, m))
        except (OSError, EOFError, RuntimeError, NotImplementedError, zipfile.BadZipFile,
                zlib.error) as e:
            raise ValueError(f"array {show(name, 60)} could not be read from the archive "
                             f"({type(e).__name__}: {show(str(e), 80)}): allowed an intact "
                             "numpy.savez file") from None
        if m.file_size < member.nbytes:  # the directory says the data is not all there
            raise ValueError(f"array {show(name, 60)} declares {member.nbytes:,} bytes of "
                             f"data but its member holds {m.file_size:,}: file truncated?")
        _add(out, member)
    return out


def _scan_safetensors(f: BinaryIO, what: str, max_members: tuple[int, int]) -> dict[str, Member]:
    (n,) = struct.unpack("<Q", f.read(8))
    if n > MAX_HEADER_BYTES:
        raise ValueError(f"{what}: the safetensors header declares {n:,} bytes: allowed at "
                         f"most {MAX_HEADER_BYTES:,}")
    raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
        if not isinstance(header, dict):
            raise ValueError("not a JSON object")  # noqa: TRY004
    except (UnicodeDecodeError, ValueError) as e:
        raise ValueError(f"{what} has no valid safetensors header ({show(str(e), 80)}): "
                         "allowed " + SAFE_FORMATS) from None
    header.pop("__metadata__", None)
    if not header:
        raise ValueError(f"{what} holds no tensors: allowed 1 to {max_members[0]} arrays")
    if len(header) > sum(max_members):
        raise ValueError(f"{what} holds {len(header)} tensors: allowed at most "
                         f"{max_members[0]} (+ labels, groups)")
    f.seek(0, os.SEEK_END)
    data_len = f.tell() - 8 - n
    out: dict[str, Member] = {}
    for name, info in header.items():
        label = f"tensor {show(name, 60)}"
        try:
            code = info["dtype"]
            shape = tuple(info["shape"])
            begin, end = (int(x) for x in info["data_offsets"])
            if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                       for s in shape):
                raise ValueError("a shape entry is not a non-negative integer")
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{label} has a malformed header entry ({show(str(e), 80)}): "
                             "allowed a file written by safetensors") from None
        if code not in _SAFETENSORS_DTYPES:
            raise ValueError(f"array {show(name, 60)} has dtype {show(code, 20)}: allowed "
                             + ", ".join(_SAFETENSORS_DTYPES))
        member = Member(name, name, shape, np.dtype(_SAFETENSORS_DTYPES[code]),
                        bf16=code == _BF16)
        if not 0 <= begin <= end <= data_len or end - begin != member.nbytes:
            raise ValueError(f"{label} declares bytes {begin} to {end} for shape {shape} "
                             f"{code} ({member.nbytes:,} bytes) in a buffer of "
                             f"{data_len:,}: file truncated or corrupt?")

        def reader(begin: int = begin, size: int = end - begin) -> bytearray | None:
            f.seek(8 + n + begin)
            return _read_exactly(f, size)

        member._reader = reader
        _add(out, member)
    return out


def write_safetensors(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` as a ``.safetensors`` file (little-endian; bool, ints, floats).

    The format's whole specification: an 8-byte little-endian header length, a JSON
    header ``{name: {"dtype", "shape", "data_offsets": [begin, end]}}`` and the buffers.
    """
    codes = {np.dtype(v): k for k, v in _SAFETENSORS_DTYPES.items() if k != _BF16}
    header, chunks, offset = {}, [], 0
    for name, a in arrays.items():
        a = np.ascontiguousarray(a)
        le = a.dtype.newbyteorder("<") if a.dtype.itemsize > 1 else a.dtype
        a = a.astype(le, copy=False)
        code = codes.get(np.dtype(le))
        if code is None:
            raise ValueError(f"array {show(name, 60)} has dtype {a.dtype}: allowed "
                             + ", ".join(codes.values()))
        data = a.tobytes()
        header[name] = {"dtype": code, "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path = Path(path)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        f.writelines(chunks)
    return path
