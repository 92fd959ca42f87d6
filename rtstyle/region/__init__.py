"""Stylise only the person, or only the background: a person mask from MediaPipe's selfie
segmenter (run on OpenVINO), feathered, composites the stylised frame over the original.

`with_region(engine, "person")` wraps any engine, so image, video and the live paths
share one code path and the mask follows every style switch.
"""

from rtstyle.region.engine import REGIONS, RegionEngine, with_region

__all__ = ["REGIONS", "RegionEngine", "with_region"]
