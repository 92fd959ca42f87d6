"""Lets `python -m rtstyle` behave exactly like the `rtstyle` console script."""

from rtstyle.cli import main

raise SystemExit(main())
