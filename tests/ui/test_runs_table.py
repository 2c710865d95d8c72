"""Pure helpers of the Runs page (noisealign.ui.tables): names and tags in the table, grouping by
sweep or dataset, filters, the comparison of two runs, the shared colour range."""

from __future__ import annotations

import math

import numpy as np
import pytest

from noisealign.engine import ExperimentSpec
from noisealign.ui import tables as data

BASE = ExperimentSpec(dataset="linear-teacher", dataset_params={"d": 4}, n_train=10,
                      n_probe=20, width=4, ensemble_size=2, max_epochs=5).to_dict()


def spec(**changes) -> dict:
    return {**BASE, **changes}


def entry(key: str, s: dict, summary: dict | None = None, created: float = 0.0) -> dict:
    return {"key": key * 64 if len(key) == 1 else key, "spec": s, "summary": summary or {},
            "created": created, "bytes": 1}


def summary(cka: float, err: float, h_to_y: list[float] | None = None, N: int = 20,
            k: int = 1) -> dict:
    out = {"N": N, "k": k, "knn_k": 10, "test_error": {"mean": err, "std": 0.0, "sem": 0.01},
           "measures": {"cka": {"mean": cka, "std": 0.0, "sem": 0.02, "n_pairs": 1}}}
    if h_to_y is not None:
        out["information_content"] = {"trained": {"ii_h_to_y": h_to_y}}
    return out


# ----------------------------------------------------------------------------- groups


def test_sweep_groups_are_runs_that_differ_only_in_swept_fields():
    specs = [spec(), spec(n_train=20), spec(n_train=20, seed=1, snr_db=0.0),
             spec(width=8, init_scale=0.5, label_noise=0.1),
             spec(activation="tanh"),                     # another sweep
             spec(dataset_params={"d": 5}),               # another dataset: another sweep
             spec(device="cpu")]                          # where it ran does not matter
    groups = data.run_groups(specs, "sweep")
    ids = [g["group"] for g in groups]
    assert ids[0] == ids[1] == ids[2] == ids[3] == ids[6]
    assert len({ids[0], ids[4], ids[5]}) == 3
    assert [g["group_size"] for g in groups] == [5, 5, 5, 5, 1, 1, 5]
    assert groups[0]["varies"] == "n_train, snr_db, width, label_noise, init_scale, seed"
    assert groups[4]["varies"] == ""
    assert all(i.startswith("sweep ") and len(i) == len("sweep ") + 6 for i in ids)


def test_group_ids_do_not_depend_on_what_else_is_cached():
    alone = data.run_groups([spec()], "sweep")[0]["group"]
    among = data.run_groups([spec(activation="tanh"), spec(n_train=5), spec()], "sweep")
    assert among[2]["group"] == alone == among[1]["group"]


def test_dataset_groups_and_invalid_grouping():
    groups = data.run_groups([spec(), spec(activation="tanh"), spec(dataset_params={"d": 5})],
                             "dataset")
    assert groups[0]["group"] == groups[1]["group"] != groups[2]["group"]
    assert [g["group_size"] for g in groups] == [2, 2, 1]
    with pytest.raises(ValueError, match="by='width' is invalid"):
        data.run_groups([spec()], "width")


def test_table_has_names_tags_and_group_columns_and_filters():
    entries = [entry("a", spec()), entry("b", spec(n_train=20)),
               entry("c", spec(activation="tanh"))]
    labels = {"a" * 64: {"name": "base", "tags": ["Lecture", "x"]},
              "c" * 64: {"name": "tanh one", "tags": ["lecture"]}}
    table = data.runs_table(entries, labels)
    assert list(table["name"]) == ["base", "", "tanh one"]
    assert list(table["tags"]) == ["Lecture, x", "", "lecture"]
    assert data.table_tags(table) == ["Lecture", "x"]  # one spelling per tag
    assert set(data.filter_runs(table, tags=["LECTURE"])["name"]) == {"base", "tanh one"}
    assert list(data.filter_runs(table, tags=["x"])["name"]) == ["base"]
    assert list(data.filter_runs(table, query="TANH ONE")["name"]) == ["tanh one"]
    grouped = data.add_groups(table, entries, "sweep")
    assert list(grouped.columns[:6]) == ["key", "name", "tags", "group", "group_size", "varies"]
    assert list(grouped["group_size"]) == [2, 2, 1]
    g = grouped["group"].iloc[0]
    assert list(data.filter_runs(grouped, group=g)["key"]) == ["a" * 64, "b" * 64]
    assert data.add_groups(table, entries, "none") is table
    assert list(data.add_groups(table.iloc[:0], entries, "sweep").columns) == list(grouped.columns)
    # The export carries them too.
    exported = data.runs_export(entries, labels)
    assert [(e["name"], e["tags"]) for e in exported] == [("base", ["Lecture", "x"]),
                                                          ("", []), ("tanh one", ["lecture"])]


def test_run_labels_find_a_renamed_run_by_its_key():
    row = data.runs_table([entry("a", spec())], {"a" * 64: {"name": "new", "tags": []}})
    label = data.run_label(row.iloc[0].to_dict())
    assert label.startswith("“new” · linear-teacher") and label.endswith("(aaaaaaaa)")
    assert data.find_label([label], label) == label
    assert data.find_label([label], "“old” · whatever (aaaaaaaa)") == label
    assert data.find_label([label], "something (bbbbbbbb)") is None
    assert data.find_label([label], None) is None


def test_run_labels_tell_activation_and_init_scale_apart():
    rows = data.runs_table([entry("a", spec(activation="linear")),
                            entry("b", spec(activation="relu", init_scale=1.0))])
    a, b = (data.run_label(r) for r in rows.to_dict("records"))
    assert "· linear · init=0.1 ·" in a or "· linear · init=" in a, a
    assert "· relu · init=1 ·" in b, b
    assert a.split(" (")[0] != b.split(" (")[0]


# ----------------------------------------------------------------------------- compare


def test_compare_lists_only_differing_spec_fields_and_the_headline_measures():
    a = entry("a", spec(), summary(0.5, 0.1, h_to_y=[0.2, 0.4]))
    b = entry("b", spec(activation="tanh", n_train=20, device="cpu"),
              summary(0.7, 0.2, N=30))
    frame = data.compare_frame(a, b)
    specs = frame[frame["kind"] == "spec"]
    assert list(specs["field"]) == ["n_train", "activation"]  # device is not a difference
    assert list(specs["quantity"]) == ["Training samples n", "Activation"]
    assert list(specs["run A"]) == ["10", "relu"] and list(specs["run B"]) == ["20", "tanh"]
    rows = frame.set_index("field")
    assert rows.loc["cka", "run A"] == "0.5000 ± 0.02"
    assert rows.loc["test_error", "run B"] == "0.2000 ± 0.01"
    assert rows.loc["ii_h_to_y", "run A"].startswith("0.3000 ± ")  # mean of the members
    assert rows.loc["ii_h_to_y", "run B"] == "—"                 # absent in B
    assert rows.loc["N", "differs"] and not rows.loc["k", "differs"]
    assert "ii_score" not in rows.index  # in neither run
    assert frame["differs"].dtype == bool


def test_compare_of_identical_specs_has_no_spec_rows():
    a = entry("a", spec(), summary(0.5, 0.1))
    frame = data.compare_frame(a, entry("b", spec(), summary(0.5, 0.1)))
    assert not (frame["kind"] == "spec").any() and not frame["differs"].any()


def test_shared_range_covers_both_matrices():
    m1 = np.array([[1.0, 0.2], [0.3, 1.0]])
    m2 = np.array([[1.0, math.nan], [0.9, 0.5]])
    assert data.shared_range(m1, m2) == (0.2, 1.0)
    assert data.shared_range(m1, None) == (0.2, 1.0)
    assert data.shared_range(None, np.full((2, 2), math.nan)) is None
    assert data.shared_range(np.ones((2, 2))) == (0.5, 1.5)
