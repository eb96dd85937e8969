"""``python -m imcpnn``: the command line (as the ``imcpnn`` script), e.g. on a machine where the package
runs from ``src/`` on ``PYTHONPATH`` without being installed."""

from .cli.main import main

raise SystemExit(main())
