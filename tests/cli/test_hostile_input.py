"""Hostile and malformed input (issue 8): property-based tests over every spec field, the
spec's dict/JSON forms and the command line. Every input either gives a valid spec or a
ValueError with a short message that names the field; nothing else is ever raised.
And no code path unpickles anything (source scan; the behavioural test of a planted
pickle lives in tests/test_cache.py::test_planted_pickle_is_never_unpickled)."""

import ast
import contextlib
import io
import json
import math
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from noisealign.engine.cli import commands as cli
from noisealign.engine.compute.guard import DEFAULT_CALIBRATIONS, estimate
from noisealign.engine.pipeline.spec import SPEC_FIELDS, ExperimentSpec

ROOT = Path(__file__).resolve().parents[2]
MAX_MESSAGE = 1000  # a validation message is a sentence, not a dump of the input
FIELD_NAMES = set(SPEC_FIELDS)

SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
# The strategies below include megabyte-sized values on purpose; hypothesis warns when
# it describes them.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

# ----------------------------------------------------------------------------- strategies

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),                                       # unbounded
    st.sampled_from([0, 1, -1, 2, 10, 2**31, 2**63, -2**63, 10**7, 10**7 + 1, 10**400,
                     -(10**400)]),                       # bounds, float overflow
    # An int whose repr Python refuses (over 4300 digits); built lazily because
    # hypothesis shows the elements of sampled_from.
    st.just(5000).map(lambda digits: 10**digits),
    st.floats(allow_nan=True, allow_infinity=True),      # NaN, inf, -0.0, subnormals
    st.sampled_from([-0.0, 0.5, 1e-300, 1e300, 1e308, 5e-324, float("nan"),
                     float("inf"), -float("inf")]),
    st.text(max_size=30),                                # unicode, incl. control chars
    st.text(alphabet=st.characters(codec="utf-8"), max_size=10),
    st.sampled_from(["", " ", "inf", "-inf", "nan", "NaN", "1e400", "0x10", "10", "relu",
                     "linear-teacher", "mnist", "cuda", "\x00", "\ud800",
                     "../../etc/passwd", "'; DROP TABLE Cache; --", "${HOME}", "ℕ", "💥"]),
    st.just(10_000).map(lambda n: "x" * n),              # a long string
    st.binary(max_size=10),
)
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.tuples(inner, inner),
    st.dictionaries(st.one_of(st.text(max_size=8), st.integers(), st.none()), inner,
                    max_size=4)), max_leaves=10)

# Plausible values too, so that many combinations are valid and reach deeper checks
# (pool sizes, task/noise compatibility, dataset parameters).
_plausible = {
    "dataset": st.sampled_from(["linear-teacher", "mlp-teacher", "gaussian-mixture",
                                "digits", "diabetes", "mnist1d", "mnist", "fashion-mnist",
                                "cifar10"]),
    "dataset_params": st.one_of(st.dictionaries(
        st.sampled_from(["d", "teacher_width", "n_classes", "separation", "n_samples", "x"]),
        st.one_of(st.integers(-5, 10**6), st.floats(), _scalars), max_size=3),
        st.lists(st.tuples(st.sampled_from(["d", "n_classes"]), st.integers(-5, 5000)),
                 max_size=2)),
    "task": st.sampled_from(["auto", "regression", "classification"]),
    "n_train": st.integers(-2, 2 * 10**7), "n_probe": st.integers(-2, 2 * 10**7),
    "noise": st.sampled_from(["none", "target", "input", "label"]),
    "snr_db": st.floats(-100, 200), "label_noise": st.floats(-1, 2),
    "architecture": st.sampled_from(["mlp", "cnn"]),
    "width": st.integers(-1, 20000), "depth": st.integers(-1, 5),
    "activation": st.sampled_from(["relu", "tanh", "linear"]),
    "bias": st.booleans(), "ensemble_size": st.integers(-1, 100),
    "shared_init": st.booleans(), "init_scale": st.floats(-1, 200),
    "optimizer": st.sampled_from(["sgd", "adam"]), "lr": st.floats(-1, 200),
    "max_epochs": st.integers(-1, 2 * 10**6), "loss_tol": st.floats(-1, 2e6),
    "batch_size": st.integers(-1, 2 * 10**7), "weight_decay": st.floats(-1, 200),
    "seed": st.integers(-1, 2**32), "device": st.sampled_from(["auto", "cpu", "cuda"]),
    "snapshots": st.integers(-1, 60),
}


def _plausible_from_rules(field: str):
    """Fields without a hand-written strategy (added later): plausible values from the
    spec's own rule tables, so a new field is attacked from the day it is added."""
    from noisealign.engine.pipeline import spec as rules
    if field in rules.CHOICES:
        return st.sampled_from(rules.CHOICES[field])
    if field in rules.INT_BOUNDS:
        lo, hi = rules.INT_BOUNDS[field]
        return st.integers(lo - 2, 2 * hi)
    if field in rules.FLOAT_BOUNDS:
        lo, hi, _ = rules.FLOAT_BOUNDS[field]
        return st.floats(lo - 1, 2 * hi)
    return _values


_field_value = {f: st.one_of(_plausible.get(f) or _plausible_from_rules(f), _values)
                for f in SPEC_FIELDS}
_fields = st.one_of(st.fixed_dictionaries({}, optional=_field_value),
                    st.fixed_dictionaries({}, optional=_plausible))  # more valid specs


def _assert_valid(spec: ExperimentSpec) -> None:
    """A spec that validated is usable everywhere: JSON round trip, hash, estimate."""
    event("valid spec")
    assert ExperimentSpec.from_json(spec.to_json()) == spec
    assert len(spec.content_hash()) == 64
    est = estimate(spec, calibration=DEFAULT_CALIBRATIONS["cpu"])
    assert est.memory_bytes > 0 and math.isfinite(est.seconds) and est.seconds > 0


def _assert_clear(e: ValueError, names=FIELD_NAMES) -> None:
    event("ValueError")
    msg = str(e)
    assert 0 < len(msg) <= MAX_MESSAGE, msg[:300]
    assert any(n in msg for n in names), msg


# ----------------------------------------------------------------------------- spec


@settings(max_examples=300, **SETTINGS)
@given(_fields)
def test_any_field_values_give_a_spec_or_a_clear_value_error(fields):
    try:
        spec = ExperimentSpec(**fields)
    except ValueError as e:
        _assert_clear(e)
        return
    _assert_valid(spec)


@settings(max_examples=200, **SETTINGS)
@given(st.one_of(
    _fields,
    st.dictionaries(st.one_of(st.sampled_from(SPEC_FIELDS), st.text(max_size=10),
                              st.integers(), st.none(), st.booleans()), _values, max_size=5),
    _values))
def test_from_dict_gives_a_spec_or_a_clear_value_error(d):
    try:
        spec = ExperimentSpec.from_dict(d)
    except ValueError as e:
        _assert_clear(e, FIELD_NAMES | {"spec"})
        return
    _assert_valid(spec)


def _json_of(fields: dict) -> str:
    def enc(v):  # JSON has no bytes and no non-str keys: write what a client would send
        if isinstance(v, bytes):
            return v.decode("latin-1")
        if isinstance(v, dict):
            return {str(k): enc(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [enc(x) for x in v]
        if isinstance(v, str):
            return v.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        if isinstance(v, int) and v.bit_length() > 10_000:  # json.dumps refuses it
            return v.bit_length()
        return v
    return json.dumps(enc(fields))


_json_texts = st.one_of(
    _fields.map(_json_of),
    st.text(max_size=200),
    st.sampled_from(["", "{", "null", "[]", "{}", '{"n_train": 1e400}', '{"seed": NaN}',
                     '{"snr_db": Infinity}', '{"width": 64, "width": "x"}',
                     '{"__class__": "os.system"}', '{"n_train": -0.0}', '"\\ud800"']),
    # built lazily: hypothesis shows sampled_from's elements in its reports
    st.sampled_from([5000, 100_000]).map(lambda n: '{"n_train": ' + "9" * n + "}"),
    st.sampled_from([5000, 100_000]).map(lambda n: "[" * n),
    st.just(5000).map(lambda n: '{"dataset_params": ' + "[" * n + "]" * n + "}"),
    st.binary(max_size=50),
    st.sampled_from([None, 5, 1.5, ["{}"], {"n_train": 1}]),
)


@settings(max_examples=200, **SETTINGS)
@given(_json_texts)
def test_from_json_gives_a_spec_or_a_clear_value_error(text):
    try:
        spec = ExperimentSpec.from_json(text)
    except ValueError as e:
        _assert_clear(e, FIELD_NAMES | {"spec JSON", "spec must be"})
        return
    _assert_valid(spec)


def test_known_hostile_values_are_named_in_short_messages():
    cases = {
        "n_train": 10**5000, "snr_db": 10**400, "seed": float("nan"), "width": "64",
        "dataset": "x" * 100_000, "lr": float("inf"), "bias": "yes", "depth": 2.5,
        "ensemble_size": None, "device": "cuda:0",
    }
    for name, value in cases.items():
        with pytest.raises(ValueError) as info:
            ExperimentSpec(**{name: value})
        msg = str(info.value)
        assert msg.startswith(f"{name}=") and "is invalid: allowed" in msg, msg
        assert len(msg) < 300, msg
    with pytest.raises(ValueError, match=r"dataset_params \[1, 'a'\] are not parameters"):
        ExperimentSpec(dataset_params={1: 2, "a": 3})
    with pytest.raises(ValueError, match=r"dataset_params\['separation'\]=1000.*\.\.\. is "
                                         r"invalid for 'gaussian-mixture'"):
        ExperimentSpec(dataset="gaussian-mixture", noise="label",
                       dataset_params={"separation": 10**400})
    with pytest.raises(ValueError, match="unknown spec field"):
        ExperimentSpec.from_dict({1: 2, "a": 3})
    with pytest.raises(ValueError, match="spec JSON must be text, got NoneType"):
        ExperimentSpec.from_json(None)
    with pytest.raises(ValueError, match="spec JSON could not be parsed: maximum recursion"):
        ExperimentSpec.from_json("[" * 100_000)


# ----------------------------------------------------------------------------- CLI


class _Reached(Exception):
    """Raised instead of training: the arguments made a valid spec."""


_flags = st.sampled_from(
    ["--" + f.replace("_", "-") for f in SPEC_FIELDS if f != "dataset_params"]
    + ["-K", "--param", "--level", "--quiet", "--", "-", "--n-train=5", "--bogus", "-h"])
_cli_values = st.one_of(
    st.text(max_size=20),
    st.just(5000).map(lambda n: "9" * n),
    st.sampled_from(["inf", "-inf", "nan", "1e400", "-0", "true", "no", "d=10",
                     "d=", "=", "d=1e400", "n_classes=3", "x=1", "label", "input", "digits",
                     "\x00", "💥", "--width"]),
    st.integers().map(str), st.floats().map(repr))


@settings(max_examples=200, suppress_health_check=list(HealthCheck), deadline=None)
@given(st.one_of(
    st.lists(st.one_of(_flags, _cli_values), max_size=8),
    # flag-value pairs: more of them parse, and reach the spec's own validation
    st.lists(st.tuples(_flags, _cli_values), max_size=4).map(lambda ps: [x for p in ps for x in p])))
def test_cli_returns_2_with_a_message_or_reaches_a_valid_run(tmp_path, monkeypatch, argv):
    def reached(spec, **kw):
        assert isinstance(spec, ExperimentSpec)
        raise _Reached

    monkeypatch.setattr("noisealign.engine.pipeline.run.run_experiment", reached)
    monkeypatch.chdir(tmp_path)
    # a valid run opens the results cache: keep it beside the folder watched for writes
    monkeypatch.setenv("NOISEALIGN_CACHE_DIR", str(tmp_path.parent / f"{tmp_path.name}-cache"))
    before = sorted(tmp_path.rglob("*"))
    err, out = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            rc = cli.main(["run", *argv])
    except _Reached:  # a valid run may open the results cache; nothing else is written
        event("valid spec reached the run")
        return
    assert sorted(tmp_path.rglob("*")) == before  # bad input: nothing written anywhere
    text = err.getvalue()
    assert "Traceback" not in text
    event(f"exit status {rc}")
    if rc == 0:  # -h / --help
        assert "usage:" in out.getvalue()
        return
    assert rc == 2, (argv, text)
    # argparse may echo the arguments it did not recognise, nothing more
    assert "error:" in text and len(text) < 3000 + sum(map(len, argv)), text[:500]


def test_cli_rejects_bad_values_with_the_field_named(capsys):
    assert cli.main(["run", "--width", "1e400"]) == 2
    assert "error: width=inf is invalid: allowed an integer in [1, 16384]" in capsys.readouterr().err
    assert cli.main(["run", "--n-train", "9" * 5000]) == 2
    assert "error: n_train=inf is invalid" in capsys.readouterr().err
    assert cli.main(["run", "--param", "d"]) == 2
    assert "--param 'd' is invalid: allowed NAME=VALUE" in capsys.readouterr().err
    assert cli.main(["run", "--no-such-flag"]) == 2
    assert "unrecognized arguments: --no-such-flag" in capsys.readouterr().err


# ----------------------------------------------------------------------------- no pickle

# Loaders that can run code from the bytes they read.
_UNSAFE_CALLS = {
    ("pickle", "load"), ("pickle", "loads"), ("pickle", "Unpickler"),
    ("cPickle", "load"), ("cPickle", "loads"), ("_pickle", "load"), ("_pickle", "loads"),
    ("dill", "load"), ("dill", "loads"), ("joblib", "load"), ("cloudpickle", "load"),
    ("cloudpickle", "loads"), ("shelve", "open"), ("marshal", "load"), ("marshal", "loads"),
    ("torch", "load"), ("yaml", "load"), ("yaml", "unsafe_load"), ("pd", "read_pickle"),
    ("pandas", "read_pickle"),
}
_DISKCACHE_CTORS = {"Cache", "FanoutCache", "Deque", "Index"}


def _project_sources() -> list[Path]:
    files = [p for d in ("noisealign", "engine", "pages", "ui", "benchmarks", "experiments")
             for p in (ROOT / d).rglob("*.py")]
    files += [p for p in ROOT.glob("*.py")]
    return sorted(files)


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


def test_no_code_path_unpickles_or_loads_arrays_with_pickle():
    problems = []
    files = _project_sources()
    assert len(files) > 10 and ROOT / "engine" / "store" / "cache.py" in files
    for path in files:
        tree = ast.parse(path.read_text(), filename=str(path))
        def where(n, path=path):
            return f"{path.relative_to(ROOT)}:{n.lineno}"
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _dotted(node.func)
            parts = name.split(".")
            kw = {k.arg: k.value for k in node.keywords}
            if (len(parts) >= 2 and (parts[-2], parts[-1]) in _UNSAFE_CALLS
                    and not (parts[-1] == "load" and parts[-2] == "torch"
                             and isinstance(kw.get("weights_only"), ast.Constant)
                             and kw["weights_only"].value is True)):
                problems.append(f"{where(node)}: {name}(...) can execute code")
            if name in ("np.load", "numpy.load"):
                ap = kw.get("allow_pickle")
                if not (isinstance(ap, ast.Constant) and ap.value is False):
                    problems.append(f"{where(node)}: {name} without allow_pickle=False")
            if (len(parts) == 2 and parts[0] == "diskcache" and parts[1] in _DISKCACHE_CTORS
                    and "disk" not in kw):
                # diskcache's default Disk unpickles values (CVE-2025-69872)
                problems.append(f"{where(node)}: {name} with the default (pickling) Disk")
    assert problems == []


def test_the_scan_finds_what_it_looks_for(tmp_path):
    # The scan itself must be able to fail.
    bad = ("import numpy as np, pickle, diskcache, torch\n"
           "np.load('a.npz')\nnp.load('b', allow_pickle=True)\npickle.loads(b'')\n"
           "diskcache.Cache('d')\ntorch.load('m.pt')\n")
    tree = ast.parse(bad)
    calls = [_dotted(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)]
    assert {"np.load", "pickle.loads", "diskcache.Cache", "torch.load"} <= set(calls)
    flagged = [c for c in calls if tuple(c.split(".")[-2:]) in _UNSAFE_CALLS]
    assert sorted(flagged) == ["pickle.loads", "torch.load"]
    assert re.search(r"allow_pickle=False", (ROOT / "engine" / "pipeline" / "result.py").read_text())
