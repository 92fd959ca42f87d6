"""`rtstyle styles`: list, preview, import, pull and remove styles."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("styles", help="list, preview, import, pull or remove styles")
    ssub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    ssub.add_parser("list", help="show built-in and user styles").set_defaults(run=run_list)
    imp = ssub.add_parser("import", help="import an ml5 folder, a pytorch/examples .pth "
                                         "or an .onnx file as a user style")
    imp.add_argument("path", type=Path)
    imp.add_argument("--name", help="style name (default: the file or folder name)")
    imp.add_argument("--arch", choices=["fst", "johnson"],
                     help="architecture of a .pth (default johnson)")
    imp.set_defaults(run=run_import)
    pull = ssub.add_parser("pull", help="download a published ml5 checkpoint (needs internet)")
    pull.add_argument("name")
    pull.set_defaults(run=run_pull)
    pv = ssub.add_parser("preview", help="a contact sheet of styles painted over a photo")
    pv.add_argument("names", nargs="*", metavar="NAME", help="styles to show (default: all)")
    pv.add_argument("-o", "--output", type=Path, default=Path("styles.png"),
                    help="the sheet image (default: styles.png)")
    pv.add_argument("--photo", type=Path, help="your photo (default: a built-in portrait)")
    pv.add_argument("--columns", type=int, default=4, help="tiles per row (default: 4)")
    pv.set_defaults(run=run_preview)
    rm = ssub.add_parser("remove", help="delete a user style")
    rm.add_argument("name")
    rm.set_defaults(run=run_remove)
    check = ssub.add_parser(
        "check", help="measure how strongly styles carry their painting (needs rtstyle[train])",
        description="Gram ratio (lower = more of the painting) and content ratio (lower = more "
                    "of the photo kept) of each style on each photo, at 512 px; see "
                    "docs/styles/README.md. Use photos the styles were not trained on.")
    check.add_argument("names", nargs="+", metavar="NAME", help="style names or model files")
    check.add_argument("--painting", type=Path, required=True,
                       help="the painting the styles should carry")
    check.add_argument("--photos", type=Path, nargs="+", required=True, metavar="PHOTO")
    check.add_argument("--backend", default="auto")
    check.add_argument("--max-gram", type=float, default=None,
                       help="exit 1 if a style's mean Gram ratio is above this")
    check.add_argument("--max-content", type=float, default=None,
                       help="exit 1 if a style's mean content ratio is above this")
    check.set_defaults(run=run_check)


def run_list(args: argparse.Namespace) -> int:
    from rtstyle.styles.catalogue import list_styles, user_dir

    rows = [("NAME", "ARCH", "ORIGIN", "SOURCE", "PAINTING", "LICENCE")]
    for s in list_styles():
        m = s.meta
        rows.append((s.name, m.get("arch", "?"), s.origin,
                     m.get("source", m.get("error", "?")), _painting(m), m.get("licence", "?")))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[5])
    if len(rows) == 1:
        print("(no styles yet: `rtstyle styles pull udnie` or `rtstyle styles import PATH`)")
    print(f"user styles live in {user_dir()}")
    return 0


def _painting(meta: dict) -> str:
    """'Title (Artist, year)' for styles whose model records their painting, else '-'."""
    p = meta.get("painting")
    if not isinstance(p, dict):
        return "-"
    return f"{str(p.get('title', '?'))[:60]} ({str(p.get('artist', '?'))[:40]}, " \
           f"{str(p.get('year', '?'))[:12]})"


def _show(style) -> None:
    from rtstyle.styles.catalogue import shadows_builtin

    print(f"imported '{style.name}' ({style.meta.get('arch')}) -> {style.path}")
    if shadows_builtin(style.name):
        print(f"note: it hides the built-in '{style.name}'; `rtstyle styles remove "
              f"{style.name}` brings that back")
    print(f"source: {style.meta.get('source')}")
    print(f"licence: {style.meta.get('licence')}")


def run_import(args: argparse.Namespace) -> int:
    from rtstyle.styles.catalogue import import_style

    _show(import_style(args.path, args.name, args.arch))
    return 0


def run_pull(args: argparse.Namespace) -> int:
    from rtstyle.styles.catalogue import pull_style
    from rtstyle.styles.importers import PUBLISHED

    if args.name in PUBLISHED:
        print(f"'{args.name}': {PUBLISHED[args.name][0]}; licence: {PUBLISHED[args.name][1]}")
    _show(pull_style(args.name))
    return 0


def run_preview(args: argparse.Namespace) -> int:
    from rtstyle.engines import paint_image
    from rtstyle.files import check_writable
    from rtstyle.images import check_image_output, check_image_size, write_image
    from rtstyle.limits import check_count
    from rtstyle.styles.preview import SAMPLE_PHOTO, contact_sheet, pick_styles

    photo = args.photo or SAMPLE_PHOTO
    check_image_size(photo, None)
    check_count(args.columns, "--columns", 16, 1)
    check_writable(args.output)
    check_image_output(args.output)
    styles = pick_styles(args.names)
    write_image(args.output, contact_sheet(styles, paint_image, photo, args.columns))
    print(f"{len(styles)} styles on {photo.name} -> {args.output}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from rtstyle.styles.catalogue import remove_style

    print(f"removed {remove_style(args.name)}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    from rtstyle.errors import RtstyleError

    try:
        import torch  # noqa: F401  (the measure's VGG runs on torch)
    except ImportError as e:
        raise RtstyleError("styles check measures with torch; install it with "
                           "pip install 'rtstyle[train]'") from e
    from rtstyle.engines import open_engine
    from rtstyle.images import read_image
    from rtstyle.train.strength import StrengthMeter, fit_longer, measure_engine

    meter = StrengthMeter(read_image(args.painting))
    photos = [fit_longer(read_image(p)) for p in args.photos]
    failed = False
    print(f"{'STYLE':24s}  GRAM mean (worst)  CONTENT mean (worst)  on {len(photos)} photo(s)")
    for name in args.names:
        s = measure_engine(meter, open_engine(name, args.backend), photos)
        bad = [what for what, value, limit in (("gram", s["gram_mean"], args.max_gram),
                                               ("content", s["content_mean"], args.max_content))
               if limit is not None and value > limit]
        failed |= bool(bad)
        print(f"{name:24s}  {s['gram_mean']:.3f} ({s['gram_worst']:.3f})      "
              f"{s['content_mean']:.3f} ({s['content_worst']:.3f})"
              + (f"   ABOVE --max-{' and --max-'.join(bad)}" if bad else ""))
    return 1 if failed else 0
