"""The package owns one import name: the wheel holds ``noisealign/`` only (engine, ui,
pages and the app inside it), every subpackage of the checkout is listed in pyproject,
and the checkout's old top-level ``engine`` names are the same objects as the package's."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_subpackage_is_listed_in_pyproject():
    cfg = _config()
    listed = set(cfg["packages"])
    dirs = cfg["package-dir"]
    found = {"noisealign"}
    for name, folder in dirs.items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            found.add(".".join([name, *rel.parts]) if rel.parts else name)
    found |= {"noisealign.pages", "noisealign._streamlit"}  # folders of files, no __init__
    assert found == listed, (sorted(found - listed), sorted(listed - found))


def test_old_top_level_names_are_the_packages_objects():
    code = ("import engine, noisealign\n"
            "from noisealign.engine.pipeline.spec import ExperimentSpec\n"
            "assert engine.ExperimentSpec is ExperimentSpec is noisealign.ExperimentSpec\n"
            "assert engine.__version__ == noisealign.__version__\n"
            "import sys; assert 'torch' not in sys.modules, 'importing is not instant'\n")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)


@pytest.mark.slow
def test_wheel_claims_only_noisealign(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True, timeout=600)
    (wheel,) = tmp_path.glob("noisealign-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"noisealign"}, tops
    for must in ("noisealign/app.py", "noisealign/pages/alignment.py",
                 "noisealign/engine/pipeline/spec.py", "noisealign/ui/router.py",
                 "noisealign/engine/presets/data/presets.json",
                 "noisealign/_streamlit/config.toml", "noisealign/ui/static/favicon.png"):
        assert must in names, must


@pytest.mark.parametrize("module", ["noisealign", "engine"])
def test_python_dash_m_runs_the_cli(module):
    out = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT, timeout=120,
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "run" in out.stdout and "sweep" in out.stdout
