"""Video files: ffmpeg, probing, decoding, encoding, stabilisation and the stylise loop."""
