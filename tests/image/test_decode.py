"""xfer's image decoding and preprocessing against independent answers:
- JPEG pixels against OpenCV's decoder (cv2.imdecode; both use libjpeg-turbo's accurate integer IDCT and fancy
  upsampling, so the tolerance is 0), DCT-scaled decoding against cv2.IMREAD_REDUCED_COLOR_4;
- every PNG colour type and bit depth against the numpy arrays that were encoded (pngwriter.py, a writer of its
  own), and 8/16-bit RGB(A) PNGs from cv2.imwrite against cv2.imread;
- EXIF orientations 1..8 (an APP1 segment built with struct) against numpy's transforms of the stored pixels;
- resizing against cv2.resize with the same interpolation (tolerance 1e-4), normalisations against numpy formulas;
- bad files (zero bytes, truncated JPEG and PNG, garbage, a 20000x20000 header) give errors naming file and reason.
Usage: test_decode.py IMAGE_TOOL"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pngwriter import exif_tiff, jpeg_with_exif, oriented, png_bytes  # noqa: E402

TOOL = sys.argv[1]
TMP = tempfile.mkdtemp(prefix="xfer-image-test-")
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def write(name, data):
    path = os.path.join(TMP, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def decode(path, *extra):
    out = path + ".npy"
    r = subprocess.run([TOOL, "decode", path, out, *extra], capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stdout.strip()
    return np.load(out), json.loads(r.stdout)


def preprocess(path, w, h, c, resize, norm, layout):
    out = path + ".pre.npy"
    r = subprocess.run([TOOL, "preprocess", path, out, str(w), str(h), str(c), resize, norm, layout],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return np.load(out)


def smooth_image(h, w, seed, channels=3):
    """A photo-like image (smooth gradients plus a little noise), so JPEG artefacts stay small."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    planes = [127 + 100 * np.sin(x / (17 + 5 * c) + y / (23 + 3 * c) + c) for c in range(channels)]
    img = np.stack(planes, axis=2) + rng.normal(0, 6, (h, w, channels))
    return np.clip(img, 0, 255).astype(np.uint8)


rng = np.random.default_rng(7)

# ---- JPEG: colour and grey, against cv2.imdecode
rgb = smooth_image(240, 320, 1)
ok, jpg = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
path = write("colour.jpg", jpg.tobytes())
got, info = decode(path)
want = cv2.imdecode(jpg, cv2.IMREAD_COLOR)[:, :, ::-1]
check("jpeg rgb decode == cv2.imdecode", got is not None and got.shape == want.shape and
      np.array_equal(got, want), f"{info}")

grey = smooth_image(120, 160, 2, channels=1)
ok, jpg_grey = cv2.imencode(".jpg", grey[:, :, 0])
path = write("grey.jpg", jpg_grey.tobytes())
got, info = decode(path)
want = cv2.imdecode(jpg_grey, cv2.IMREAD_GRAYSCALE)
check("jpeg grey decode == cv2.imdecode", got is not None and info["channels"] == 1 and
      np.array_equal(got[:, :, 0], want), f"{info}")

# ---- JPEG DCT scaling: a 1500x1200 image needed at >= 299x299 is decoded at 1/4 (375x300), as libjpeg's
# scale_denom=4, which cv2.IMREAD_REDUCED_COLOR_4 also asks for.
big = smooth_image(1200, 1500, 3)
ok, jpg_big = cv2.imencode(".jpg", big[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
path = write("big.jpg", jpg_big.tobytes())
got, info = decode(path, "--min", "299x299")
want = cv2.imdecode(jpg_big, cv2.IMREAD_REDUCED_COLOR_4)[:, :, ::-1]
check("jpeg DCT-scaled decode is 375x300", got is not None and got.shape == (300, 375, 3), f"{info}")
check("jpeg DCT-scaled decode == cv2 IMREAD_REDUCED_COLOR_4", got is not None and got.shape == want.shape and
      np.array_equal(got, want))
got, info = decode(path, "--min", "400x400")
check("jpeg DCT scale never goes below the requested size", got is not None and got.shape[0] >= 400 and
      got.shape[1] >= 400 and got.shape[0] < 1200, f"{info}")

# ---- PNG: every colour type and bit depth, against the encoded arrays
H, W = 13, 17  # odd sizes exercise sub-byte row padding
for depth in (1, 2, 4, 8, 16):
    g = rng.integers(0, 2 ** depth, (H, W, 1))
    path = write(f"grey{depth}.png", png_bytes(g, 0, depth))
    got, info = decode(path)
    scale = 255 // (2 ** depth - 1) if depth < 8 else 1  # libpng expands 1/2/4-bit grey to 8 bits by repetition
    check(f"png grey {depth}-bit", got is not None and info["channels"] == 1 and
          info["depth"] == (16 if depth == 16 else 8) and np.array_equal(got, g * scale), f"{info}")
for depth in (8, 16):
    ga = rng.integers(0, 2 ** depth, (H, W, 2))
    got, info = decode(write(f"greyalpha{depth}.png", png_bytes(ga, 4, depth)))
    check(f"png grey+alpha {depth}-bit (alpha dropped)", got is not None and info["channels"] == 1 and
          np.array_equal(got, ga[:, :, :1]), f"{info}")
    c3 = rng.integers(0, 2 ** depth, (H, W, 3))
    got, info = decode(write(f"rgb{depth}.png", png_bytes(c3, 2, depth)))
    check(f"png rgb {depth}-bit", got is not None and info["channels"] == 3 and info["depth"] == depth and
          np.array_equal(got, c3), f"{info}")
    c4 = rng.integers(0, 2 ** depth, (H, W, 4))
    got, info = decode(write(f"rgba{depth}.png", png_bytes(c4, 6, depth)))
    check(f"png rgba {depth}-bit (alpha dropped)", got is not None and np.array_equal(got, c4[:, :, :3]), f"{info}")
for depth in (1, 2, 4, 8):
    n = 2 ** depth
    palette = rng.integers(0, 256, (n, 3))
    idx = rng.integers(0, n, (H, W, 1))
    got, info = decode(write(f"palette{depth}.png", png_bytes(idx, 3, depth, palette=palette,
                                                              trns=[128] * min(n, 4))))
    check(f"png palette {depth}-bit with tRNS", got is not None and info["channels"] == 3 and
          np.array_equal(got, palette[idx[:, :, 0]]), f"{info}")

# cv2-written PNGs (zlib settings and filters of another encoder), 8 and 16 bit, against cv2.imread
for dtype, depth in ((np.uint8, 8), (np.uint16, 16)):
    bgr = rng.integers(0, np.iinfo(dtype).max + 1, (31, 29, 3)).astype(dtype)
    path = os.path.join(TMP, f"cv2_{depth}.png")
    cv2.imwrite(path, bgr)
    got, info = decode(path)
    want = cv2.imread(path, cv2.IMREAD_UNCHANGED)[:, :, ::-1]
    check(f"png {depth}-bit from cv2.imwrite == cv2.imread", got is not None and np.array_equal(got, want))

# ---- EXIF orientation: JPEG (APP1) and PNG (eXIf); the stored image is not square so axes swaps show
stored = smooth_image(40, 64, 4)
ok, plain_jpg = cv2.imencode(".jpg", stored[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
stored_decoded = cv2.imdecode(plain_jpg, cv2.IMREAD_COLOR)[:, :, ::-1]
for orientation in range(1, 9):
    path = write(f"exif{orientation}.jpg", jpeg_with_exif(plain_jpg.tobytes(), orientation))
    got, info = decode(path)
    want = oriented(stored_decoded, orientation)
    check(f"jpeg EXIF orientation {orientation}", got is not None and info["orientation"] == orientation and
          got.shape == want.shape and np.array_equal(got, want), f"{info}")
    cv_want = cv2.imread(path, cv2.IMREAD_COLOR)[:, :, ::-1]  # OpenCV applies EXIF orientation too
    check(f"jpeg EXIF orientation {orientation} == cv2.imread", got is not None and got.shape == cv_want.shape and
          np.array_equal(got, cv_want))
    path = write(f"exif{orientation}.png", png_bytes(stored, 2, 8, exif=exif_tiff(orientation)))
    got, info = decode(path)
    want = oriented(stored, orientation)
    check(f"png eXIf orientation {orientation}", got is not None and got.shape == want.shape and
          np.array_equal(got, want), f"{info}")
# DCT scaling with a 90-degree orientation: the requested size applies to the upright image
path = write("big_exif6.jpg", jpeg_with_exif(jpg_big.tobytes(), 6))
got, info = decode(path, "--min", "299x299")
check("jpeg EXIF 6 + DCT scaling gives the upright 300x375", got is not None and got.shape == (375, 300, 3),
      f"{None if got is None else got.shape}")

# ---- preprocessing: resize against cv2.resize, normalisations against numpy
src_path = os.path.join(TMP, "colour.jpg")
decoded = cv2.imdecode(jpg, cv2.IMREAD_COLOR)[:, :, ::-1].copy()
for method, interp in (("bilinear", cv2.INTER_LINEAR), ("area", cv2.INTER_AREA), ("nearest", cv2.INTER_NEAREST)):
    got = preprocess(src_path, 64, 48, 3, method, "none", "nhwc").reshape(48, 64, 3)
    want = cv2.resize(decoded, (64, 48), interpolation=interp).astype(np.float32)
    check(f"resize {method} == cv2.resize", np.abs(got - want).max() <= 1e-4, f"max diff {np.abs(got - want).max()}")
want = cv2.resize(decoded, (64, 48), interpolation=cv2.INTER_LINEAR).astype(np.float64)
got = preprocess(src_path, 64, 48, 3, "bilinear", "tf", "nchw").reshape(3, 48, 64)
check("normalisation tf (x/127.5 - 1), nchw", np.abs(got - (want / 127.5 - 1).transpose(2, 0, 1)).max() < 1e-5)
got = preprocess(src_path, 64, 48, 3, "bilinear", "caffe", "nhwc").reshape(48, 64, 3)
caffe = want[:, :, ::-1] - np.array([103.939, 116.779, 123.68])
check("normalisation caffe (BGR minus ImageNet means)", np.abs(got - caffe).max() < 1e-4)
got = preprocess(src_path, 64, 48, 3, "bilinear", "torch", "nchw").reshape(3, 48, 64)
torch_want = ((want / 255 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])).transpose(2, 0, 1)
check("normalisation torch (ImageNet mean/std)", np.abs(got - torch_want).max() < 1e-5)
got = preprocess(src_path, 32, 24, 1, "area", "none", "nhwc").reshape(24, 32)
luma = decoded.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
want_luma = cv2.resize(luma.astype(np.float32), (32, 24), interpolation=cv2.INTER_AREA)
check("luma (BT.601) then area resize, within 1 grey level", np.abs(got - want_luma).max() <= 1.0,
      f"max diff {np.abs(got - want_luma).max()}")
got = preprocess(os.path.join(TMP, "grey8.png"), W, H, 3, "bilinear", "none", "nhwc").reshape(H, W, 3)
g8 = decode(os.path.join(TMP, "grey8.png"))[0]
check("grey image replicated into RGB", np.array_equal(got, np.repeat(g8, 3, axis=2)))
got = preprocess(os.path.join(TMP, "rgb16.png"), W, H, 3, "bilinear", "none", "nhwc").reshape(H, W, 3)
r16 = decode(os.path.join(TMP, "rgb16.png"))[0]
check("16-bit samples keep their precision (value / 257)", np.abs(got - r16 / 257.0).max() < 1e-4)

# ---- bad files: each an error naming the file and the reason
bad = {
    "empty.jpg": (b"", "empty file"),
    "truncated.jpg": (jpg.tobytes()[: len(jpg) // 2], "truncated JPEG"),
    "truncated.png": (png_bytes(rng.integers(0, 256, (64, 64, 3)), 2, 8)[:300], "truncated PNG"),
    "garbage.png": (bytes(rng.integers(0, 256, 1000, dtype=np.uint8)), "not a JPEG or PNG"),
    "text.jpg": (b"hello, I am not an image\n", "not a JPEG or PNG"),
}
# A PNG whose header claims 20000x20000 (400 megapixels): refused from the header, before any pixel is read.
huge = png_bytes(np.zeros((1, 1, 1)), 0, 8)
huge = huge[:16] + bytes.fromhex("00004e2000004e20") + huge[24:]
import struct, zlib  # noqa: E401,E402
ihdr_body = huge[12:29]
huge = huge[:29] + struct.pack(">I", zlib.crc32(ihdr_body) & 0xFFFFFFFF) + huge[33:]
bad["huge.png"] = (huge, "over the limit of 100.0 megapixels")
# A JPEG whose SOF claims 20000x20000.
jb = bytearray(jpg.tobytes())
sof = jb.find(b"\xff\xc0")
jb[sof + 5:sof + 9] = bytes.fromhex("4e204e20")
bad["huge.jpg"] = (bytes(jb), "over the limit of 100.0 megapixels")
# Corrupt entropy-coded data in the middle of the scan.
cj = bytearray(jpg.tobytes())
cj[len(cj) // 2:len(cj) // 2 + 200] = bytes(rng.integers(0, 256, 200, dtype=np.uint8))
bad["corrupt.jpg"] = (bytes(cj), "JPEG")
for name, (data, reason) in bad.items():
    path = write(name, data)
    got, message = decode(path)
    check(f"bad image {name}: error names the file and says '{reason}'",
          got is None and path in message and reason in message, message)
got, message = decode(os.path.join(TMP, "colour.jpg"), "--max-pixels", "1000")
check("pixel limit is configurable", got is None and "over the limit" in message, message)
got, message = decode(os.path.join(TMP, "no-such-file.png"))
check("missing file is an error naming it", got is None and "no-such-file.png" in message, message)

shutil.rmtree(TMP, ignore_errors=True)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
