"""The live status page in a real browser: a real featurisation (a small ONNX CNN on Fashion-MNIST images, bad
files among them) runs with --status-port 0; headless Chromium (Debian's, via playwright-core) watches the page
as its script redraws it. Checks: the numbers move while the job runs (totals and rank 0's row, several distinct
rising values); the page read with JavaScript off shows the same kind of numbers and reloads itself; the final page
equals the job's own --json summary (images, rows, dim, skipped) and names the bad files without letting their
names become markup; no console errors (so the page's CSP lets its own script and styles through). The
screenshot of the finished page is kept in the build folder (test-artifacts/status/)."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from xfer_test_helpers import Checks, xfer_binary  # noqa: E402
from status_fixtures import BAD_FILES, Job, make_cnn, make_image_folder  # noqa: E402

XFER = xfer_binary()
HERE = os.path.dirname(os.path.abspath(__file__))
ARTIFACTS = os.path.join(os.environ.get("XFER_BUILD_DIR", tempfile.gettempdir()), "test-artifacts", "status")
N_IMAGES = int(os.environ.get("XFER_STATUS_TEST_IMAGES", "600"))
checks = Checks()
check = checks.check

os.makedirs(ARTIFACTS, exist_ok=True)
with tempfile.TemporaryDirectory() as tmp:
    data = make_image_folder(XFER, f"{tmp}/fm", N_IMAGES)
    model = make_cnn(f"{tmp}/cnn.onnx", 96)
    observed = f"{tmp}/observed.json"
    screenshot = os.path.join(ARTIFACTS, "featurize-finished.png")
    browser = subprocess.Popen(["node", os.path.join(HERE, "status_page_browser.mjs"), observed, screenshot],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if not check("browser started", browser.stdout.readline().strip() == "browser ready"):
        checks.finish()

    job = Job(XFER, "featurize", "--data", data, "--model", model, "--out", f"{tmp}/features", "--batch", 2,
              "--threads", 1, "--json", "--status-port", 0, "--status-linger", 60)
    check("the job logs its status page's address", job.url is not None and job.url.startswith("http://127.0.0.1:"),
          str(job.url))
    browser.stdin.write((job.url or "http://127.0.0.1:9/") + "\n")
    browser.stdin.close()
    browser_code = browser.wait(240)
    check("the browser watched the page to the end", browser_code == 0, f"exit {browser_code}")
    job.stop_lingering()
    code, out, err = job.finish()
    check("the job exits 0 when Ctrl-C ends its linger time", code == 0, err[-500:])
    summary = json.loads(out)
    seen = json.load(open(observed))

    running = [s for s in seen["samples"] if s["phase"] == "featurizing" and s["done"] is not None]
    done_values = [int(s["done"]) for s in running]
    rank_values = [int(s["rank0_items"]) for s in running if s["rank0_items"]]
    check("the page saw the job featurising", len(running) >= 3, f"{len(running)} samples while featurising")
    check("the total moved while the job ran (>= 3 distinct values below the end)",
          len({v for v in done_values if v < summary["images"]}) >= 3, str(sorted(set(done_values))[:12]))
    check("the total never went back", all(a <= b for a, b in zip(done_values, done_values[1:])))
    check("rank 0's row moved too", len(set(rank_values)) >= 3, str(sorted(set(rank_values))[:12]))
    check("the rate and ETA were shown while running",
          any(s["rate"] not in ("–", None) and s["eta"] not in ("–", None) for s in running))
    check("the page's total is the job's image count", all(s["total"] == str(summary["images"]) for s in running))

    nojs = seen["nojs"]
    check("with JavaScript off the page is drawn by the server", nojs is not None and nojs["phase"] == "featurizing",
          str(nojs))
    if nojs:
        check("... with the running total and rank 0's count", nojs["done"].isdigit() and
              0 < int(nojs["done"]) <= summary["images"] and nojs["rank0_items"].isdigit(), str(nojs))
        check("... and reloads itself while the job runs", 'http-equiv="refresh"' in nojs["refresh"], nojs["refresh"])

    final = seen["final"]
    check("the final page says done", final["phase"] == "done", final["phase"])
    check("final total equals the job's images", final["done"] == str(summary["images"]),
          f"{final['done']} vs {summary['images']}")
    for key in ["images", "rows", "dim", "skipped", "out"]:
        check(f"final result {key} equals the job's summary", final["result"].get(key) == str(summary[key]),
              f"{final['result'].get(key)} vs {summary[key]}")
    check("final skipped count equals the job's", final["skipped_count"] == str(summary["skipped"]) == str(len(BAD_FILES)))
    check("every bad file is named on the page", all(os.path.basename(n) in final["skipped_text"] for n in BAD_FILES),
          final["skipped_text"][:300])
    check("a file name is text, never markup", final["skipped_injected_elements"] == 0)
    check("rank 0 is done with every image", final["rank0"][2] == "done" and final["rank0"][3] == str(summary["images"]),
          str(final["rank0"]))
    check("the phases listed in order", final["phases"] == ["listing", "featurizing", "done"], str(final["phases"]))
    check("the job's command line is shown", "xfer featurize" in final["job"] and "--status-port 0" in final["job"])
    check("no console errors (the page's CSP lets its own script run)", not seen["console"], str(seen["console"]))
    check("screenshot of the finished page saved", os.path.getsize(screenshot) > 10000, screenshot)

checks.finish()
