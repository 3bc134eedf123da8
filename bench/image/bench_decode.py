"""Image decode + resize: xfer (bench_image_decode) against OpenCV's Python binding (cv2.imread + cv2.resize) on
the same 1,000 JPEGs of 1500x1200, both on 2 threads, in one run. Prints images/s for each and the ratio.
Usage: /usr/bin/python3 bench/image/bench_decode.py BENCH_BINARY [--count N] [--size 299] [--threads 2]
The JPEGs are generated once (cv2.imwrite, quality 90) into $XFER_BENCH_CACHE or /tmp/xfer-bench-jpegs."""
import argparse
import json
import os
import subprocess
import time
from multiprocessing.pool import ThreadPool

import cv2
import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("binary")
parser.add_argument("--count", type=int, default=1000)
parser.add_argument("--size", type=int, default=299)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--rounds", type=int, default=3)
args = parser.parse_args()

folder = os.path.join(os.environ.get("XFER_BENCH_CACHE", "/tmp/xfer-bench-jpegs"), f"n{args.count}")
os.makedirs(folder, exist_ok=True)
rng = np.random.default_rng(0)
y, x = np.mgrid[0:1200, 0:1500].astype(np.float32)
# Photo-like content: 8 smooth patterns, each image one of them plus its own crop of a sensor-like noise field
# (generating 1,000 independent 1500x1200 patterns in numpy would take minutes).
patterns = []
for k in range(8):
    a, b, c = rng.uniform(50, 400, 3)
    patterns.append(np.stack([127 + 90 * np.sin(x / a + y / b + j) * np.cos(y / c - j) for j in range(3)], axis=2))
noise = rng.normal(0, 8, (1400, 1700, 3)).astype(np.float32)
for i in range(args.count):
    path = os.path.join(folder, f"{i:05d}.jpg")
    if os.path.exists(path):
        continue
    oy, ox = rng.integers(0, 200, 2)
    img = np.clip(patterns[i % 8] + noise[oy:oy + 1200, ox:ox + 1500], 0, 255).astype(np.uint8)
    cv2.imwrite(path + ".tmp.jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    os.replace(path + ".tmp.jpg", path)
files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".jpg"))[: args.count]

# Warm the page cache so both read from memory.
for f in files:
    with open(f, "rb") as fh:
        fh.read()


def cv2_one(path):
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return cv2.resize(img, (args.size, args.size), interpolation=cv2.INTER_LINEAR).astype(np.float32)[0, 0, 0]


def run_cv2():
    start = time.perf_counter()
    with ThreadPool(args.threads) as pool:  # cv2 releases the GIL while decoding and resizing
        pool.map(cv2_one, files, chunksize=4)
    return len(files) / (time.perf_counter() - start)


def run_xfer(*extra):
    r = subprocess.run([args.binary, folder, str(args.threads), str(args.size), str(args.size), *extra],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout)["images_per_second"]


# Rounds alternate between the two so that a busy machine slows both alike; the best round of each is reported.
xfer_rates, xfer_full_rates, cv2_rates = [], [], []
for _ in range(args.rounds):
    xfer_rates.append(run_xfer())
    cv2_rates.append(run_cv2())
    xfer_full_rates.append(run_xfer("--no-dct-scaling"))
xfer_rate, xfer_full, cv2_rate = max(xfer_rates), max(xfer_full_rates), max(cv2_rates)
print(f"decode + resize of {len(files)} JPEGs 1500x1200 -> {args.size}x{args.size} RGB float, {args.threads} threads, "
      f"best of {args.rounds} alternating rounds")
print(f"  xfer (TurboJPEG DCT scaling + cv::resize) {xfer_rate:8.1f} images/s")
print(f"  xfer (full-size decode, for reference)     {xfer_full:8.1f} images/s")
print(f"  OpenCV Python (cv2.imread + cv2.resize)    {cv2_rate:8.1f} images/s")
print(f"  ratio xfer / cv2: {xfer_rate / cv2_rate:.2f}x (full-size decode: {xfer_full / cv2_rate:.2f}x)")
