"""``python -m engine`` in a checkout: the command line, the same as ``python -m noisealign``.

Absolute on purpose: run as ``engine``, a relative import would load a second copy of the
engine under that name.
"""

from noisealign.engine.cli.commands import main

raise SystemExit(main())
