"""Stylise a video archive on a Ray cluster: segments at keyframes, one engine per worker.

`run_batch` is the entry point (the `rtstyle batch` command calls it). Ray is an optional
extra (`rtstyle[cluster]`); nothing here imports it until a batch starts.
"""

from rtstyle.cluster.scheduler import BatchSummary, require_ray, run_batch

__all__ = ["BatchSummary", "require_ray", "run_batch"]
