"""Where stylised frames go: windows and video files."""
