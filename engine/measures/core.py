"""Measures of representational alignment and information content (docs/science.md section 2).

Pure functions of arrays (numpy arrays or torch tensors, on the CPU or a GPU):

- :func:`information_imbalance` -- exact Information Imbalance, both directions
- :func:`information_imbalance_to` -- one direction, Delta(A -> B) (fast when B is
  discrete, e.g. labels)
- :func:`information_imbalance_matrix` -- the same for every ordered pair of M spaces
- :func:`linear_cka` / :func:`linear_cka_matrix` -- linear CKA (Kornblith et al. 2019),
  biased or debiased
- :func:`mutual_knn` / :func:`mutual_knn_matrix` -- mutual k-NN alignment (Huh et al. 2024)
- :func:`cknna` -- CKNNA, CKA over mutual nearest neighbours (Huh et al. 2024)
- :func:`intrinsic_dimension` -- TwoNN / GRIDE (:mod:`noisealign.engine.measures.intrinsic_dim`, numpy;
  equal to dadapy's, which is only a test reference)

Spaces. A representation is a 2-D array (N points, features). A 1-D array of an
**integer or bool** dtype is a label vector and is treated as one-hot vectors: the distance
of two points is 0 (same label) or sqrt(2) (different labels), so ties dominate. A 1-D
array of a **float** dtype is one coordinate, i.e. shape (N, 1).

Ties. Ranks are mid-ranks (the expectation under random tie-breaking); when several
points tie for the k-th nearest neighbour, each tied candidate gets an equal share of the
remaining weight, so the neighbour weights of a point always sum to k. Mutual k-NN uses
the same weights: the overlap of two neighbour sets is the expected overlap under
independent random tie-breaking, sum_j w^A_ij w^B_ij.

Exactness of distances. Squared Euclidean distances are computed after subtracting the
coordinate-wise (lower) median, which is a data value (so integer data stay integers):
from coordinate differences for up to 4 features, otherwise as |a|^2 + |b|^2 - 2 a.b
(a matrix product, so it is fast). Exactly duplicated points are detected first
(``torch.unique``) and distances are taken between unique points, so duplicates get
*bit-identical* distances from every point and distance exactly 0 from each other; the
k-NN and rank computations therefore see their ties exactly. Distinct points whose true
distances tie are only seen as tied when the arithmetic is exact (e.g. small integer
coordinates or one-hot vectors); otherwise they differ by rounding, as in any
floating-point code. The matrix-product formula loses relative precision when
neighbours are much closer than the points' norms (a nearly rank-one representation
with many points): in float32 a space is checked on a sample of 128 points and computed
in float64 instead when its nearest-neighbour squared distances fall below 2^11 float32
epsilons of the squared norms. Use ``dtype=torch.float64`` for agreement with float64
references to the last rank.

Speed. Time O(N^2 (d_A + d_B)) (one matrix product per block of rows and space), plus
O(N^2 k) comparisons for the ranks; a row sort (O(N^2 log N)) only for rows whose k-th
neighbour ties with more than 24 candidates (label spaces). Memory O(block x N).
Discrete spaces (label vectors, or at most ~1,000 distinct points): a point's mid-rank in
another's row depends only on the two classes, so the ranks *in* such a space come from
a (U, U) table counted once per class (``_Space.rank_table``) and cost O(k) per row after
the neighbour search; Delta(h -> labels) then needs no label distances and no sort
(:func:`information_imbalance_to`). The other direction, Delta(labels -> h), has whole
classes as neighbours: their weights come from the same per-class counts, h's rows are
sorted once (values only) and each weighted point's mid-rank is found by binary search
(O(N^2 log N), but without argsort or dense weight rows).

Degenerate input. When all points of a space coincide, every distance ties: the measures
then take their random-tie-breaking values -- Information Imbalance 1 in both directions
(no information), mutual k-NN k/(N-1) (chance) -- linear CKA is undefined (NaN), the
intrinsic dimension is 0; a :class:`DegenerateRepresentationWarning` is issued.

Where they live. This module only re-exports the public names; each family has its own
module: :mod:`~noisealign.engine.measures.information` (Information Imbalance),
:mod:`~noisealign.engine.measures.knn` (mutual k-NN), :mod:`~noisealign.engine.measures.cka`
(linear CKA, CKNNA), :mod:`~noisealign.engine.measures.dimension` (intrinsic dimension),
on the shared :mod:`~noisealign.engine.measures.spaces` (validation, distance blocks),
:mod:`~noisealign.engine.measures.ranks` (neighbours, weights, mid-ranks) and
:mod:`~noisealign.engine.measures.passes` (one pass over the rows for several measures).
"""

from .cka import (
    cknna,
    cknna_from_knn,
    inner_product_knn,
    linear_cka,
    linear_cka_matrix,
)
from .dimension import (
    ID_METHODS,
    intrinsic_dimension,
    intrinsic_dimensions,
)
from .information import (
    information_imbalance,
    information_imbalance_matrix,
    information_imbalance_to,
)
from .knn import mutual_knn, mutual_knn_matrix
from .passes import alignment_matrices, keeps_candidates
from .spaces import ArrayLike, DegenerateRepresentationWarning

__all__ = [
    "ID_METHODS",
    "ArrayLike",
    "DegenerateRepresentationWarning",
    "alignment_matrices",
    "cknna",
    "cknna_from_knn",
    "information_imbalance",
    "information_imbalance_matrix",
    "information_imbalance_to",
    "inner_product_knn",
    "intrinsic_dimension",
    "intrinsic_dimensions",
    "keeps_candidates",
    "linear_cka",
    "linear_cka_matrix",
    "mutual_knn",
    "mutual_knn_matrix",
]
