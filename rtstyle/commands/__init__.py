"""One module per `rtstyle` sub-command; cli.py discovers them. Keep heavy imports in `run`."""
