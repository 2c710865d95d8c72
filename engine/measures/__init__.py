"""Measures of representational alignment and information content.

- ``core``: pure functions of arrays (numpy or torch, CPU or GPU): Information Imbalance,
  mutual k-nearest neighbours, linear CKA, CKNNA, intrinsic dimension; its opening
  docstring says what each computes, how ties are handled, what is exact and the cost.
- ``intrinsic_dim``: TwoNN and GRIDE with numpy only (dadapy is a test reference).
- ``registry``: the measures as data (:class:`Measure`: name, labels, direction, which k,
  the function), read by summaries, compare, the pages, the exports and the report.
- ``summaries``: the ensemble summary of a :class:`Result` (alignment between members,
  information content of each member) that the cache stores with every run.
"""

from noisealign.engine.base.lazy import exports

__all__, __getattr__, __dir__ = exports(__name__, {
    "information_imbalance": "core", "information_imbalance_to": "core",
    "information_imbalance_matrix": "core", "mutual_knn": "core",
    "mutual_knn_matrix": "core", "linear_cka": "core", "linear_cka_matrix": "core",
    "cknna": "core", "intrinsic_dimension": "core", "intrinsic_dimensions": "core",
    "alignment_matrices": "core", "summarise": "summaries",
    "Measure": "registry", "measure": "registry", "twonn": "intrinsic_dim", "gride": "intrinsic_dim",
})
