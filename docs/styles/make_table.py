"""Print the table of built-in styles in docs/commands.md from the models' own training records.

    .venv/bin/python docs/styles/make_table.py

Each built-in's `made_by` holds its last training run and, under `init_history`, the runs
of the model it was fine-tuned from, so the table can count every step behind a style.
"""

from __future__ import annotations

from rtstyle.styles.catalogue import BUILTIN_DIR
from rtstyle.styles.modelfile import read_meta


def _losses(d: dict | None) -> str:
    if not d:
        return "-"
    return f"{d['content']:.3f} / {d['style']:.3f} / {d['tv']:.4f}"


def _runs(made_by: dict) -> list[dict]:
    """This run and the ones behind its --init, oldest first."""
    return [*reversed(made_by.get("init_history", [])), made_by]


def main() -> None:
    print("| Style | Arch | Painting | Runs: steps @ crop/batch | Steps in all | Train time "
          "| Weights c/s/tv/temporal (last run) | Final train losses c / s / tv "
          "| Held-out c / s / tv |")
    print("|---|---|---|---|---|---|---|---|---|")
    commands = []
    for path in sorted(BUILTIN_DIR.glob("*.safetensors")):
        meta = read_meta(path)
        if meta.get("format") != "rtstyle-model" or "weights" not in meta.get("made_by", {}):
            continue  # not a trained style (the swap decoder, the upscaler)
        made_by = meta["made_by"]
        runs = [r for r in _runs(made_by) if "steps" in r]
        w = made_by["weights"]
        chain = " → ".join(f"{r['steps']} @ {r['size']}/{r['batch']}" for r in runs)
        print(f"| `{meta['style']}` | {meta['arch']} | {made_by['style_image']} | {chain} "
              f"| {sum(r['steps'] for r in runs)} "
              f"| {round(sum(r['time_s'] for r in runs) / 60)} min "
              f"| {w['content']:g} / {w['style']:g} / {w['tv']:g} / {w.get('temporal', 0):g} "
              f"| {_losses(made_by['final_losses'])} | {_losses(made_by['held_out_losses'])} |")
        for i, r in enumerate(runs):
            command = r["command"] if isinstance(r["command"], str) else " ".join(r["command"])
            commands.append(f"- `{meta['style']}`, run {i + 1}: `{command}`")
    print("\n<details><summary>Exact training commands</summary>\n")
    print("\n".join(commands))
    print("\n</details>")


if __name__ == "__main__":
    main()
