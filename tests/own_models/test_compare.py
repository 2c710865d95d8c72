"""noisealign.engine.own_models.pairs (issue 16): the tidy table against the measures computed one by one,
CKNNA against a dense N x N version of platonic-rep's formulas, the loaders' refusals
(one clear ValueError per bad input), and `noisealign compare` end to end."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from noisealign.engine.cli import commands as cli
from noisealign.engine.measures import core as measures
from noisealign.engine.own_models.pairs import (
    MEASURES,
    Limits,
    best_matches,
    compare,
    example_arrays,
    ii_plane,
    load_arrays,
    make_example,
    matrix,
    to_csv,
    to_json,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Path:
    return make_example(tmp_path_factory.mktemp("ex") / "example.npz", n=200)


@pytest.fixture(scope="module")
def table(example) -> list[dict]:
    inputs = load_arrays(example)
    return compare(inputs.arrays, inputs.labels, k=2, knn_k=5)


def _value(rows, measure, a, b=""):
    (v,) = [r["value"] for r in rows if r["measure"] == measure and r["a"] == a
            and r["b"] == b]
    return v


# ------------------------------------------------------------------------ the table
def test_example_round_trips_through_the_file(example) -> None:
    inputs = load_arrays(example)
    ref = example_arrays(200)
    assert list(inputs.arrays) == list(ref.arrays)
    for name, a in ref.arrays.items():
        assert np.array_equal(inputs.arrays[name], a)
    assert np.array_equal(inputs.labels, ref.labels)


def test_table_has_every_measure_for_every_pair(table) -> None:
    m = 7
    counts = {name: sum(r["measure"] == name for r in table) for name in MEASURES}
    for name in ("ii", "ii_score", "cka", "cka_debiased", "mknn", "cknna"):
        assert counts[name] == m * (m - 1), name
    assert counts["id"] == m and counts["ii_labels"] == m
    assert all(r["n"] == 200 for r in table)
    assert {r["k"] for r in table if r["measure"] == "ii"} == {2}
    assert {r["k"] for r in table if r["measure"] in ("mknn", "cknna")} == {5}


def test_table_values_equal_the_measures_one_by_one(example, table) -> None:
    inputs = load_arrays(example)
    x, y = inputs.arrays["mlp_a/layer2"], inputs.arrays["mlp_b/layer3"]
    ab, ba = measures.information_imbalance(x, y, 2)
    assert _value(table, "ii", "mlp_a/layer2", "mlp_b/layer3") == pytest.approx(ab, abs=1e-12)
    assert _value(table, "ii", "mlp_b/layer3", "mlp_a/layer2") == pytest.approx(ba, abs=1e-12)
    assert _value(table, "ii_score", "mlp_a/layer2", "mlp_b/layer3") == pytest.approx(
        1 - (ab + ba) / 2, abs=1e-12)
    assert _value(table, "cka", "mlp_a/layer2", "mlp_b/layer3") == pytest.approx(
        measures.linear_cka(x, y), abs=1e-10)
    assert _value(table, "cka_debiased", "mlp_a/layer2", "mlp_b/layer3") == pytest.approx(
        measures.linear_cka(x, y, debiased=True), abs=1e-10)
    assert _value(table, "mknn", "mlp_a/layer2", "mlp_b/layer3") == pytest.approx(
        measures.mutual_knn(x, y, 5), abs=1e-12)
    assert _value(table, "cknna", "mlp_a/layer2", "mlp_b/layer3") == pytest.approx(
        measures.cknna(x, y, 5), abs=1e-10)
    assert _value(table, "id", "mlp_a/layer2") == pytest.approx(
        measures.intrinsic_dimension(x), rel=1e-9)
    assert _value(table, "ii_labels", "mlp_a/layer2", "labels") == pytest.approx(
        measures.information_imbalance(x, inputs.labels, 2)[0], abs=1e-12)


def test_example_has_structure(table) -> None:
    """Layers of one model are closer to each other than to the random array."""
    assert _value(table, "cka", "mlp_a/layer1", "mlp_a/layer2") > 0.5
    assert _value(table, "cka", "mlp_a/layer1", "random") < 0.1
    assert _value(table, "ii", "random", "mlp_a/layer1") > 0.8
    assert _value(table, "ii_labels", "mlp_a/layer1", "labels") < 0.8


def test_cosine_convention_is_mutual_knn_of_normalised_rows() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=(120, 6)) * rng.uniform(0.1, 10, size=(120, 1))  # varied norms
    b = a + 0.5 * rng.normal(size=a.shape)
    rows = compare({"a": a, "b": b}, measures=["mknn"], knn_k=5, knn_metric="cosine")
    na = a / np.linalg.norm(a, axis=1, keepdims=True)
    nb = b / np.linalg.norm(b, axis=1, keepdims=True)
    want = measures.mutual_knn(na, nb, 5)
    assert _value(rows, "mknn", "a", "b") == pytest.approx(want, abs=1e-12)
    euclid = compare({"a": a, "b": b}, measures=["mknn"], knn_k=5)
    assert _value(euclid, "mknn", "a", "b") != pytest.approx(want, abs=1e-3)
    assert rows[0]["note"] == "cosine neighbours"


def _dense_cknna(a: np.ndarray, b: np.ndarray, k: int, unbiased: bool) -> float:
    """platonic-rep's CKNNA with N x N matrices (mask * K, HSIC of the masked kernels)."""
    def hsic_u(K, L):
        m = len(K)
        Kt, Lt = K.copy(), L.copy()
        np.fill_diagonal(Kt, 0)
        np.fill_diagonal(Lt, 0)
        return ((Kt * Lt.T).sum() + Kt.sum() * Lt.sum() / ((m - 1) * (m - 2))
                - 2 * (Kt @ Lt).sum() / (m - 2)) / (m * (m - 3))

    def hsic_b(K, L):
        h = np.eye(len(K)) - 1 / len(K)
        return np.trace(K @ h @ L @ h)

    def mask(K):
        kh = K.copy()
        if unbiased:
            np.fill_diagonal(kh, -np.inf)
        out = np.zeros_like(K)
        np.put_along_axis(out, np.argsort(-kh, axis=1)[:, :k], 1.0, axis=1)
        return out

    K, L = a @ a.T, b @ b.T
    h = hsic_u if unbiased else hsic_b

    def sim(K, L):
        m = mask(K) * mask(L)
        return h(m * K, m * L)
    return sim(K, L) / np.sqrt(sim(K, K) * sim(L, L))


@pytest.mark.parametrize("unbiased", [True, False])
@pytest.mark.parametrize("k", [1, 4, 25])
def test_cknna_equals_the_dense_formula(k: int, unbiased: bool) -> None:
    rng = np.random.default_rng(k)
    a = rng.normal(size=(150, 9))
    b = a @ rng.normal(size=(9, 5)) + rng.normal(size=(150, 5))
    assert measures.cknna(a, b, k, unbiased=unbiased) == pytest.approx(
        _dense_cknna(a, b, k, unbiased), rel=1e-9, abs=1e-12)
    assert measures.cknna(a, a, k, unbiased=unbiased) == pytest.approx(1.0, abs=1e-12)


def test_best_matching_layer_and_ii_plane() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(150, 5)), rng.normal(size=(150, 5))
    arrays = {"a/l1": x, "a/l2": y, "b/l1": y + 0.1 * rng.normal(size=y.shape),
              "b/l2": x + 0.1 * rng.normal(size=x.shape)}
    rows = compare(arrays, measures=["ii", "cka"])
    for measure in ("cka", "ii"):
        best = {(r["model_a"], r["layer_a"], r["model_b"]): r["best_layer_b"]
                for r in best_matches(rows, measure)}
        assert best == {("a", "l1", "b"): "l2", ("a", "l2", "b"): "l1",
                        ("b", "l1", "a"): "l2", ("b", "l2", "a"): "l1"}
    plane = ii_plane(rows)
    assert len(plane) == 6
    names, mat = matrix(rows, "ii")
    assert names == list(arrays) and np.isnan(np.diag(mat)).all()
    p = next(p for p in plane if {p["a"], p["b"]} == {"a/l1", "b/l2"})
    assert p["ii_ab"] == mat[names.index(p["a"]), names.index(p["b"])]


def test_csv_and_json_writers(table) -> None:
    csv_text = to_csv(table)
    assert csv_text.splitlines()[0].startswith("measure,a,b,model_a,layer_a")
    assert len(csv_text.splitlines()) == len(table) + 1
    back = json.loads(to_json(table))
    assert len(back) == len(table) and back[0]["measure"] == table[0]["measure"]


def test_engine_compare_is_the_function_however_it_was_imported(example) -> None:
    # The function lives in a module of another name (own_models/pairs.py), so importing
    # that module first never turns the package attribute into a module.
    code = ("import noisealign.engine.own_models.pairs, engine, noisealign, numpy as np\n"
            "x = np.random.default_rng(0).normal(size=(30, 3))\n"
            "assert engine.compare is noisealign.compare is noisealign.engine.compare\n"
            "print(len(noisealign.compare({'a': x, 'b': x + 1}, measures=['cka'])), "
            f"len(noisealign.load_arrays({str(example)!r}).arrays))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.split()
    assert out == ["2", "7"]


# ------------------------------------------------------------------------ bad input
def _npz(tmp_path: Path, name: str = "in.npz", **arrays) -> Path:
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


GOOD = np.random.default_rng(0).normal(size=(20, 3))

BAD_ARRAYS = [
    ({"a": GOOD, "b": GOOD[:15]}, "array 'b' has N=15 points but 'a' has N=20"),
    ({"a": GOOD, "b": np.full((20, 2), np.nan)}, "array 'b' contains 40 NaN or inf"),
    ({"a": GOOD, "b": np.r_[GOOD[:19], [[np.inf, 0, 0]]]}, "array 'b' contains 1 NaN or inf"),
    ({"a": np.zeros((0, 3))}, "array 'a' is empty \\(shape \\(0, 3\\)\\): allowed N in \\[4"),
    ({"a": np.zeros((20, 0))}, "array 'a' is empty"),
    ({"a": GOOD[:3]}, "array 'a' has N=3 points: allowed 4 to 20,000"),
    ({"a": GOOD[:, 0]}, "array 'a' has shape \\(20,\\): allowed a 2-D"),
    ({"a": np.zeros((20, 70000, 2))}, "array 'a' has shape \\(20, 70000, 2\\) \\(D=140,000"),
    ({"a": np.array([["x"] * 3] * 20)}, "array 'a' has dtype '<U1': allowed real numbers"),
    ({"a": GOOD.astype(complex)}, "has dtype 'complex128'"),
    ({}, "no arrays given: allowed 1 to 32"),
    ({f"x{i}": GOOD for i in range(33)}, "33 arrays given: allowed at most 32"),
    ({"labels": GOOD}, "array name 'labels' is reserved"),
    ({"a<script>" * 20: GOOD}, "array name 'a<script>a<script>.*\\.\\.\\. is invalid: allowed up to 100"),
]


@pytest.mark.parametrize("arrays, match", BAD_ARRAYS)
def test_bad_arrays_raise_one_clear_value_error(arrays, match) -> None:
    with pytest.raises(ValueError, match=match):
        compare(arrays)


@pytest.mark.parametrize("labels, match", [
    (np.zeros(19, int), "labels has 19 entries: allowed N=20"),
    (np.linspace(0, 1, 20), "labels has dtype 'float64': allowed integer class ids"),
    (np.zeros(20, int), "labels has 1 distinct classes: allowed 2 to 10"),
    (np.arange(20), "labels has 20 distinct classes: allowed 2 to 10"),
    (np.zeros((20, 2), int), "labels has shape \\(20, 2\\)"),
])
def test_bad_labels_raise(labels, match) -> None:
    with pytest.raises(ValueError, match=match):
        compare({"a": GOOD}, labels)


@pytest.mark.parametrize("kw, match", [
    ({"k": 0}, "k=0 is invalid"),
    ({"k": 19}, "k=19 is invalid for N=20 points: allowed 1 to N - 2 = 18"),
    ({"knn_k": 50}, "knn_k=50 is invalid for N=20"),
    ({"knn_metric": "manhattan"}, "knn_metric='manhattan' is invalid: allowed one of"),
    ({"measures": ["cka", "bogus"]}, "measures='bogus' is invalid"),
    ({"measures": ["ii_labels"]}, "ii_labels' is invalid without labels"),
    ({"measures": []}, "measures is empty"),
])
def test_bad_parameters_raise(kw, match) -> None:
    with pytest.raises(ValueError, match=match):
        compare({"a": GOOD, "b": GOOD + 1}, **kw)


def test_limits_are_enforced_from_the_header_before_reading(tmp_path) -> None:
    path = _npz(tmp_path, a=np.zeros((50, 30)), b=np.zeros((50, 30)))
    with pytest.raises(ValueError, match=r"array 'a' has shape \(50, 30\) \(D=30 features\): "
                                         r"allowed D <= 65,536 features and N x D <= 1,000"):
        load_arrays(path, limits=Limits(max_values=1000))
    with pytest.raises(ValueError, match="array 'a' has N=50 points: allowed 4 to 40"):
        load_arrays(path, limits=Limits(max_points=40))
    with pytest.raises(ValueError, match="allowed D <= 20 features"):
        load_arrays(path, limits=Limits(max_features=20))


def test_bad_files_raise(tmp_path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an archive")
    with pytest.raises(ValueError, match="the input .*is not a .npz archive"):
        load_arrays(text)
    with pytest.raises(ValueError, match="is not a file or folder"):
        load_arrays(tmp_path / "missing.npz")
    empty = tmp_path / "empty.npz"
    zipfile.ZipFile(empty, "w").close()
    with pytest.raises(ValueError, match="the .npz archive is empty"):
        load_arrays(empty)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, a=np.array([{"x": 1}] * 20, dtype=object))
    with pytest.raises(ValueError, match="array 'a' has dtype 'object'.*never unpickled"):
        load_arrays(pickled)
    many = _npz(tmp_path, "many.npz", **{f"x{i}": GOOD for i in range(40)})
    with pytest.raises(ValueError, match="holds 40 arrays: allowed at most 32"):
        load_arrays(many)
    broken = tmp_path / "broken.npz"
    data = _npz(tmp_path, "ok.npz", a=GOOD).read_bytes()
    with zipfile.ZipFile(broken, "w") as zf:
        zf.writestr("a.npy", b"\x93NUMPY garbage")
    with pytest.raises(ValueError, match="array 'a' is not a valid .npy array"):
        load_arrays(broken)
    with pytest.raises(ValueError, match="not a .npz archive"):
        load_arrays(data[: len(data) // 2])  # truncated upload


def test_folder_of_npy_and_bytes(tmp_path) -> None:
    folder = tmp_path / "acts"
    (folder / "net").mkdir(parents=True)
    np.save(folder / "net" / "l1.npy", GOOD)
    np.save(folder / "net" / "l2.npy", GOOD * 2)
    np.save(folder / "labels.npy", np.arange(20) % 2)
    inputs = load_arrays(folder)
    assert sorted(inputs.arrays) == ["net/l1", "net/l2"] and inputs.labels.sum() == 10
    assert load_arrays(_npz(tmp_path, a=GOOD).read_bytes()).arrays["a"].shape == (20, 3)
    with pytest.raises(ValueError, match="holds no .npy files"):
        load_arrays(_empty(tmp_path))
    np.save(folder / "net" / "bad.npy", GOOD[:10])
    with pytest.raises(ValueError, match="array 'net/l1' has N=20 points but 'net/bad' has N=10"):
        load_arrays(folder)


def _empty(tmp_path: Path) -> Path:
    p = tmp_path / "nothing"
    p.mkdir()
    return p


# ------------------------------------------------------------------------------ CLI
def test_cli_writes_the_table(example, tmp_path, capsys) -> None:
    out = tmp_path / "table.csv"
    assert cli.main(["compare", str(example), "--measures", "ii,cka,ii_labels", "--k", "2",
                     "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "7 arrays, N=200, 6 classes" in printed.err
    lines = out.read_text().splitlines()
    assert len(lines) == 1 + 42 + 42 + 7
    assert "ii_labels" in printed.out
    js = tmp_path / "table.json"
    assert cli.main(["compare", str(example), "--measures", "cka", "--out", str(js)]) == 0
    assert len(json.loads(js.read_text())) == 42


def test_cli_writes_the_example(tmp_path, capsys) -> None:
    path = tmp_path / "ex.npz"
    assert cli.main(["compare", "--write-example", str(path)]) == 0
    assert len(load_arrays(path).arrays) == 7


@pytest.mark.parametrize("argv, match", [
    (["compare", "{missing}"], "error: '.*missing.npz' is not a file or folder"),
    (["compare", "{bad}"], "error: array 'b' has N=15 points but 'a' has N=20"),
    (["compare", "{good}", "--k", "abc"], "error: k='abc' is invalid"),
    (["compare", "{good}", "--measures", "nope"], "error: measures='nope' is invalid"),
    (["compare", "{good}", "--out", "{tmp}/t.xlsx"], "error: --out .* allowed a .csv or .json"),
    (["compare", "{good}", "--out", "{tmp}/no/such/t.csv"], "error: --out .* not writable"),
    (["compare"], "error: no input given"),
])
def test_cli_bad_input_is_one_line_and_non_zero(argv, match, tmp_path, capsys) -> None:
    paths = {"missing": str(tmp_path / "missing.npz"),
             "bad": str(_npz(tmp_path, "bad.npz", a=GOOD, b=GOOD[:15])),
             "good": str(_npz(tmp_path, "good.npz", a=GOOD, b=GOOD + 1)),
             "tmp": str(tmp_path)}
    code = cli.main([a.format(**paths) for a in argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    import re
    assert re.match(match, err), err


def test_cli_as_a_process_prints_no_traceback(tmp_path) -> None:
    bad = _npz(tmp_path, "nan.npz", a=np.full((20, 2), np.nan))
    proc = subprocess.run([sys.executable, "-m", "engine", "compare", str(bad)], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("error: array 'a' contains 40 NaN or inf value(s): "
                                   "allowed finite numbers only")


def test_inner_product_neighbours_are_exact_when_float32_cannot_tell() -> None:
    """A large common offset: float32 inner products tie or misorder, so the float64
    check must redo those rows; the values must be float64's top k."""
    rng = np.random.default_rng(9)
    a = 1e4 + rng.normal(size=(120, 3)) * 1e-2
    idx, val = measures.inner_product_knn(a, 5)
    full = a @ a.T
    np.fill_diagonal(full, -np.inf)
    want = -np.sort(-full, axis=1)[:, :5]
    assert np.array_equal(val.numpy(), want)
    assert np.array_equal(np.take_along_axis(full, idx.numpy(), 1), want)
    b = a[:, ::-1] + rng.normal(size=a.shape) * 1e-2
    assert measures.cknna(a, b, 5) == pytest.approx(_dense_cknna(a, b, 5, True), rel=1e-9)


# ------------------------------------------------------------------------ subsampling
def test_subsampling_gives_mean_and_error_over_subsets(example) -> None:
    inputs = load_arrays(example)
    rows = compare(inputs.arrays, inputs.labels, measures=["ii", "cka", "ii_labels"],
                   subsample=80, repeats=4, seed=3)
    r = next(r for r in rows if r["measure"] == "cka" and r["a"] == "mlp_a/layer1"
             and r["b"] == "mlp_b/layer1")
    rng = np.random.default_rng(3)
    vals = []
    for _ in range(4):
        idx = np.sort(rng.choice(200, 80, replace=False))
        vals.append(measures.linear_cka(inputs.arrays["mlp_a/layer1"][idx],
                                        inputs.arrays["mlp_b/layer1"][idx]))
    assert r["value"] == pytest.approx(np.mean(vals), abs=1e-10)
    assert r["std"] == pytest.approx(np.std(vals, ddof=1), abs=1e-10)
    assert r["sem"] == pytest.approx(np.std(vals, ddof=1) / 2, abs=1e-10)
    assert r["repeats"] == 4 and r["n"] == 80 and "mean of 4 subsets of 80" in r["note"]
    assert "std" in to_csv(rows).splitlines()[0]


@pytest.mark.parametrize("kw, match", [
    ({"subsample": 3}, "subsample=3 is invalid: allowed an integer in \\[4, 20\\]"),
    ({"subsample": 21}, "subsample=21 is invalid"),
    ({"subsample": 10, "repeats": 1}, "repeats=1 is invalid: allowed an integer in \\[2, 100\\]"),
    ({"subsample": 10, "k": 9}, "k=9 is invalid for N=10 points"),
])
def test_bad_subsampling_raises(kw, match) -> None:
    with pytest.raises(ValueError, match=match):
        compare({"a": GOOD, "b": GOOD + 1}, **kw)


def test_cli_subsample(example, tmp_path, capsys) -> None:
    out = tmp_path / "t.json"
    assert cli.main(["compare", str(example), "--measures", "cka", "--subsample", "50",
                     "--repeats", "3", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert {r["repeats"] for r in rows} == {3} and all(r["std"] >= 0 for r in rows)
    assert "sem" in capsys.readouterr().out


def test_hostile_member_names_are_refused_and_shown_escaped(tmp_path) -> None:
    path = tmp_path / "names.npz"
    with zipfile.ZipFile(path, "w") as zf:
        buf = io.BytesIO()
        np.save(buf, GOOD)
        zf.writestr("<img src=x onerror=alert(1)>.npy", buf.getvalue())
    with pytest.raises(ValueError) as e:
        load_arrays(path)
    msg = str(e.value)
    assert msg.startswith("array name '<img src=x onerror=alert(1)>' is invalid: allowed up to 100")
    long = tmp_path / "long.npz"
    np.savez(long, **{"x" * 5000: GOOD})
    with pytest.raises(ValueError, match=r"array name 'x{40,}\.\.\. is invalid") as e:
        load_arrays(long)
    assert len(str(e.value)) < 300


def test_total_size_limit(tmp_path) -> None:
    arrays = {f"x{i}": np.zeros((20, 10)) for i in range(3)}
    with pytest.raises(ValueError, match="the 3 arrays hold 600 values together: allowed at "
                                         "most 500"):
        compare(arrays, limits=Limits(max_total_values=500))
    path = _npz(tmp_path, **{f"x{i}": np.zeros((200, 100)) for i in range(3)})
    with pytest.raises(ValueError, match="the 3 arrays hold 60,000 values together: allowed at most 1,000"):
        load_arrays(path, limits=Limits(max_total_values=1000))
