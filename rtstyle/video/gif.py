"""GIF output for sharing: a stylised clip re-encoded with a palette made for it.

ffmpeg's two-pass palette (palettegen, then paletteuse) keeps a GIF's 256 colours close to
the clip's own; a fixed web palette bands badly on painted skies. GIFs are large, so the
frame rate and width are capped.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from rtstyle.errors import RtstyleError
from rtstyle.files import atomic_output

GIF_FPS = 15  # at most; smoothness past this costs size a GIF viewer rarely shows
GIF_MAX_WIDTH = 480


def is_gif(path: Path) -> bool:
    return Path(path).suffix.lower() == ".gif"


def video_to_gif(src: Path, dst: Path, fps: int = GIF_FPS, max_width: int = GIF_MAX_WIDTH) -> None:
    """Write `src` (any video ffmpeg reads) to `dst` as a looping palette-optimised GIF,
    appearing only when complete (files.atomic_output)."""
    import imageio_ffmpeg

    chain = (f"fps={fps},scale='min({max_width},iw)':-2:flags=lanczos,split[a][b];"
             "[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=bayer:bayer_scale=4")
    with atomic_output(dst) as tmp:
        r = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i",
                            str(src), "-filter_complex", chain, "-loop", "0", "-f", "gif",
                            str(tmp)], capture_output=True, text=True)
        if r.returncode != 0:
            last = (r.stderr.strip().splitlines() or ["no message"])[-1]
            raise RtstyleError(f"could not write GIF {dst} (ffmpeg: {last[:200]})")
