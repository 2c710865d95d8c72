"""Number controls for spec fields that never drop a value silently, and that say when a
sweep axis sets them.

A ``st.number_input`` with ``min_value``/``max_value`` refuses a typed value outside them
in the browser (the field turns red and the old value stays in use) and ignores one from
a link: the user is not told which value is in effect. :func:`spec_number` therefore
leaves the range to the spec (``noisealign.engine.pipeline.constraints.FIELDS``): the value
reaches :class:`engine.ExperimentSpec`, whose ``ValueError`` names the field and the
allowed range, and the page shows it next to the control (``noisealign.ui.page_support.ErrorSlots``,
with the field's label). The range is in the control's help as well.

A control whose field the page's sweep sets (the x axis or the series) is shown
disabled, with a note, so nobody edits a value that has no effect.
"""

from __future__ import annotations

from typing import Any

from . import labels
from .page_support import spec_range

OVERRIDDEN_NOTE = "Set by the sweep axis."


def range_text(field: str, floor: float | None = None) -> str:
    """ "Allowed: -40 to 80 (or inf)." for ``field``, from the field's constraint."""
    from noisealign.engine.pipeline.constraints import interval
    rule = interval(field)
    lo, hi = spec_range(field, floor)
    text = f"Allowed: {lo:,.6g} to {hi:,.6g}"
    if rule.lo_open:
        text = f"Allowed: above {rule.lo:g}, up to {hi:,.6g}"
    unit = f" {rule.unit}" if rule.unit else ""
    return text + (f"{unit} (or inf: {rule.inf_means})." if rule.allow_inf else f"{unit}.")


def spec_number(where: Any, field: str, value: float, *, key: str, label: str | None = None,
                step: float | None = None, format: str | None = None,
                help: str | None = None, overridden: bool = False,
                floor: float | None = None) -> Any:
    """A number input for spec field ``field``, bound to the URL key ``key``.

    Parameters
    ----------
    where
        ``st``, ``st.sidebar`` or a column.
    field
        The spec field (its range comes from ``noisealign.engine.pipeline.spec``; :func:`noisealign.ui.page_support.spec_range`).
    value
        The default (its type, int or float, is the control's).
    label
        The control's label; default :func:`ui.labels.label` of ``field``.
    overridden
        A sweep axis sets this field: the control is disabled with a note, and ``value``
        is used when what it holds is outside the range (it has no effect anyway).
    floor
        For a field whose lowest value is excluded (``lr > 0``): the lowest value shown
        in the help.

    Returns
    -------
    The control's value, out of range or not: the spec checks it and says why.
    """
    text = f"{help} " if help else ""
    text += f"{range_text(field, floor)} (spec field `{field}`)"
    got = where.number_input(label or labels.label(field), value=value, step=step,
                             format=format, key=key, bind="query-params", help=text,
                             disabled=overridden)
    if overridden:
        where.caption(OVERRIDDEN_NOTE)
        if not in_range(field, got):
            return value
    return got


def in_range(field: str, value: Any) -> bool:
    """Whether ``value`` is within the spec's range for ``field`` (snr_db: also inf)."""
    from noisealign.engine.pipeline.constraints import interval
    return interval(field).contains(value)


def select_id(where: Any, label: str, options: list, *, key: str, index: int = 0,
              format_func: Any = labels.format_option, **kwargs: Any) -> Any:
    """A selectbox that shows ``format_func(option)`` (a human label) while the URL key
    ``key`` keeps the option itself (``?x=snr_db``), as links and presets write it.

    Streamlit's ``bind="query-params"`` would put the *formatted* label in the URL (and
    ignore the ids every existing link carries), so this one syncs the URL itself: a
    valid URL value seeds the control on a first visit, and the URL follows the control
    (the default leaves it out). Other keyword arguments go to ``selectbox``.
    """
    import streamlit as st
    default = options[index]
    if st.session_state.get(key) not in options:
        # First visit (or a value no longer offered): the link's value, else the default.
        given = st.query_params.get(key)
        st.session_state[key] = given if given in options else default
    value = where.selectbox(label, options, key=key, format_func=format_func, **kwargs)
    if value == default:
        if key in st.query_params:
            del st.query_params[key]
    elif st.query_params.get(key) != value:
        st.query_params[key] = value
    return value


def multiselect_id(where: Any, label: str, options: list, *, key: str, default: list,
                   format_func: Any = labels.format_option, **kwargs: Any) -> list:
    """:func:`select_id` for a multiselect: the menu shows ``format_func(option)`` (a
    measure's name, not its id), the URL key ``key`` keeps the ids, one ``key=id`` per
    chosen option, as ``bind="query-params"`` wrote them (existing links keep working);
    the default set leaves it out, an empty choice is ``key=``."""
    import streamlit as st
    if key not in st.session_state or not set(st.session_state[key]) <= set(options):
        given = st.query_params.get_all(key)
        st.session_state[key] = ([v for v in given if v in options] if given
                                 else list(default))
    value = list(where.multiselect(label, options, key=key, format_func=format_func,
                                   **kwargs))
    if value == list(default):
        if key in st.query_params:
            del st.query_params[key]
    elif st.query_params.get_all(key) != (value or [""]):
        st.query_params[key] = value or ""
    return value
