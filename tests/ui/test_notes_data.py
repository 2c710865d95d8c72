"""Notes tied to the data (issue 28, item 6): every "What to notice" line states what
the drawn curves do (checked here against the data drawn), and a verdict box appears
only under a view that shows its claim (no SNR verdict under a label-noise plot, none on
the theory page)."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from noisealign.ui import notes, plots
from tests.app.test_app import chart_specs, no_exception, open_app


def _frame(xs, align, error, series="a") -> pd.DataFrame:
    return pd.DataFrame({"x": xs, "series": series, "align_mean": align, "align_sem": 0.01,
                         "error_mean": error, "error_sem": 0.01, "key": "k"})


def test_view_claims_follow_the_view():
    assert notes.view_claims("alignment", x="n_train", series="snr_db") == (1, 2, 3)
    assert notes.view_claims("alignment", x="label_noise", series="none",
                             noise="label") == (3,)
    assert 1 not in notes.view_claims("alignment", x="width", series="snr_db", noise="label")
    assert notes.view_claims("theory", x="nd") == ()


def test_sweep_notice_reads_the_curve():
    f = _frame([0, 0.1, 0.2, 0.4, 0.8], [0.93, 0.7, 0.6, 0.5, 0.41], [0.05, 0.2, 0.3, 0.5, 0.8])
    text = notes.sweep_notice(f, x="label_noise", x_name="p", measure="CKA")
    assert "CKA falls from 0.93 at p = 0 to 0.41 at 0.8" in text
    assert "the test error rises from 0.05 to 0.8" in text
    assert "lowest" not in text  # no inner minimum
    dip = _frame([20, 35, 50, 70, 100], [0.8, 0.5, 0.3, 0.6, 0.9], [1, 2, 5, 2, 1])
    text = notes.sweep_notice(dip, x="n_train", x_name="n", measure="CKA", threshold=51)
    assert "lowest (0.30) at n = 50 near the dashed interpolation threshold" in text
    far = notes.sweep_notice(dip, x="n_train", x_name="n", measure="CKA", threshold=500)
    assert "lowest (0.30) at n = 50" in far and "threshold" not in far
    two = pd.concat([dip, _frame([20, 35, 50, 70, 100], [0.9] * 5, [1] * 5, series="b")])
    assert "the curve of s = b lies highest" in notes.sweep_notice(
        two, x="n_train", x_name="n", measure="CKA", series_name="s")
    assert notes.sweep_notice(_frame([1], [0.5], [0.1]), x="width", x_name="w",
                              measure="CKA") is None


def _theory_fig(at) -> dict:
    return json.loads(chart_specs(at)[0])


def _trace(fig: dict, name_start: str) -> tuple[np.ndarray, np.ndarray]:
    tr = next(t for t in fig["data"] if (t.get("name") or "").startswith(name_start))
    return (np.asarray(plots._decode(tr["x"]), float), np.asarray(plots._decode(tr["y"]), float))


def _markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_theory_default_view_note_matches_the_drawn_curves():
    at = no_exception(open_app("pages/theory.py"))
    text = next(m for m in _markdown(at).split("\n") if m.startswith("**What to notice:**"))
    x, cka = _trace(_theory_fig(at), "Linear CKA, finite d")
    _, err = _trace(_theory_fig(at), "test error")
    # The test error's peak: where the note says, on the drawn curve.
    peak = float(re.search(r"test error peaks at n/d ≈ ([\d.]+)", text).group(1))
    assert peak == pytest.approx(x[np.argmax(err)], rel=0.05)
    # A local maximum of the CKA near n = d is claimed only where the curve has one.
    m = re.search(r"local maximum \(([\d.]+)\) at n/d ≈ ([\d.]+)", text)
    bumps = [i for i in range(1, len(x) - 1) if 0.5 < x[i] < 1.5
             and cka[i] > cka[i - 1] and cka[i] >= cka[i + 1]]
    assert bool(m) == bool(bumps), text
    if m:
        i = min(bumps, key=lambda j: abs(x[j] - 1))
        assert float(m.group(2)) == pytest.approx(x[i], abs=0.06)
        assert float(m.group(1)) == pytest.approx(cka[i], abs=0.006)
        assert "dip" not in text.split("local maximum")[0], "no 'CKA dips at n = d'"
    # The plain-words explanation is a caption next to the plot (not a folded box), and
    # no verdict box on the theory page.
    assert notes.CKA_BUMP_CAPTION in [c.value for c in at.caption]
    assert not any("Our runs differ from the paper" in i.value for i in at.info)


def test_digits_label_noise_preset_notes_match_its_plot():
    at = open_app(auto="false")
    at.selectbox(key="_preset_pick_alignment").set_value("digits_label_noise").run()
    at.button(key="_preset_load_alignment").click().run()
    no_exception(at)
    fig = json.loads(chart_specs(at)[0])
    tr = next(t for t in fig["data"] if t.get("mode") == "lines+markers")
    xs, ys = np.asarray(plots._decode(tr["x"]), float), np.asarray(plots._decode(tr["y"]), float)
    text = next(m for m in _markdown(at).split("\n") if m.startswith("**What to notice:**"))
    assert f"from {ys[0]:.2f} at p = {xs[0]:g}" in text and f"to {ys[-1]:.2f}" in text, text
    assert xs[0] == 0  # the p = 0 point is drawn
    boxes = " ".join(i.value for i in at.info)
    assert "SNR" not in boxes, "an SNR verdict under a label-noise plot"


def test_delta_scale_note_only_where_values_pass_1():
    assert notes.delta_scale_note([0.2, 0.9, 1.0]) is None
    assert notes.delta_scale_note([float("nan")]) is None
    text = notes.delta_scale_note([0.5, 1.04])
    assert "up to 1.04" in text and "no information" in text
