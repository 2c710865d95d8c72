"""Experiments run with the engine from the repository root: ``python -m experiments.findings``
(the findings report, docs/findings.md) and ``python -m experiments.linear_theory`` (the
linear theory against the engine's own training, docs/linear_theory.md)."""
