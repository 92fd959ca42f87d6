"""rtstyle: real-time neural style transfer for webcams and video files."""

__version__ = "0.1.0"
