"""The dashboard's words through Streamlit's AppTest: human labels in dropdowns and
messages (spec names stay in the URL), controls a sweep axis sets shown disabled, an
out-of-range number explained instead of dropped, and the theory page's x axis,
legends and overlays."""

from __future__ import annotations

import json

from noisealign.engine import ExperimentSpec, run_experiment
from noisealign.engine.store.cache import ResultCache, default_cache_dir
from tests.app.test_app import chart_specs, errors, no_exception, open_app


def _arr(v) -> list[float]:
    """A trace's x or y as numbers (Plotly sends numpy arrays base64-encoded)."""
    if isinstance(v, dict) and "bdata" in v:
        import base64

        import numpy as np
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).tolist()
    return list(v)


def _traces(at) -> list[dict]:
    out = json.loads(chart_specs(at)[0])["data"]
    for t in out:
        for k in ("x", "y"):
            if k in t:
                t[k] = _arr(t[k])
    return out


def _layout(at) -> dict:
    return json.loads(chart_specs(at)[0])["layout"]


def _sidebar_captions(at) -> str:
    return "\n".join(c.value for c in at.sidebar.caption)


# ----------------------------------------------------------------------------- labels


def test_dropdowns_show_labels_while_the_url_keeps_spec_names():
    at = no_exception(open_app(auto="false", x="snr_db", measure="ii_score"))
    x = at.selectbox(key="x")
    assert x.value == "snr_db"  # the link's id still selects it
    assert "Training samples n" in x.options and "Signal-to-noise ratio, SNR (dB)" in x.options
    assert not {"n_train", "snr_db", "init_scale"} & set(x.options)
    m = at.selectbox(key="measure")
    assert m.value == "ii_score"
    assert "Information Imbalance score" in m.options and "Linear CKA" in m.options
    assert "ii_score" not in m.options and "cka" not in m.options
    assert "none" in at.selectbox(key="series").options
    # Choosing writes the id, not the label, to the URL (links and presets use ids).
    at.selectbox(key="x").set_value("width").run()
    no_exception(at)
    assert at.query_params["x"] in ("width", ["width"])
    at.selectbox(key="x").set_value("n_train").run()  # the default leaves the URL
    assert "x" not in at.query_params


def test_messages_name_fields_by_their_labels():
    at = no_exception(open_app(auto="false", series="snr_db", ss=""))
    text = errors(at)
    assert "Series values: '' is invalid: allowed comma-separated numbers" in text, text
    assert "ss=" not in text
    at = no_exception(open_app(auto="false", noise="label"))
    assert "Noise kind: 'label' is invalid" in errors(at)
    assert "noise=" not in errors(at)


# ----------------------------------------------------------------------------- overrides


def test_controls_the_sweep_sets_are_disabled_with_a_note():
    at = no_exception(open_app(auto="false"))  # the default: x axis n_train, series SNR
    assert at.number_input(key="n").disabled and at.number_input(key="snr").disabled
    assert not at.number_input(key="width").disabled
    assert "Set by the sweep axis." in _sidebar_captions(at)
    at = no_exception(open_app(auto="false", series="none"))
    assert at.number_input(key="n").disabled
    assert not at.number_input(key="snr").disabled and not at.number_input(key="width").disabled
    at = no_exception(open_app(auto="false", x="width", series="snr_db",
                               ss="0, 10"))
    assert at.number_input(key="width").disabled and at.number_input(key="snr").disabled
    assert not at.number_input(key="n").disabled
    at = no_exception(open_app(auto="false", x="init_scale", xs="0.1, 1"))
    assert at.number_input(key="init").disabled
    # label noise (a slider) on a classifier
    at = no_exception(open_app(auto="false", dataset="digits", x="label_noise",
                               xs="0, 0.2"))
    assert at.slider(key="p").disabled
    # A single run sweeps nothing: every control is live, no note.
    at = no_exception(open_app(auto="false", mode="Single run"))
    assert not at.number_input(key="n").disabled
    assert "Set by the sweep axis." not in _sidebar_captions(at)


# ----------------------------------------------------------------------------- ranges


def test_an_out_of_range_snr_is_explained_not_dropped():
    at = no_exception(open_app(auto="false", x="width", series="none", snr="-100"))
    assert at.number_input(key="snr").value == -100  # kept, not reset to a default
    assert ("Signal-to-noise ratio, SNR (dB): -100.0 is invalid: allowed a number in "
            "[-40.0, 80.0] or inf") in errors(at)
    assert not chart_specs(at)
    # Typed in the field, the same: shown next to the control with the range.
    at.number_input(key="snr").set_value(25.0).run()
    assert not errors(at)
    at.number_input(key="snr").set_value(-100.0).run()
    no_exception(at)
    # Named as the control is labelled ("SNR (dB)"), with the allowed range; not applied.
    assert "SNR (dB): -100.0 is invalid: allowed a number in [-40.0, 80.0]" in errors(at)
    assert at.number_input(key="snr").label == "SNR (dB)"
    assert not chart_specs(at)
    assert "Allowed: -40 to 80" in at.number_input(key="snr").help
    # Where the sweep sets the SNR, the (disabled) field's value has no effect.
    at = no_exception(open_app(auto="false", x="snr_db", snr="-100"))
    assert "Signal-to-noise ratio, SNR (dB): -100" not in errors(at)


def test_information_page_explains_out_of_range_numbers():
    at = no_exception(open_app("pages/information.py", auto="false", n="1"))
    assert "Training samples n: 1 is invalid: allowed an integer in [2, 10000000]" \
        in errors(at)


# ----------------------------------------------------------------------------- theory


def test_theory_x_axis_can_be_the_snr():
    at = no_exception(open_app("pages/theory.py"))
    assert at.selectbox(key="tx").value == "nd"
    assert "Signal-to-noise ratio, SNR (dB)" in at.selectbox(key="tx").options
    at.selectbox(key="tx").set_value("snr_db").run()
    no_exception(at)
    assert "x axis" in [s.label for s in at.sidebar.selectbox]
    layout = _layout(at)
    assert "SNR (dB)" in layout["xaxis3"]["title"]["text"]
    labels = {m.label: float(m.value) for m in at.metric}
    assert labels["CKA at 40 dB"] > labels["CKA at -10 dB"]  # alignment rises with SNR
    cka = next(t for t in _traces(at) if t["name"].startswith("Linear CKA"))
    assert min(cka["x"]) == -10 and max(cka["x"]) == 40
    # The SNR simulations sweep snr_db at the n of the chosen n/d.
    at.text_input(key="sim_snr").set_value("0, bad").run()
    assert "SNR values to simulate (dB): '0, bad' is invalid" in errors(at)


def test_theory_legend_names_the_finite_d_cka_and_gives_delta_its_own_axis():
    at = no_exception(open_app("pages/theory.py"))
    traces = _traces(at)
    names = [t["name"] for t in traces]
    assert "Linear CKA, finite d (theory)" in names
    assert not any("= ρ²" in n for n in names)  # the old, wrong legend
    assert not any(n.startswith("ρ²") for n in names)  # optional, off by default
    delta = next(t for t in traces if t["name"] == "Information Imbalance Δ (theory)")
    assert delta["yaxis"] == "y2"
    for name in ("ρ = cos(β_a, β_b) (theory)", "Linear CKA, finite d (theory)",
                 "Information Imbalance score 1 − Δ (theory)"):
        assert next(t for t in traces if t["name"] == name).get("yaxis", "y") == "y"
    layout = _layout(at)
    assert "lower = more aligned" in layout["yaxis2"]["title"]["text"]
    assert "higher = more aligned" in layout["yaxis"]["title"]["text"]
    # The finite-d CKA is what is drawn: at n = d it is far above rho^2.
    cka = next(t for t in traces if t["name"] == "Linear CKA, finite d (theory)")
    rho = next(t for t in traces if t["name"].startswith("ρ = cos"))
    i = min(range(len(cka["x"])), key=lambda j: abs(cka["x"][j] - 1.0))
    assert cka["y"][i] > 5 * rho["y"][i] ** 2
    at.checkbox(key="large_d").check().run()
    names = [t["name"] for t in _traces(at)]
    assert "ρ² (linear CKA as d → ∞)" in names
    # log test-error axis: plain tick labels, no SI prefixes or minor labels
    err_axis = _layout(at)["yaxis3"]
    assert err_axis["type"] == "log" and err_axis["minor"]["ticks"] == ""
    assert not any(c in t for t in err_axis["ticktext"] for c in "μe")


def test_theory_overlays_the_explorers_matching_sweep():
    cache = ResultCache(default_cache_dir())
    # As the alignment explorer runs it: a bias, its own width and K; d = 10, 10 dB.
    for n in (6, 20):
        spec = ExperimentSpec(dataset="linear-teacher", dataset_params={"d": 10},
                              n_train=n, n_probe=40, noise="target", snr_db=10.0, width=4,
                              activation="linear", ensemble_size=2, max_epochs=20)
        cache.put(spec, run_experiment(spec))
    at = no_exception(open_app("pages/theory.py", d="10"))
    names = [t["name"] for t in _traces(at)]
    assert "CKA (explorer sweep)" in names and "Δ (explorer sweep)" in names
    caps = "\n".join(c.value for c in at.caption)
    assert "the alignment explorer's cached sweep" in caps and "2 points" in caps
    # Another SNR: no matching sweep, no diamonds.
    at.slider(key="snr").set_value(20).run()
    assert not any("explorer" in t["name"] for t in _traces(at))


def test_theory_simulation_numbers_out_of_range_are_explained():
    at = no_exception(open_app("pages/theory.py", K="100"))
    assert at.number_input(key="K").value == 100
    assert "Ensemble size K: 100 is invalid: allowed an integer in [2, 64]" in errors(at)
    assert at.button(key="simulate").disabled
    assert len(chart_specs(at)) == 1  # the theory itself still shows
