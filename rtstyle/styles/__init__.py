"""Styles: the catalogue (built-in and user styles), the model file format, importers,
and exports of a style as deployable graphs."""
