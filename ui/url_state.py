"""The address bar holds every setting after every run (issue 28, item 2).

Two writers share the URL. The browser writes a control bound with
``bind="query-params"`` itself, the moment it is edited; the server writes the whole
query string whenever the script changes ``st.query_params`` (:func:`ui.controls.select_id`
does, for its id-valued menus), from its own copy of the URL. That copy is the one the
browser sent with the run's request. A run that is overtaken by a newer edit
therefore sends a query string without that edit, and the browser takes it as the
whole URL: choosing the activation while the Series run was in flight lost ``act=relu``
for good (the next edit wrote ``n=500`` into the URL that lacked it), and a copied link
then opened a linear network.

:func:`reconcile` ends every full run of a page (``ui.router``): it rebuilds the query
string from the values the bound controls have *in this run* (Streamlit's own rule: a
value equal to the control's default is left out), keeps the parameters the page wrote
itself or no control of this run owns, and sends the result. The browser ignores a query
string equal to its own, so a run that changed nothing adds no history entry; one that
follows a lost write puts it back. Reads Streamlit internals
(``QueryParams._bindings_by_param``, widget metadata): :func:`reconcile` does nothing
where they are missing.
"""

from __future__ import annotations

import logging
from typing import Any

_LOG = logging.getLogger(__name__)


def _query_params(ctx: Any) -> Any:
    """The session's ``QueryParams`` object, read directly: ``SafeSessionState.query_params()``
    first handles a pending stop, and this also runs while ``st.stop()`` unwinds."""
    state = getattr(ctx.session_state, "_state", None)
    return getattr(state, "query_params", None)


def bound_values() -> dict[str, Any] | None:
    """{URL key: URL value} for every bound control drawn in this run whose value is not
    its default, and None for one at its default; None outside a script run or where the
    internals differ."""
    try:
        from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx
        from streamlit.runtime.state.query_params import _coerce_value_for_query_url
    except ImportError:  # pragma: no cover - another Streamlit
        return None
    ctx = get_script_run_ctx()
    if ctx is None:
        return None
    state = getattr(ctx.session_state, "_state", None)
    widgets = getattr(state, "_new_widget_state", None)
    if widgets is None or not hasattr(widgets, "widget_metadata"):
        return None
    drawn = getattr(getattr(ctx, "shared", None), "widget_ids_this_run", None)
    if drawn is None:
        return None
    out: dict[str, Any] = {}
    qp = _query_params(ctx)
    if qp is None:
        return None
    bindings = dict(getattr(qp, "_bindings_by_param", {}) or {})
    for key, binding in bindings.items():
        meta = widgets.widget_metadata.get(binding.widget_id)
        if meta is None or binding.widget_id not in drawn or key not in state:
            continue
        value = state[key]
        if value == meta.deserializer(None):
            out[key] = None
        else:
            out[key] = _coerce_value_for_query_url(meta.serializer(value), meta.value_type)
    return out


def merged(current: dict[str, Any], bound: dict[str, Any]) -> dict[str, Any]:
    """The query parameters ``current`` (the server's copy) with every bound control's
    value from ``bound`` (None: at its default, so left out), sorted by key as the
    browser sorts the parameters it writes (an equal string is then no new entry)."""
    out = {k: v for k, v in current.items() if k not in bound}
    out.update({k: v for k, v in bound.items() if v is not None})
    return dict(sorted(out.items()))


def _send(ctx: Any, qp: Any, *, stopping: bool) -> None:
    """``qp``'s query string to the browser. While ``st.stop()`` unwinds, every normal
    send raises the stop again (Streamlit handles a pending stop at each message), so
    the message goes straight to the session, as the runner itself would pass it on."""
    if not stopping:
        qp._send_query_param_msg()
        return
    from streamlit.runtime.scriptrunner.script_runner import ScriptRunnerEvent
    runner = getattr(ctx._enqueue, "__self__", None)
    if runner is None or not hasattr(runner, "on_event"):
        return

    def direct(msg: Any) -> None:
        runner.on_event.send(runner, event=ScriptRunnerEvent.ENQUEUE_FORWARD_MSG,
                             forward_msg=msg)

    original = ctx._enqueue
    ctx._enqueue = direct
    try:
        qp._send_query_param_msg()
    finally:
        ctx._enqueue = original


def reconcile(*, stopping: bool = False) -> bool:
    """Send the URL this run's controls imply (module doc); True if it was sent.
    ``stopping``: the page ended with ``st.stop()`` (the router's except branch)."""
    bound = bound_values()
    if bound is None:
        return False
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx
    ctx = get_script_run_ctx()
    if getattr(ctx, "fragment_ids_this_run", None):
        return False  # a fragment's rerun draws only part of the page
    qp = _query_params(ctx)
    try:
        qp._query_params = merged(dict(qp._query_params), bound)
        _send(ctx, qp, stopping=stopping)
    except Exception:  # noqa: BLE001  # pragma: no cover - internals changed: the URL stays as it is
        _LOG.exception("could not write the URL")
        return False
    return True
