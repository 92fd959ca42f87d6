"""Benchmark results for people: a table on stdout, markdown for READMEs, PNG plots.

The JSON written by `rtstyle bench --json` is the record; everything here is derived from
it, so a recorded run can be re-rendered without re-measuring.
"""

from __future__ import annotations

from pathlib import Path

from rtstyle.errors import RtstyleError

COLUMNS = [("model", "model"), ("size", "size"), ("engine", "engine"), ("precision", "prec"),
           ("gflops", "GFLOP"), ("ms_median", "ms med"), ("ms_p95", "ms p95"), ("fps", "FPS"),
           ("speedup_vs_torch", "x torch"), ("gflops_per_s", "GFLOP/s"),
           ("fraction_of_peak", "% peak"), ("peak_mem_mb", "+peak MB"),
           ("psnr_vs_torch_db", "PSNR dB"), ("runs", "runs")]


TITLES = {"full": "full net (fst)", "lite": "lite net", "swap": "style-swap",
          "sr": "x4 upscaler (sr)"}


def engine_label(rec: dict) -> str:
    """An engine named by backend and precision, e.g. `openvino-bf16`, never a bare
    `openvino` that runs bf16."""
    name, precision = rec["engine"], rec.get("precision")
    return name if not precision or name.endswith(precision) else f"{name}-{precision}"


def _cell(rec: dict, key: str) -> str:
    value = rec.get(key)
    if key == "engine":
        return engine_label(rec)
    if key == "psnr_vs_torch_db" and rec["engine"] == "torch":
        return "ref"
    if key == "psnr_vs_torch_db" and value is None and key in rec and rec.get("status") == "ok":
        return "identical"  # bit-equal to torch fp32: PSNR is infinite
    if value is None:
        return "-"
    if key == "fraction_of_peak":  # of this precision's peak; else of fp32's, said so
        kind = rec.get("peak_precision")
        return f"{100 * value:.0f}%" + (f" of {kind}" if kind and kind != rec.get("precision")
                                        else "")
    if key == "speedup_vs_torch":
        return f"{value:.2f}x"
    if isinstance(value, float):
        return f"{value:.3g}" if value < 10 else f"{value:.1f}"
    return str(value)


def rows(report: dict) -> list[list[str]]:
    """One row per engine case; skipped/rejected/failed cases say why in the last column."""
    out = []
    for rec in report["engines"]:
        cells = [_cell(rec, key) for key, _ in COLUMNS]
        note = "" if rec["status"] == "ok" else f"{rec['status']}: {rec.get('reason', '')}"
        out.append([*cells, note])
    return out


def pipeline_summary(rec: dict) -> str:
    """The figures of one pipeline run on one line (the JSON keeps the commands and notes)."""
    parts = []
    for k, v in rec.items():
        if isinstance(v, bool) or not isinstance(v, (int, float, str)) or k in {"command",
                                                                               "note", "metric",
                                                                               "source"}:
            continue
        parts.append(f"{k} {_num(v)}")
    return ", ".join(parts)


def _num(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.0f}" if abs(v) >= 100 else f"{v:.3g}"
    return str(v)


HEADLINE_MIN_PSNR = 35.0  # dB against torch fp32: what a headline engine must keep


def headline(report: dict) -> dict:
    """The targets: the fastest CPU engine's speed-up over torch eager for the full net at
    640x480 among those within HEADLINE_MIN_PSNR of torch fp32, and the lite net's best
    CPU FPS at 640x480 and 1280x720."""
    ok = [r for r in report["engines"] if r["status"] == "ok"
          and "cuda" not in r.get("backend", "") and "tensorrt" not in r["engine"]
          and (r.get("psnr_vs_torch_db") or 99) >= HEADLINE_MIN_PSNR]
    full = [r for r in ok if r["model"] == "full" and r["size"] == "640x480"
            and r.get("speedup_vs_torch")]
    best_full = max(full, key=lambda r: r["speedup_vs_torch"], default=None)
    out = {
        "min_psnr_db": HEADLINE_MIN_PSNR,
        "full_640x480_fastest_cpu_engine": best_full and best_full["engine"],
        "full_640x480_speedup_vs_torch": best_full and best_full["speedup_vs_torch"],
        "full_640x480_ms_median": best_full and best_full["ms_median"],
        "full_640x480_psnr_db": best_full and best_full.get("psnr_vs_torch_db"),
    }
    for size in ("640x480", "1280x720"):
        lite = [r for r in ok if r["model"] == "lite" and r["size"] == size]
        best = max(lite, key=lambda r: r["fps"], default=None)
        out[f"lite_{size}_fastest_cpu_engine"] = best and best["engine"]
        out[f"lite_{size}_fps"] = best and best["fps"]
    return out


def text_table(report: dict) -> str:
    """The results as an aligned plain-text table with a header saying what was measured."""
    m = report["machine"]
    header = [title for _, title in COLUMNS] + ["note"]
    body = rows(report)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header) - 1)]
    lines = [f"rtstyle bench {m['date']} | {m['cpu']} | {m['threads']} threads | fp32 peak "
             f"{report['peak']['gflops_per_s']} GFLOP/s ({report['peak']['method']})",
             f"input: {report['settings']['input']}", ""]
    for r in [header, *body]:
        lines.append("  ".join(c.rjust(w) if i > 3 else c.ljust(w)
                               for i, (c, w) in enumerate(zip(r, widths, strict=False)))
                     + ("  " + r[-1] if r[-1] else ""))
    for name, rec in report.get("pipelines", {}).items():
        lines.append(f"pipeline {name}: {pipeline_summary(rec)}")
    for key, value in report.get("missing", {}).items():
        lines.append(f"not benchmarked: {key} ({value})")
    return "\n".join(lines + ["", *footer(report)])


def footer(report: dict) -> list[str]:
    """The headline figures, each saying what it is and why one may be missing, then
    what the less obvious columns mean."""
    h = report["headline"]
    db = h.get("min_psnr_db", HEADLINE_MIN_PSNR)
    why = (f"no CPU engine ran this size within {db:g} dB of torch fp32; add it with "
           "--sizes")
    full = (f"{h['full_640x480_fastest_cpu_engine']} is the fastest CPU engine within "
            f"{db:g} dB of torch fp32, {h['full_640x480_speedup_vs_torch']}x torch eager"
            if h["full_640x480_speedup_vs_torch"] else why)
    lines = [f"Full net at 640x480: {full}."]
    for size in ("640x480", "1280x720"):
        fps = h.get(f"lite_{size}_fps")
        best = (f"{fps} FPS on {h[f'lite_{size}_fastest_cpu_engine']}, the fastest CPU engine "
                f"within {db:g} dB" if fps else why)
        lines.append(f"Lite net at {size}: {best}.")
    lines += ["Columns: engine = backend-precision; ms med/p95 = one frame's latency; "
              "x torch = speed-up over torch eager fp32;",
              "  % peak = achieved GFLOP/s over this machine's matmul peak at the engine's "
              "precision ('of fp32' where that precision's peak was not measured);",
              "  +peak MB = how far loading and running this engine raised the process's peak "
              "resident memory (near 0 when it fit under an earlier engine's peak);",
              "  PSNR dB = output against torch fp32 on the same frame (identical: "
              "bit-equal); runs = timed runs."]
    return lines


def markdown(report: dict) -> str:
    """The results as markdown: date, machine, command, then the table."""
    m = report["machine"]
    libs = ", ".join(f"{k} {v}" for k, v in m["libraries"].items() if v)
    header = [title for _, title in COLUMNS] + ["note"]
    lines = [f"Measured {m['date']} on {m['cpu']} ({m['usable_cpus']} usable CPUs, "
             f"{m['threads']} threads, flags {' '.join(m['cpu_flags'])}); "
             f"load average at start {m['load_average_1_5_15min']}.",
             f"Libraries: {libs}.", "",
             f"Command: `{report['command']}`", "",
             f"fp32 peak: **{report['peak']['gflops_per_s']} GFLOP/s** "
             f"({report['peak']['method']}). Input: {report['settings']['input']}.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in r) + " |" for r in rows(report)]
    if report.get("pipelines"):
        lines += ["", "| pipeline | results |", "|---|---|"]
        lines += [f"| {name} | {pipeline_summary(rec)} |"
                  for name, rec in report["pipelines"].items()]
    if report.get("missing"):
        lines.append("")
        lines += [f"- not benchmarked: `{k}`: {v}" for k, v in report["missing"].items()]
    return "\n".join(lines) + "\n"


def matplotlib_missing() -> str | None:
    """Why plots cannot be drawn here, or None when they can."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return ("matplotlib is not installed, so no plots were drawn; install it with "
                "pip install 'rtstyle[dev]' (or pip install matplotlib)")
    return None


def plot(report: dict, folder: Path) -> list[Path]:
    """fps_by_size.png (FPS against frame size, one line per engine, one panel per model)
    and latency.png (the distribution of per-frame times at each model's sizes)."""
    reason = matplotlib_missing()
    if reason:
        raise RtstyleError(reason)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    from rtstyle.files import atomic_output

    folder.mkdir(parents=True, exist_ok=True)
    ok = [r for r in report["engines"] if r["status"] == "ok"]
    models = list(dict.fromkeys(r["model"] for r in ok))
    if not models:
        return []
    m = report["machine"]
    title = f"{m['cpu']}, {m['threads']} threads, {m['date'][:10]}"
    sizes = sorted({(r["width"] * r["height"], r["size"]) for r in report["engines"]})
    order = {s: i for i, (_, s) in enumerate(sizes)}
    written = []

    engines = list(dict.fromkeys(r["engine"] for r in report["engines"]))
    colour = {e: f"C{i % 10}" for i, e in enumerate(engines)}  # one colour per engine
    fig, axes = plt.subplots(1, len(models), figsize=(5.5 * len(models), 4.2), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        for engine in dict.fromkeys(r["engine"] for r in ok if r["model"] == model):
            pts = sorted((order[r["size"]], r["fps"]) for r in ok
                         if r["model"] == model and r["engine"] == engine)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=engine,
                    color=colour[engine])
        ax.axhline(30, color="grey", linestyle="--", linewidth=0.8)
        ax.text(0, 30, " 30 FPS", va="bottom", fontsize=8, color="grey")
        ax.set_xticks(range(len(sizes)), [s for _, s in sizes])
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(TITLES.get(model, model))
        ax.set_xlabel("frame size")
        ax.set_ylabel("frames per second (median)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"rtstyle engines: FPS by size ({title})", fontsize=10)
    fig.tight_layout()
    written.append(_save(fig, folder / "fps_by_size.png", atomic_output))

    fig, axes = plt.subplots(len(models), 1, figsize=(10, 2.8 * len(models)), squeeze=False)
    for ax, model in zip(axes[:, 0], models, strict=True):
        recs = sorted((r for r in ok if r["model"] == model),
                      key=lambda r: (order[r["size"]], r["engine"]))
        ax.boxplot([r["times_ms"] for r in recs], orientation="horizontal", whis=(5, 95))
        ax.set_yticks(range(1, len(recs) + 1), [f"{r['size']} {r['engine']}" for r in recs],
                      fontsize=7)
        ax.set_xscale("log")
        ax.set_xlabel("ms per frame (box: quartiles, whiskers: p5-p95)")
        ax.set_title(f"{TITLES.get(model, model)}: per-frame latency, warm-up excluded",
                     fontsize=9)
        ax.grid(True, axis="x", which="both", alpha=0.3)
    fig.suptitle(f"rtstyle engine latency ({title})", fontsize=10)
    fig.tight_layout()
    written.append(_save(fig, folder / "latency.png", atomic_output))
    return written


def _save(fig, path: Path, atomic_output) -> Path:
    import matplotlib.pyplot as plt

    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path
