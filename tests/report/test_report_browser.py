"""The report's gallery of mistakes and CV curve in a real browser: xfer trains a small pixels pipeline (reg chosen
by cross-validation over a 3-value list) on Fashion-MNIST images and evaluates it with --report; headless Chromium
(Debian's, via playwright-core, JavaScript off) opens the one file. Checks: every thumbnail was decoded by the
browser at its stated size and shown 96 px wide; one caption per thumbnail naming a class and a probability; the
CV curve and the gallery are laid out (non-empty boxes); the page asked for nothing but itself (no external file);
no console errors; the file is under 2 MB. The screenshots (the whole page and the gallery alone) are kept in the
build folder (test-artifacts/report/) and checked to be real, non-blank PNGs by OpenCV."""
import json
import os
import re
import subprocess
import sys
import tempfile

import cv2

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from xfer_test_helpers import Checks, run, xfer_binary  # noqa: E402

XFER = xfer_binary()
HERE = os.path.dirname(os.path.abspath(__file__))
ARTIFACTS = os.path.join(os.environ.get("XFER_BUILD_DIR", tempfile.gettempdir()), "test-artifacts", "report")
FM = "/usr/share/datasets/fashion-mnist"
CLASSES = "t-shirt_top,trouser,pullover,dress,coat,sandal,shirt,sneaker,bag,ankle_boot"
MAX_BYTES = 2_000_000
checks = Checks()
check = checks.check

os.makedirs(ARTIFACTS, exist_ok=True)
with tempfile.TemporaryDirectory() as tmp:
    for split, images, labels, n in (("train", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 400),
                                     ("test", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 300)):
        run([XFER, "data", "import-idx", "--images", f"{FM}/{images}", "--labels", f"{FM}/{labels}",
             "--class-names", CLASSES, "--limit", n, "--out", f"{tmp}/{split}"])
    run([XFER, "train", "--data", f"{tmp}/train", "--model", "pixels", "--reg", "0.3,0.03,0.003", "--max-iter", 60,
         "--out", f"{tmp}/p.json"])
    run([XFER, "evaluate", "--pipeline", f"{tmp}/p.json", "--data", f"{tmp}/test", "--json", f"{tmp}/m.json",
         "--report", f"{tmp}/report"])
    report = f"{tmp}/report/index.html"
    html = open(report).read()
    metrics = json.load(open(f"{tmp}/m.json"))
    wrong = sum(sum(row) - row[i] for i, row in enumerate(metrics["confusion_matrix"]))

    page, full, gallery = f"{tmp}/seen.json", os.path.join(ARTIFACTS, "report.png"), os.path.join(ARTIFACTS, "gallery.png")
    for f in (full, gallery):
        if os.path.exists(f):
            os.remove(f)
    browser = subprocess.run(["node", os.path.join(HERE, "report_browser.mjs"), report, page, full, gallery],
                             capture_output=True, text=True, timeout=240)
    if not check("the browser opened the report", browser.returncode == 0, browser.stderr[-800:]):
        checks.finish()
    seen = json.load(open(page))
    thumbs = seen["thumbnails"]
    expected = min(wrong, 8 * 10)  # the caps: 8 per class (and 120 in all, 1 MB), never more than the mistakes
    check("the gallery shows thumbnails (at most 8 per class)", 0 < len(thumbs) <= expected, f"{len(thumbs)} of {wrong} mistakes")
    check("every thumbnail decoded by the browser at its stated size",
          all(t["complete"] and t["natural"] == t["attr"] and t["natural"][0] > 0 for t in thumbs))
    check("thumbnails shown 96 px wide", all(abs(t["shown"][0] - 96) < 0.5 for t in thumbs))
    check("one caption per thumbnail: predicted class and probability",
          len(seen["captions"]) == len(thumbs) and all(re.fullmatch(r"[a-z_-]+ \d+\.\d%", c.strip()) for c in seen["captions"]),
          str(seen["captions"][:3]))
    check("a heading per class with its count of mistakes", len(seen["headings"]) == 10 and sum(
        int(re.search(r": (\d+) of", h).group(1)) for h in seen["headings"]) == wrong, str(seen["headings"][:2]))
    check("the CV curve and the gallery are laid out",
          seen["cv_curve"] is not None and seen["cv_curve"][2] > 300 and seen["gallery"] is not None and seen["gallery"][3] > 50)
    check("the page asked for nothing but itself", seen["requests"] == [] or all(r.startswith("file:") and r.endswith("index.html") for r in seen["requests"]),
          str(seen["requests"][:3]))
    check("no console errors", seen["console"] == [], str(seen["console"][:3]))
    size = os.path.getsize(report)
    check(f"the report is one file under {MAX_BYTES} bytes", size < MAX_BYTES, f"{size} bytes")
    for name, path in (("page", full), ("gallery", gallery)):
        shot = cv2.imread(path)
        check(f"screenshot of the {name} kept in the build folder, a real non-blank PNG",
              shot is not None and shot.shape[1] == 1200 and shot.shape[0] > 100 and float(shot.std()) > 10,
              f"{path} {None if shot is None else shot.shape}")
checks.finish()
