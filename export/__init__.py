"""Exporters from rtstyle nets to deployable graphs (installed as `rtstyle.export`)."""
