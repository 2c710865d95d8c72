"""The findings report decides claim 4 on the real MNIST where its files are present, and
says that it did not run where they are not.

MNIST's files cannot be downloaded on the project's machines, so the test writes a small
set of real IDX files (random 28x28 images, 300 training and 120 test points) into the
test's own data directory and runs the figure's quick sweep on them through a real
results cache.
"""

from __future__ import annotations

import os
from pathlib import Path

from experiments.findings.claims import WIDTH_FIGURE, claim4
from experiments.findings.collect import (
    MNIST_FIGURE,
    OPTIONAL,
    RunLog,
    collect,
    optional_figures,
    preset,
)
from experiments.findings.report import _mnist_md, _section_claim4
from noisealign.engine.store.cache import ResultCache
from tests.pipeline.test_datafiles import write_idx_set


def _data_dir() -> Path:
    return Path(os.environ["NOISEALIGN_DATA_DIR"])  # the test's own (conftest.py)


def test_the_mnist_figure_is_chosen_only_where_its_files_are():
    assert optional_figures() == ()
    write_idx_set(_data_dir() / "mnist", n_train=30, n_test=10)
    assert optional_figures() == (MNIST_FIGURE,)


def test_the_mnist_figure_is_the_mnist1d_sweep_on_mnist():
    full, base = preset(MNIST_FIGURE), preset(WIDTH_FIGURE)
    assert full["spec"]["dataset"] == "mnist" and full["spec"]["dataset_params"] == {}
    same = {k: v for k, v in base["spec"].items() if k not in ("dataset", "dataset_params")}
    assert all(full["spec"][k] == v for k, v in same.items())
    assert full["series"] == base["series"] and full["replicates"] == base["replicates"]
    widths = full["axes"]["width"]
    # From above the number of classes to far past P = n x classes (width 50 at n = 4000).
    assert min(widths) > 10 and max(widths) > 10 * 50
    assert MNIST_FIGURE in OPTIONAL


def test_without_files_the_report_says_mnist_did_not_run():
    text = "".join(_mnist_md({}, {}, quick=False))
    assert "**not run**" in text and "noisealign download mnist" in text


def test_with_files_claim4_is_decided_on_mnist_too(tmp_path):
    write_idx_set(_data_dir() / "mnist", n_train=300, n_test=120, seed=1)
    cache = ResultCache(tmp_path / "cache")
    data = collect([MNIST_FIGURE], quick=True, cache=cache, executor="serial",
                   log=RunLog(), echo=None)
    pts = data[MNIST_FIGURE]
    q = preset(MNIST_FIGURE, quick=True)
    assert len(pts) == len(q["axes"]["width"]) * len(q["series"]["label_noise"])
    assert all(p.spec.dataset == "mnist" and p.seeds == q["replicates"] for p in pts)
    # The decisions need a MNIST-1D sweep too; the MNIST points stand in for it here.
    c4 = claim4({WIDTH_FIGURE: pts, MNIST_FIGURE: pts})
    assert c4["mnist"]["status"] in ("holds", "partly", "does not hold", "inconclusive")
    assert c4["mnist"]["rows"] and "second dataset (real MNIST)" in c4["robustness"]
    text = "\n".join(_section_claim4({WIDTH_FIGURE: pts, MNIST_FIGURE: pts},
                                     {"4": c4}, quick=True))
    assert q["title"] in text and f"Real MNIST: **{c4['mnist']['status']}**" in text
    assert "**not run**" not in text
