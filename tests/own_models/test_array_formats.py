"""Issue 29 items 2 and 10, issue 25: every dtype numpy has converts to float64 or is
refused in one line naming the array; big-endian converts; colliding member names are
refused; .safetensors, in-memory tensors and N-D activations load; pickles are refused.

References are independent of the loader: numpy's own ``astype`` for the conversions,
torch's own bfloat16 -> float32 for BF16, numpy reductions for pooling.
"""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from noisealign.engine.own_models.arrays import write_safetensors
from noisealign.engine.own_models.pairs import compare, load_arrays

ROOT = Path(__file__).resolve().parents[2]
RNG = np.random.default_rng(0)
BASE = RNG.normal(size=(50, 8))


def _npz(tmp_path: Path, name: str = "x.npz", **arrays) -> Path:
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def _all_dtypes() -> list[np.dtype]:
    seen = {}
    for t in set(np.sctypeDict.values()):
        try:
            d = np.dtype(t)
        except TypeError:
            continue
        for order in "<>":
            dd = d.newbyteorder(order) if d.itemsize > 1 and d.kind not in "OV" else d
            seen[dd.str + dd.name] = dd
    return list(seen.values())


@pytest.mark.parametrize("dtype", _all_dtypes(), ids=lambda d: d.str + "-" + d.name)
def test_every_dtype_converts_or_is_refused_naming_the_array(tmp_path, dtype) -> None:
    if dtype.kind in "biuf":
        vals = (BASE * 3).clip(-100, 100)
        if dtype.kind == "b":
            vals = vals > 0
        elif dtype.kind == "u":
            vals = np.abs(vals)
        a = vals.astype(dtype)
    elif dtype.kind == "V":
        a = np.zeros((50, 8), dtype=np.dtype([("x", "<f8"), ("y", "<i4")]))
    elif dtype.kind == "O":
        a = np.zeros((50, 8), dtype=object)
    else:
        a = np.zeros((50, 8), dtype=dtype)
    try:
        path = _npz(tmp_path, odd=a, ref=BASE)
    except (ValueError, TypeError):  # numpy cannot save it at all
        pytest.skip(f"numpy cannot save {dtype}")
    if dtype.kind in "biuf":
        inputs = load_arrays(path)
        got = inputs.arrays["odd"]
        assert got.dtype in (np.float64, np.float32) and got.dtype.isnative
        assert got.dtype == np.float64 or dtype == np.dtype("=f4")
        np.testing.assert_array_equal(got, a.astype(np.float64).astype(got.dtype))
        rows = compare(inputs.arrays, measures=["cka", "ii"])  # float128 crashed here
        assert all(np.isfinite(r["value"]) for r in rows if r["a"] != r["b"])
    else:
        with pytest.raises(ValueError) as e:
            load_arrays(path)
        msg = str(e.value)
        assert "array 'odd'" in msg and "dtype" in msg and "\n" not in msg, msg


def test_longdouble_beyond_float64_is_refused_naming_the_array(tmp_path) -> None:
    a = BASE.astype(np.longdouble)
    if np.finfo(np.longdouble).max <= np.finfo(np.float64).max:
        pytest.skip("longdouble is float64 here")
    a[0, 0] = np.longdouble(10) ** 400
    with pytest.raises(ValueError, match="array 'big' has values beyond float64's range"):
        load_arrays(_npz(tmp_path, big=a, ok=BASE))


def test_float128_file_in_the_cli_gives_a_table_not_a_traceback(tmp_path) -> None:
    path = tmp_path / "f128.npz"
    np.savez(path, a=np.random.rand(50, 8).astype(np.longdouble), b=np.random.rand(50, 8))
    r = subprocess.run([sys.executable, "-m", "engine", "compare", str(path),
                        "--measures", "cka,ii"], cwd=ROOT, capture_output=True, text=True,
                       timeout=300, check=False)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "cka" in r.stdout


def test_big_endian_converts_and_equals_little_endian(tmp_path) -> None:
    big = _npz(tmp_path, a=BASE.astype(">f8"), b=BASE.astype(">i4"), c=BASE.astype(">f4"))
    got = load_arrays(big).arrays
    np.testing.assert_array_equal(got["a"], BASE)
    np.testing.assert_array_equal(got["b"], BASE.astype("<i4").astype(float))
    assert got["c"].dtype.isnative


def test_colliding_member_names_are_refused_not_dropped(tmp_path) -> None:
    path = tmp_path / "clash.npz"
    buf = io.BytesIO()
    np.save(buf, BASE)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.npy", buf.getvalue())
        zf.writestr("a", buf.getvalue())
        zf.writestr("b.npy", buf.getvalue())
    with pytest.raises(ValueError, match=r"array 'a' is stored twice \(as 'a.npy' and 'a'\)"):
        load_arrays(path)


def test_safetensors_load_like_the_npz(tmp_path) -> None:
    arrays = {"net/l1": BASE.astype(np.float32), "net/l2": (BASE * 2).astype(np.float16),
              "labels": (BASE[:, 0] > 0).astype(np.int64)}
    st = write_safetensors(tmp_path / "acts.safetensors", arrays)
    raw = st.read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    assert raw[8:9] == b"{" and len(raw) == 8 + header_len + sum(a.nbytes for a in arrays.values())
    a = load_arrays(st)
    b = load_arrays(_npz(tmp_path, **arrays))
    assert list(a.arrays) == ["net/l1", "net/l2"]
    for k in a.arrays:
        np.testing.assert_array_equal(a.arrays[k], b.arrays[k])
    np.testing.assert_array_equal(a.labels, b.labels)
    assert load_arrays(raw).arrays.keys() == a.arrays.keys()  # as an upload's bytes


def test_safetensors_bfloat16_matches_torch(tmp_path) -> None:
    t = torch.from_numpy(BASE).to(torch.bfloat16)
    bits = t.view(torch.int16).numpy().view("<u2")
    raw = write_safetensors(tmp_path / "bf.safetensors", {"x": bits, "y": BASE}).read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = raw[8:8 + n].replace(b'"U16"', b'"BF16"')  # same bytes, named bfloat16
    (tmp_path / "bf.safetensors").write_bytes(len(header).to_bytes(8, "little") + header
                                              + raw[8 + n:])
    got = load_arrays(tmp_path / "bf.safetensors").arrays["x"]
    np.testing.assert_array_equal(got, t.float().numpy())


def test_safetensors_lies_are_refused(tmp_path) -> None:
    st = write_safetensors(tmp_path / "a.safetensors", {"a": BASE, "b": BASE})
    raw = st.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(raw[:-10])
    with pytest.raises(ValueError, match="tensor 'b' declares bytes .* file truncated"):
        load_arrays(cut)
    huge = raw.replace(b"[50, 8]", b"[5000000, 8]", 1)
    with pytest.raises(ValueError, match="declares bytes"):
        load_arrays(huge)


def test_pytorch_files_are_refused_naming_the_safe_formats(tmp_path) -> None:
    for name in ("acts.pt", "acts.pth"):
        torch.save({"a": torch.zeros(20, 3)}, tmp_path / name)
        with pytest.raises(ValueError, match=r"PyTorch checkpoint or pickle: refused.*"
                                             r"\.npz.*\.safetensors"):
            load_arrays(tmp_path / name)
        with pytest.raises(ValueError, match="PyTorch checkpoint or pickle"):
            load_arrays((tmp_path / name).read_bytes())  # an upload named anything
    legacy = io.BytesIO()
    torch.save({"a": torch.zeros(20, 3)}, legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(ValueError, match="PyTorch checkpoint or pickle"):
        load_arrays(legacy.getvalue())


def test_in_memory_arrays_and_tensors(tmp_path) -> None:
    t = torch.from_numpy(BASE).requires_grad_()
    inputs = load_arrays({"t": t * 1.0, "bf": t.detach().to(torch.bfloat16), "np": BASE,
                          "labels": torch.arange(50) % 2})
    np.testing.assert_array_equal(inputs.arrays["t"], BASE)
    np.testing.assert_array_equal(inputs.arrays["bf"],
                                  t.detach().to(torch.bfloat16).float().numpy())
    assert inputs.labels.tolist() == (np.arange(50) % 2).tolist()
    rows = compare({"t": t * 1.0, "np": BASE}, measures=["cka"])
    assert abs(rows[0]["value"] - 1.0) < 1e-12


@pytest.mark.parametrize("pool", ["flatten", "mean", "max"])
def test_conv_activations_are_flattened_or_pooled(tmp_path, pool) -> None:
    conv = RNG.normal(size=(40, 4, 3, 5)).astype(np.float32)
    ref = {"flatten": conv.reshape(40, -1), "mean": conv.mean(axis=(2, 3)),
           "max": conv.max(axis=(2, 3))}[pool]
    got = load_arrays(_npz(tmp_path, conv=conv, flat=BASE[:40]), pool=pool).arrays["conv"]
    np.testing.assert_allclose(got, ref, rtol=1e-6)
    folder = tmp_path / "npy"
    folder.mkdir()
    np.save(folder / "conv.npy", conv)
    np.testing.assert_allclose(load_arrays(folder, pool=pool).arrays["conv"], ref, rtol=1e-6)
    with pytest.raises(ValueError, match="pool='sum' is invalid"):
        load_arrays(folder, pool="sum")


def test_cli_pool_option(tmp_path) -> None:
    conv = RNG.normal(size=(40, 4, 3, 5))
    path = _npz(tmp_path, conv=conv, flat=BASE[:40])
    r = subprocess.run([sys.executable, "-m", "engine", "compare", str(path), "--pool",
                        "mean", "--measures", "cka"], cwd=ROOT, capture_output=True,
                       text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    want = compare({"conv": conv.mean(axis=(2, 3)), "flat": BASE[:40]}, measures=["cka"])
    assert f"{want[0]['value']:.4f}"[:5] in r.stdout
