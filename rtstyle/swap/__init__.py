"""Style-swap (Chen & Schmidt 2016): any painting is a style, no training per style.

op.py is the swap, decoder.py the inverse net, engine.py the torch/ONNX Runtime engine,
train.py trains the decoder once for all styles.
"""
