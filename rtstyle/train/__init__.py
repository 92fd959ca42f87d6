"""Training transform nets with perceptual losses (Johnson et al. 2016): `rtstyle train`.

The defaults live here, free of heavy imports, so the CLI can show them cheaply.
"""

# The offline VGG19 stops at relu3_4, so the default layers stay within it; style stops
# at relu3_1 because relu3_2..relu3_4 (three 256-channel convs) would double VGG's cost.
DEFAULT_CONTENT_LAYERS = ("relu2_2",)
DEFAULT_STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_1")
# Weights of the relative loss terms (see losses.PerceptualLoss), tuned on udnie.
DEFAULT_WEIGHTS = {"content": 2.0, "style": 3.0, "tv": 10.0}


def prior_runs(record: dict) -> list[dict]:
    """The training runs behind a model started from `record` (--init), newest first and
    without loss curves, so a fine-tuned model's record counts every step behind it."""
    run = {k: v for k, v in record.items() if k not in ("loss_curve", "init_history")}
    return [run, *record.get("init_history", [])]
