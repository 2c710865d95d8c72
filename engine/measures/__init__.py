"""Measures of representational alignment and information content.

- ``core``: the public measures in one place (re-exported from their modules); its opening
  docstring says what each computes, how ties are handled, what is exact and the cost.
- ``information`` (Information Imbalance), ``knn`` (mutual k-NN), ``cka`` (linear CKA,
  CKNNA), ``dimension`` (intrinsic dimension of a representation): the measures by family,
  pure functions of arrays (numpy or torch, CPU or GPU).
- ``spaces``, ``ranks``, ``passes``: internal, shared by the measures (validated spaces and
  their distance blocks; neighbours, weights and mid-ranks; one pass over the rows for
  several measures).
- ``intrinsic_dim``: TwoNN and GRIDE with numpy only (dadapy is a test reference).
- ``registry``: the measures as data (:class:`Measure`: name, labels, direction, which k,
  the function), read by summaries, compare, the pages, the exports and the report.
- ``summaries``: the ensemble summary of a :class:`Result` (alignment between members,
  information content of each member) that the cache stores with every run.
"""

from ..base.lazy import exports

__all__, __getattr__, __dir__ = exports(__name__, {
    "information_imbalance": "information", "information_imbalance_to": "information",
    "information_imbalance_matrix": "information", "mutual_knn": "knn",
    "mutual_knn_matrix": "knn", "linear_cka": "cka", "linear_cka_matrix": "cka",
    "cknna": "cka", "intrinsic_dimension": "dimension", "intrinsic_dimensions": "dimension",
    "alignment_matrices": "passes", "summarise": "summaries",
    "Measure": "registry", "measure": "registry", "twonn": "intrinsic_dim", "gride": "intrinsic_dim",
})
