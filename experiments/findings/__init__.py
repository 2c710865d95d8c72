"""Reproduce the two papers' findings with this project's engine and write the report.

Every figure is a sweep of :mod:`noisealign.engine.presets.catalog` (the same settings the dashboard offers
as one-click presets), computed through :func:`noisealign.engine.compute.sweep.run_sweep` and the results
cache, so an interrupted run resumes where it stopped and a rerun only computes what is
missing. Nothing here re-implements the engine: numbers come from the cached summaries
(:func:`noisealign.engine.measures.summaries.summarise`) and, for the per-member cross-entropy and training
error that the summary leaves out, from the cached :class:`engine.Result` arrays.

Usage (from the repository root)::

    .venv/bin/python -m experiments.findings                 # full run -> docs/findings.md
    .venv/bin/python -m experiments.findings --quick         # small scale -> test-artifacts/
    .venv/bin/python -m experiments.findings --workers 2 --cache /path/to/cache

The full run writes ``docs/findings.md``, ``docs/figures/findings_*.png`` and
``docs/figures/findings_run.json`` (timing of the runs that computed the points).

The modules, in the order the data flows through them:

- :mod:`~experiments.findings.collect`: presets to sweeps, and each grid point (from the
  sweep and the cache) reduced to a :class:`~experiments.findings.collect.Point`;
- :mod:`~experiments.findings.claims`: the statistics and the verdict on each claim;
- :mod:`~experiments.findings.figures`: the matplotlib figures;
- :mod:`~experiments.findings.report`: the markdown, one function per section, the run
  record and the interpretation notes;
- :mod:`~experiments.findings.__main__`: the command line.
"""
