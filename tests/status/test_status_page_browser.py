"""The live status page in a real browser: a real featurisation (a small ONNX CNN on Fashion-MNIST images, bad
files among them) runs with --status-port 0, once as one process and once as 2 MPI ranks (mpirun -np 2); headless
Chromium (Debian's, via playwright-core) watches the page as its script redraws it. Checks: the numbers move while
the job runs (the totals and each rank's row, several distinct rising values); the page read with JavaScript off
shows the same kind of numbers and reloads itself; the final page equals the job's own --json summary (images,
rows, dim, skipped; under MPI the ranks' counts add up to it) and names the bad files without letting their names
become markup; no console errors (so the page's CSP lets its own script and styles through). Screenshots of the
finished pages are kept in the build folder (test-artifacts/status/)."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from xfer_test_helpers import Checks, xfer_binary  # noqa: E402
from status_fixtures import BAD_FILES, Job, get, make_cnn, make_image_folder  # noqa: E402

XFER = xfer_binary()
HERE = os.path.dirname(os.path.abspath(__file__))
ARTIFACTS = os.path.join(os.environ.get("XFER_BUILD_DIR", tempfile.gettempdir()), "test-artifacts", "status")
N_IMAGES = int(os.environ.get("XFER_STATUS_TEST_IMAGES", "600"))
checks = Checks()
check = checks.check


def watch(name, launcher, job_args, tmp):
    """Runs the job under launcher with the browser watching; returns (summary, what the browser saw)."""
    observed = f"{tmp}/observed-{name}.json"
    screenshot = os.path.join(ARTIFACTS, f"featurize-{name}-finished.png")
    browser = subprocess.Popen(["node", os.path.join(HERE, "status_page_browser.mjs"), observed, screenshot],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if not check(f"{name}: browser started", browser.stdout.readline().strip() == "browser ready"):
        checks.finish()
    job = Job(*launcher, XFER, *job_args, "--status-port", 0, "--status-linger", 60)
    check(f"{name}: the job logs its status page's address",
          job.url is not None and job.url.startswith("http://127.0.0.1:"), str(job.url))
    browser.stdin.write((job.url or "http://127.0.0.1:9/") + "\n")
    browser.stdin.close()
    browser_code = browser.wait(240)
    check(f"{name}: the browser watched the page to the end", browser_code == 0, f"exit {browser_code}")
    # Ctrl-C to the process that serves the page (rank 0) ends its linger time; the job then exits 0.
    code, body, _ = get(job.url + "api/status")
    pid = json.loads(body)["job"]["pid"] if code == 200 else job.proc.pid
    if not launcher:
        check(f"{name}: the page names the job's process", pid == job.proc.pid, f"{pid} vs {job.proc.pid}")
    os.kill(pid, signal.SIGINT)
    code, out, err = job.finish()
    check(f"{name}: the job exits 0 when Ctrl-C ends its linger time", code == 0, err[-500:])
    check(f"{name}: screenshot of the finished page saved", os.path.getsize(screenshot) > 10000, screenshot)
    return json.loads(out), json.load(open(observed))


def common_checks(name, summary, seen):
    running = [s for s in seen["samples"] if s["phase"] == "featurizing" and s["done"] is not None]
    done_values = [int(s["done"]) for s in running]
    check(f"{name}: the page saw the job featurising", len(running) >= 3, f"{len(running)} samples while featurising")
    check(f"{name}: the total moved while the job ran (>= 3 distinct values below the end)",
          len({v for v in done_values if v < summary["images"]}) >= 3, str(sorted(set(done_values))[:12]))
    check(f"{name}: the total never went back", all(a <= b for a, b in zip(done_values, done_values[1:])))
    check(f"{name}: the rate and ETA were shown while running",
          any(s["rate"] not in ("–", None) and s["eta"] not in ("–", None) for s in running))
    check(f"{name}: the page's total is the job's image count", all(s["total"] == str(summary["images"]) for s in running))

    nojs = seen["nojs"]
    check(f"{name}: with JavaScript off the page is drawn by the server",
          nojs is not None and nojs["phase"] == "featurizing", str(nojs or seen.get("nojs_error")))
    if nojs:
        check(f"{name}: ... with the running total and rank 0's count", nojs["done"].isdigit() and
              0 < int(nojs["done"]) <= summary["images"] and nojs["rank0_items"].isdigit(), str(nojs))
        check(f"{name}: ... and reloads itself while the job runs", 'http-equiv="refresh"' in nojs["refresh"],
              nojs["refresh"])

    final = seen["final"]
    check(f"{name}: the final page says done", final["phase"] == "done", final["phase"])
    check(f"{name}: final total equals the job's images", final["done"] == str(summary["images"]),
          f"{final['done']} vs {summary['images']}")
    for key in ["images", "rows", "dim", "skipped", "out"]:
        check(f"{name}: final result {key} equals the job's summary", final["result"].get(key) == str(summary[key]),
              f"{final['result'].get(key)} vs {summary[key]}")
    check(f"{name}: final skipped count equals the job's",
          final["skipped_count"] == str(summary["skipped"]) == str(len(BAD_FILES)))
    check(f"{name}: every bad file is named on the page",
          all(os.path.basename(n) in final["skipped_text"] for n in BAD_FILES), final["skipped_text"][:300])
    check(f"{name}: a file name is text, never markup", final["skipped_injected_elements"] == 0)
    check(f"{name}: the phases listed in order", final["phases"] == ["listing", "featurizing", "done"],
          str(final["phases"]))
    check(f"{name}: the job's command line is shown", "xfer featurize" in final["job"] and "--status-port 0" in final["job"])
    check(f"{name}: no console errors (the page's CSP lets its own script run)", not seen["console"], str(seen["console"]))
    return running


os.makedirs(ARTIFACTS, exist_ok=True)
with tempfile.TemporaryDirectory() as tmp:
    data = make_image_folder(XFER, f"{tmp}/fm", N_IMAGES)
    model = make_cnn(f"{tmp}/cnn.onnx", 96)
    job_args = ["featurize", "--data", data, "--model", model, "--batch", 2, "--threads", 1, "--json"]

    # --- one process: rank 0's row is made from the job's progress ---
    summary, seen = watch("one-process", [], [*job_args, "--out", f"{tmp}/features"], tmp)
    running = common_checks("one-process", summary, seen)
    rank_values = [int(s["rank0_items"]) for s in running if s["rank0_items"]]
    check("one-process: rank 0's row moved too", len(set(rank_values)) >= 3, str(sorted(set(rank_values))[:12]))
    final = seen["final"]
    check("one-process: rank 0 is done with every image",
          final["rank0"][2] == "done" and final["rank0"][3] == str(summary["images"]), str(final["rank0"]))

    # --- two MPI ranks: one row per rank, from the ranks' own reports ---
    if shutil.which("mpirun"):
        os.environ.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
        # Two ranks do the work twice as fast: a CNN twice as costly keeps the job long enough to watch.
        mpi_args = [*job_args, "--part-size", 40, "--out", f"{tmp}/features-mpi"]
        mpi_args[mpi_args.index(model)] = make_cnn(f"{tmp}/cnn136.onnx", 136)
        summary, seen = watch("2-ranks", ["mpirun", "-np", "2", "--oversubscribe"], mpi_args, tmp)
        running = common_checks("2-ranks", summary, seen)
        final = seen["final"]
        per_rank = {r: [int(s["ranks"][r][3]) for s in running if len(s["ranks"]) == 2] for r in (0, 1)}
        check("2-ranks: the page shows one row per rank", len(final["ranks"]) == 2 and
              [row[0] for row in final["ranks"]] == ["0", "1"], str(final["ranks"]))
        check("2-ranks: both rows name this host", all(row[1] == socket.gethostname() for row in final["ranks"]),
              str(final["ranks"]))
        for r in (0, 1):
            check(f"2-ranks: rank {r}'s count moved while the job ran", len(set(per_rank[r])) >= 2,
                  str(sorted(set(per_rank[r]))[:12]))
        check("2-ranks: both ranks end done", all(row[2] == "done" for row in final["ranks"]), str(final["ranks"]))
        check("2-ranks: the ranks' counts add up to the job's images",
              sum(int(row[3]) for row in final["ranks"]) == summary["images"],
              f"{[row[3] for row in final['ranks']]} vs {summary['images']}")
        check("2-ranks: rank 1 did part of the work", int(final["ranks"][1][3]) > 0, str(final["ranks"][1]))
    else:
        check("mpirun is installed (openmpi-bin) for the 2-rank page", False)

checks.finish()
