"""Lets `python -m rtstyle` behave exactly like the `rtstyle` console script."""

from rtstyle.cli import main

# Guarded: a spawned child (the live hand-over's training process) imports this module
# as __mp_main__ and must not run the command line again.
if __name__ == "__main__":
    raise SystemExit(main())
