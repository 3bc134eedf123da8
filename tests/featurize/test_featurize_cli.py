"""xfer featurize, run as the real binary, on an ImageFolder of PNGs and JPEGs with bad files among them:
- the features (np.load of the shard) against OpenCV's answer: cv2.imread, BT.601 luma computed with numpy,
  cv2.resize INTER_AREA to 28x28 (tolerance 1 grey level: xfer rounds luma and resizes in 8 bits);
- the index (JSON lines) and manifest against the folder's own listing; counts add up; every bad file is named
  once in a warning and listed with its reason; the output is the same bytes with 1 or 2 threads;
- pixels:16x12:rgb, --split on a chest_xray layout, and the clear errors.
Big JPEGs are decoded at a reduced DCT scale, so they are compared with a full-size decode within a tolerance."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import cv2
import numpy as np

XFER = os.environ["XFER_BINARY"]
TMP = tempfile.mkdtemp(prefix="xfer-featurize-test-")
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def xfer(*args):
    return subprocess.run([XFER, *args], capture_output=True, text=True)


def smooth_image(h, w, seed, channels=3):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    # A few cycles across the image, like a photo's large shapes (most of a photo's energy is at low spatial
    # frequencies), plus fine noise.
    planes = [127 + 100 * np.sin(x * (2 + c) / w + y * (3 + c) / h + seed + c) for c in range(channels)]
    return np.clip(np.stack(planes, axis=2) + rng.normal(0, 5, (h, w, channels)), 0, 255).astype(np.uint8)


def expected_pixels(path, w, h, rgb=False):
    img = cv2.imread(path, cv2.IMREAD_COLOR)[:, :, ::-1].astype(np.float32)  # RGB
    if rgb:
        return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA).reshape(-1)
    luma = (img @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).astype(np.float32)
    return cv2.resize(luma, (w, h), interpolation=cv2.INTER_AREA).reshape(-1)


data = os.path.join(TMP, "data")
classes = ["boot", "coat", "shirt"]
good = []
seed = 0
for c in classes:
    os.makedirs(os.path.join(data, c))
    for k, (h, w, kind) in enumerate([(28, 28, "grey.png"), (30, 40, "rgb.png"), (30, 40, "q.jpg"),
                                      (56, 50, "grey.jpg"), (240, 300, "big.jpg")]):
        seed += 1
        path = os.path.join(data, c, f"{k}_{kind}")
        img = smooth_image(h, w, seed, 1 if kind.startswith("grey") else 3)
        cv2.imwrite(path, img if img.shape[2] == 1 else img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
        good.append(path)
with open(os.path.join(data, "coat", "notes.txt"), "w") as f:
    f.write("not an image, not counted")
ok, jpg = cv2.imencode(".jpg", smooth_image(64, 64, 99))
ok, png = cv2.imencode(".png", smooth_image(64, 64, 98))
huge = bytearray(png.tobytes())
bad = {
    os.path.join(data, "boot", "z_empty.png"): b"",
    os.path.join(data, "coat", "z_truncated.jpg"): jpg.tobytes()[: len(jpg) // 2],
    os.path.join(data, "shirt", "z_truncated.png"): png.tobytes()[: len(png) // 2],
    os.path.join(data, "shirt", "z_garbage.jpg"): bytes(np.random.default_rng(1).integers(0, 256, 500, dtype=np.uint8)),
}
# a PNG header claiming 20000x20000 (CRC fixed so only the size is wrong)
import struct, zlib  # noqa: E401,E402
huge[16:24] = bytes.fromhex("00004e2000004e20")
huge[29:33] = struct.pack(">I", zlib.crc32(bytes(huge[12:29])) & 0xFFFFFFFF)
bad[os.path.join(data, "boot", "z_huge.png")] = bytes(huge)
for path, content in bad.items():
    with open(path, "wb") as f:
        f.write(content)
all_images = sorted(good + list(bad), key=lambda p: (classes.index(os.path.basename(os.path.dirname(p))), p))
valid = [p for p in all_images if p in good]

out = os.path.join(TMP, "features")
r = xfer("featurize", "--data", data, "--model", "pixels", "--out", out, "--threads", "2", "--batch", "4")
check("featurize finishes despite bad images", r.returncode == 0, r.stdout + r.stderr)
features = np.load(os.path.join(out, "features-00000.npy"))
with open(os.path.join(out, "manifest.json")) as f:
    manifest = json.load(f)
with open(os.path.join(out, "index-00000.jsonl")) as f:
    index = [json.loads(line) for line in f]
check("features are float32 rows x 784, one row per good image",
      features.dtype == np.float32 and features.shape == (len(valid), 784), f"{features.dtype} {features.shape}")
check("index rows are the good images in class then path order, each with its input position",
      [e["path"] for e in index] == valid and [e["image"] for e in index] == [all_images.index(p) for p in valid])
check("index labels and class names follow the sorted class folders",
      all(e["class"] == os.path.basename(os.path.dirname(e["path"])) and classes[e["label"]] == e["class"]
          for e in index))
# 28x28, 40x30 images are decoded at full size; 50x56 and 300x240 JPEGs at a DCT scale (5/8 and 1/8).
small = [i for i, p in enumerate(valid) if "big" not in p and "grey.jpg" not in p]
diffs = [np.abs(features[i] - expected_pixels(valid[i], 28, 28)).max() for i in small]
check("pixels match cv2 (luma + INTER_AREA) within 1 grey level", max(diffs) <= 1.0, f"max diff {max(diffs)}")
big = [i for i, p in enumerate(valid) if i not in small]
mean_diffs = [np.abs(features[i] - expected_pixels(valid[i], 28, 28)).mean() for i in big]
# The two paths average the JPEGs' fine noise (sigma 5) over different pixels: a few grey levels on average.
check("DCT-scaled JPEGs stay close to a full-size decode (mean < 3 grey levels)", max(mean_diffs) < 3.0,
      f"mean diffs {mean_diffs}")
check("manifest: format, dim, classes", manifest["format"] == "xfer-features" and manifest["format_version"] == 2 and
      manifest["dim"] == 784 and manifest["class_names"] == classes and manifest["featurizer"]["kind"] == "pixels")
counts = manifest["counts"]
check("manifest counts add up", counts["images"] == len(all_images) and counts["featurized"] == len(valid) and
      counts["skipped"] == len(bad) and sum(counts["per_class"].values()) == len(valid), f"{counts}")
skipped = {s["path"]: s["reason"] for s in manifest["skipped"]}
check("every bad file is listed as skipped", sorted(skipped) == sorted(bad), f"{skipped}")
reasons = {"z_empty.png": "empty file", "z_truncated.jpg": "truncated JPEG", "z_truncated.png": "truncated PNG",
           "z_garbage.jpg": "not a JPEG or PNG", "z_huge.png": "megapixels"}
check("each skipped file has its reason", all(reasons[os.path.basename(p)] in skipped.get(p, "") for p in bad),
      f"{skipped}")
warnings = [line for line in r.stderr.splitlines() if "skipping" in line]
check("one warning per bad file, naming it",
      len(warnings) == len(bad) and all(sum(p in w for w in warnings) == 1 for p in bad), "\n".join(warnings))

out1 = os.path.join(TMP, "features-1thread")
r = xfer("featurize", "--data", data, "--out", out1, "--threads", "1", "--batch", "1")
same = r.returncode == 0 and all(
    open(os.path.join(out, n), "rb").read() == open(os.path.join(out1, n), "rb").read()
    for n in ("features-00000.npy", "index-00000.jsonl"))
check("the same bytes with 1 thread / batch 1 as with 2 threads / batch 4", same, r.stderr)

out_rgb = os.path.join(TMP, "features-rgb")
r = xfer("featurize", "--data", data, "--model", "pixels:16x12:rgb", "--out", out_rgb, "--json")
rgb = np.load(os.path.join(out_rgb, "features-00000.npy"))
summary = json.loads(r.stdout) if r.returncode == 0 else {}
check("pixels:16x12:rgb gives 576 values per image (HWC)", rgb.shape == (len(valid), 16 * 12 * 3), f"{rgb.shape}")
# At 16x12 every JPEG here is DCT-scaled (40x30 at 1/2), so the exact comparison is on the PNGs.
pngs = [i for i, p in enumerate(valid) if p.endswith(".png")]
diffs = [np.abs(rgb[i] - expected_pixels(valid[i], 16, 12, rgb=True)).max() for i in pngs]
check("pixels:16x12:rgb matches cv2 INTER_AREA within 1 level", max(diffs) <= 1.0, f"max diff {max(diffs)}")
jpegs = [i for i, p in enumerate(valid) if p.endswith(".jpg")]
mean_diffs = [np.abs(rgb[i] - expected_pixels(valid[i], 16, 12, rgb=True)).mean() for i in jpegs]
check("pixels:16x12:rgb of DCT-scaled JPEGs close to cv2 (mean < 3 levels)", max(mean_diffs) < 3.0, f"{mean_diffs}")
check("--json summary", summary.get("rows") == len(valid) and summary.get("skipped") == len(bad) and
      summary.get("dim") == 576, r.stdout)

# chest_xray layout: --data ROOT --split S is ROOT/S
chest = os.path.join(TMP, "chest")
for split in ("train", "test"):
    shutil.copytree(data, os.path.join(chest, split))
r1 = xfer("featurize", "--data", chest, "--split", "test", "--out", os.path.join(TMP, "f-split"))
r2 = xfer("featurize", "--data", chest, "--out", os.path.join(TMP, "f-nosplit"))
check("--split test works on a split root", r1.returncode == 0, r1.stderr)
check("a split root without --split is a clear error", r2.returncode == 1 and "--split" in r2.stderr, r2.stderr)

# errors
r = xfer("featurize", "--data", os.path.join(TMP, "absent"), "--out", os.path.join(TMP, "f-absent"))
check("missing data folder: exit 1 naming it", r.returncode == 1 and "absent" in r.stderr, r.stderr)
one = os.path.join(TMP, "one")
shutil.copytree(os.path.join(data, "coat"), os.path.join(one, "coat"))
r = xfer("featurize", "--data", one, "--out", os.path.join(TMP, "f-one"))
check("single class: exit 1", r.returncode == 1 and "single class" in r.stderr, r.stderr)
allbad = os.path.join(TMP, "allbad")
for c in ("a", "b"):
    os.makedirs(os.path.join(allbad, c))
    with open(os.path.join(allbad, c, "x.png"), "wb") as f:
        f.write(b"nope")
r = xfer("featurize", "--data", allbad, "--out", os.path.join(TMP, "f-allbad"))
check("no readable image: exit 1, no manifest written",
      r.returncode == 1 and "no image could be read" in r.stderr and
      not os.path.exists(os.path.join(TMP, "f-allbad", "manifest.json")), r.stderr)
r = xfer("featurize", "--data", data, "--model", "pixels:0x5", "--out", os.path.join(TMP, "f-bad-spec"))
check("a bad pixels spec is a usage error", r.returncode == 2 and "pixels:0x5" in r.stderr, r.stderr)
r = xfer("featurize", "--data", data, "--model", "pixels", "--layer", "conv1", "--out", os.path.join(TMP, "f-layer"))
check("--layer with pixels is a usage error", r.returncode == 2, r.stderr)

shutil.rmtree(TMP, ignore_errors=True)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
