"""Style-swap (Chen & Schmidt 2016): any painting is a style, no training per style.

op.py is the swap (and the per-painting index that makes it cheap), decoder.py the inverse
net, train.py trains the decoder once for all styles. The engine that runs them on torch
and on every graph backend is rtstyle/engines/swap.py; the encoder (VGG19 to relu3_1,
shipped) is rtstyle/nets/vgg.py.
"""
