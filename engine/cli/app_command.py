"""``noisealign app``: serve the dashboard from a checkout or an installed package.

Binds 127.0.0.1 unless ``--host`` says otherwise (with a warning: the dashboard has no
password), with the dashboard's Streamlit settings (the safe defaults) passed on as flags.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from .text import parse_value, show_value

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8501  # as `make run` serves the dashboard


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
NON_LOCAL_WARNING = (
    "warning: --host {host} serves the dashboard to every machine that can reach this "
    "address. It has no password: anyone who can reach the port can use it (start "
    "training, read and delete the shared results cache). Use a reverse proxy with a "
    "password and TLS whenever the network is not fully trusted (README: Serving to a "
    "lab network).")


def find_app() -> Path:
    """The dashboard's entry script: :func:`noisealign.engine.base.paths.dashboard_script`
    (a checkout's app.py, or the installed package's noisealign/app.py with pages/ beside it)."""
    from ..base.paths import dashboard_script
    app = dashboard_script()
    if not app.is_file():
        raise OSError(f"the dashboard's script {app} is missing: reinstall noisealign, or run "
                      "`streamlit run app.py` in a checkout")
    return app


def config_flags(path: Path, given: tuple[str, ...] = ()) -> list[str]:
    """``--section.option value`` for every setting of a Streamlit config.toml (lists as a
    repeated flag) except those ``given`` on the command line, so the installed dashboard
    gets the checkout's safe defaults."""
    import tomllib
    try:
        config = tomllib.loads(path.read_text())
    except (OSError, ValueError):
        return []
    flags: list[str] = []
    for section, options in config.items():
        for name, value in options.items():
            if f"{section}.{name}" in given:
                continue
            for v in value if isinstance(value, list) else [value]:
                flags += [f"--{section}.{name}",
                          str(v).lower() if isinstance(v, bool) else str(v)]
    return flags


def app_command(host: str, port: int, app: Path) -> list[str]:
    """The ``streamlit run`` command line that serves ``app`` on ``host:port`` with the
    dashboard's settings (:func:`noisealign.engine.base.paths.dashboard_config`); the
    address and port given here win over the file's."""
    from ..base.paths import dashboard_config
    given = {"server.address": host, "server.port": str(port), "server.headless": "true",
             "browser.gatherUsageStats": "false"}
    return [sys.executable, "-m", "streamlit", "run", str(app),
            *config_flags(dashboard_config(), tuple(given)),
            *(x for name, value in given.items() for x in (f"--{name}", value))]


def cmd_app(args: argparse.Namespace) -> int:
    from ..base.validation import check_int

    port = check_int("--port", args.port, 1, 65535)
    host = str(args.host)
    if not host or len(host) > 255 or any(c.isspace() for c in host):
        raise ValueError(f"--host {show_value(host)} is invalid: allowed a host name or IP "
                         "address (default 127.0.0.1)")
    app = find_app()
    if host not in LOCAL_HOSTS:
        print(NON_LOCAL_WARNING.format(host=host), file=sys.stderr)
    print(f"serving {app} on http://{'[' + host + ']' if ':' in host else host}:{port}",
          file=sys.stderr)
    sys.stderr.flush()
    # This process becomes the server (exec, no child): a signal or Ctrl-C reaches
    # Streamlit itself and nothing is left running. The working directory is the
    # app's folder, where Streamlit reads .streamlit/config.toml (the safe defaults).
    os.chdir(app.parent)
    command = app_command(host, port, app)
    os.execv(command[0], command)
    return 0  # pragma: no cover - execv does not return


def add_app_command(sub: Any) -> None:
    """``app``: serve the dashboard (``streamlit run`` of :func:`find_app`)."""
    p = sub.add_parser("app", help="serve the dashboard (Streamlit) on this machine",
                       description="Serves the dashboard as `make run` does: on "
                       f"http://{DEFAULT_HOST}:{DEFAULT_PORT} by default.")
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address to listen on (default {DEFAULT_HOST}: this machine "
                        "only; any other address is reachable by others, see the README)")
    p.add_argument("--port", type=parse_value, default=DEFAULT_PORT,
                   help=f"port, 1 to 65535 (default {DEFAULT_PORT})")
    p.set_defaults(func=cmd_app)
