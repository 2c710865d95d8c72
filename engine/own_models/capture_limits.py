"""The resource guard's memory limit applied to :func:`noisealign.engine.own_models.activations.capture`.

A user's module can produce activations of any size (a huge layer, or an ``expand`` view
that costs nothing until it is copied): capture keeps N x D float32 values per layer, and
without a check it ran the process out of memory (the kernel killed it, 18 GB in, on a
24 GB machine). Separate from ``activations`` so that the capture loop gains one call:
before a batch's activations are copied, the values kept so far plus this batch's
(projected to every row when the inputs' length is known) are held against the limit in
force (``NOISEALIGN_MAX_MEMORY_GB``, 4 GB by default; :func:`noisealign.engine.compute.guard.limits`).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..base.units import format_bytes

BYTES_PER_VALUE = 4  # captured activations are float32


def check_capture_memory(per_row: Mapping[str, int], rows_kept: int, batch_rows: int,
                         total_rows: int | None, *,
                         max_memory_bytes: float | None = None) -> None:
    """Raise :class:`~noisealign.engine.compute.guard.ResourceLimitError` when keeping
    ``per_row[layer]`` values a row for ``total_rows`` rows (or, when unknown, the rows
    kept so far and this batch) would exceed the memory limit."""
    from ..compute.guard import MEMORY_ENV, Estimate, ResourceLimitError, limits

    rows = total_rows if total_rows is not None else rows_kept + batch_rows
    values = sum(per_row.values())
    need = float(rows) * float(values) * BYTES_PER_VALUE
    limit, _ = limits(max_memory_bytes)
    if need > limit:
        widest = max(per_row, key=lambda k: per_row[k])
        raise ResourceLimitError(
            f"capturing {len(per_row)} layer(s) of {values:,} values a row for {rows:,} "
            f"inputs needs about {format_bytes(need)}, more than the memory limit "
            f"{format_bytes(limit)} ({MEMORY_ENV}); the widest is {widest!r} "
            f"({per_row[widest]:,} values a row): capture fewer inputs or layers, or pool "
            "N-D activations (pool='avg' or 'max')",
            resource="memory", needed=need, limit=limit, estimate=Estimate(int(need), 0.0, "cpu"))


__all__ = ["check_capture_memory"]
