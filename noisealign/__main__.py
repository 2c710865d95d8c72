"""``python -m noisealign``: the command line (``noisealign --help``)."""

from noisealign.engine.cli.commands import main

raise SystemExit(main())
