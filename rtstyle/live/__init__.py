"""Live stylisation: sources, the newest-frame slot, the inference worker, the pipeline."""
