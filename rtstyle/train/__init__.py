"""Training transform nets with perceptual losses (Johnson et al. 2016): `rtstyle train`.

The defaults live here, free of heavy imports, so the CLI can show them cheaply.
"""

# The shipped VGG19 slice stops at relu3_1, so every default layer is within it (relu3_2
# and deeper would double VGG's cost for little). Content at relu3_1, the deepest layer,
# keeps a photo's structure under a strong style (relu2_2 let buildings go mushy); style
# on relu1_1..relu3_1 includes the three layers the strength measure uses
# (rtstyle.train.strength). Measured in docs/styles/README.md.
DEFAULT_CONTENT_LAYERS = ("relu3_1",)
DEFAULT_STYLE_LAYERS = ("relu1_1", "relu1_2", "relu2_1", "relu2_2", "relu3_1")
# Weights of the relative loss terms (see losses.PerceptualLoss), tuned on udnie.
# "temporal" (losses.stability_loss) is off by default: it costs a second pass of the
# transform net per step; the built-ins use it to keep strong styles from flickering.
DEFAULT_WEIGHTS = {"content": 2.0, "style": 10.0, "tv": 10.0, "temporal": 0.0}
# The painting's longer side for the style targets: the size the strength measure uses.
# At 256 the brush strokes came out half the painting's scale and the style weak.
DEFAULT_STYLE_SIZE = 512


def prior_runs(record: dict) -> list[dict]:
    """The training runs behind a model started from `record` (--init), newest first and
    without loss curves, so a fine-tuned model's record counts every step behind it."""
    run = {k: v for k, v in record.items() if k not in ("loss_curve", "init_history")}
    return [run, *record.get("init_history", [])]
