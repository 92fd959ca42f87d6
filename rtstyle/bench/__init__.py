"""Benchmarks: engine speed, cost against the machine's limit, and pipeline throughput.

machine.py describes the machine and measures its fp32 peak and memory; models.py finds
the models and counts their FLOPs; inputs.py makes the frames; engines.py checks and times
engines; pipelines.py times the webcam and video pipelines; report.py renders results;
suite.py ties them together for `rtstyle bench` and benchmarks/.
"""
