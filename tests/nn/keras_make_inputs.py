#!/usr/bin/python3
"""Writes N real images (Fashion-MNIST test set, Debian's dataset-fashion-mnist) as one .npy of Keras inputs:
NHWC float32 [N, S, S, 3], resized 28->S with OpenCV bilinear, gray copied to RGB, preprocessed the Keras 'tf'
way (x/127.5 - 1). Usage: keras_make_inputs.py OUT.npy N SIZE [OFFSET]"""
import gzip
import sys

import cv2
import numpy as np

DATA = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


def main():
    out, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    offset = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    with gzip.open(DATA, "rb") as f:
        raw = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)
    imgs = raw[offset:offset + n]
    x = np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_LINEAR) for im in imgs]).astype(np.float32)
    x = np.repeat(x[..., None], 3, axis=3)
    x = x / np.float32(127.5) - np.float32(1.0)
    np.save(out, np.ascontiguousarray(x, dtype=np.float32))


if __name__ == "__main__":
    main()
