#!/usr/bin/python3
"""Real MPI runs of xfer (OpenMPI's mpirun on this machine, ranks oversubscribed on 2 cores), against the same
jobs run as one process:

- featurize with a small CNN (ONNX, exported here from PyTorch) on 2 and 3 ranks: rows byte-identical to the
  single process's, compared by image path; the same skipped images; the manifest names rank and host per shard;
- train on 2 and 3 ranks: coefficients within 1e-6 (relative) of the single-process fit; evaluate and predict on
  3 and 2 ranks: the same metrics and probabilities;
- resume: a single-process featurize stopped by SIGTERM half-way, rerun, does only the missing parts (the log
  says how many it reused) and equals a clean run; a part file cut short on disk is found and redone;
- a rank killed with SIGKILL mid-featurisation: the job exits non-zero within 30 s naming the rank and host, no
  rank is left running, and the rerun resumes to the clean run's features (no image lost or duplicated);
- --stage-data: ranks started in a mount namespace where the data folder is hidden produce the same features;
  without it the same launch stops before any work, naming the ranks that cannot see the data;
- a launcher whose world MPI does not see (srun without PMI) is a clear error.
The data set has 307 + 3 bad images: no rank count divides it. Env: XFER_BINARY (ctest). Needs root (unshare -m).
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from xfer_test_helpers import Checks, feature_rows, mpi_env, xfer_binary  # noqa: E402

XFER = xfer_binary()
FM = "/usr/share/datasets/fashion-mnist"
TMP = tempfile.mkdtemp(prefix="xfer-mpi-")
MARK = f"xfer-mpi-test-{os.getpid()}"  # in every rank's environment, to find our ranks in /proc
ENV = mpi_env(XFER_TEST_MARK=MARK, OMPI_MCA_btl_vader_single_copy_mechanism="none")
t = Checks()


def mpirun(n, *args):
    return ["mpirun", "-np", str(n), "--oversubscribe", "--bind-to", "none", XFER, *args]


def run(cmd, timeout=300):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=ENV, timeout=timeout)
    if r.returncode != 0:
        print(f"--- {' '.join(map(str, cmd))} exited {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
    return r


def our_ranks_alive():
    """Processes started for this test by mpirun (they carry MARK in their environment)."""
    alive = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if MARK.encode() in f.read() and b"OMPI_COMM_WORLD_RANK" in open(f"/proc/{pid}/environ", "rb").read():
                    alive.append(int(pid))
        except OSError:
            pass
    return alive


def rank_pid(rank):
    for pid in our_ranks_alive():
        try:
            env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        if f"OMPI_COMM_WORLD_RANK={rank}".encode() in env:
            return pid
    return None


def receipts(folder):
    return [n for n in os.listdir(folder) if n.startswith("shard-")] if os.path.isdir(folder) else []


def wait_for_receipts(folder, count, proc, limit=120):
    end = time.time() + limit
    while time.time() < end and proc.poll() is None:
        if len(receipts(folder)) >= count:
            return True
        time.sleep(0.02)
    return False


# --- data: 307 Fashion-MNIST images in 10 class folders, plus 3 bad files ---------------------------------------
data = os.path.join(TMP, "data")
test_data = os.path.join(TMP, "test")
classes = "t-shirt,trouser,pullover,dress,coat,sandal,shirt,sneaker,bag,boot"
run([XFER, "data", "import-idx", "--images", f"{FM}/train-images-idx3-ubyte.gz", "--labels",
     f"{FM}/train-labels-idx1-ubyte.gz", "--class-names", classes, "--limit", "307", "--out", data])
run([XFER, "data", "import-idx", "--images", f"{FM}/t10k-images-idx3-ubyte.gz", "--labels",
     f"{FM}/t10k-labels-idx1-ubyte.gz", "--class-names", classes, "--limit", "101", "--out", test_data])
open(os.path.join(data, "coat", "zz-empty.png"), "wb").close()
with open(os.path.join(data, "bag", "zz-garbage.jpg"), "wb") as f:
    f.write(b"not an image at all")
with open(os.path.join(data, "coat", os.listdir(os.path.join(data, "coat"))[0]), "rb") as f:
    head = f.read()
with open(os.path.join(data, "sandal", "zz-truncated.png"), "wb") as f:
    f.write(head[: len(head) // 2])


# --- a small CNN, exported here (fixed random weights): the engine runs under every rank -------------------------
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(3, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(32, 32, 3, padding=1),
            torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())

    def forward(self, x):
        return self.body(x)


torch.manual_seed(11)
cnn = os.path.join(TMP, "cnn.onnx")
torch.onnx.export(Net().eval(), torch.randn(2, 3, 96, 96), cnn, opset_version=13, input_names=["input"],
                  output_names=["features"], dynamic_axes={"input": {0: "batch"}, "features": {0: "batch"}})

# --- featurize: 1, 2 and 3 ranks ---------------------------------------------------------------------------------
feat = ["featurize", "--data", data, "--model", cnn, "--part-size", "16", "--batch", "8", "--threads", "1"]
single = os.path.join(TMP, "f1")
r = run([XFER, *feat, "--out", single])
t.check("single-process featurize", r.returncode == 0)
rows1, manifest1, paths1 = feature_rows(single)
t.check("the single process featurised 307 images and skipped 3", len(rows1) == 307 and
        manifest1["counts"]["skipped"] == 3, str(manifest1["counts"]))
for n in (2, 3):
    out = os.path.join(TMP, f"f{n}")
    start = time.time()
    r = run(mpirun(n, *feat, "--out", out, "--json"))
    t.check(f"mpirun -np {n} featurize exits 0 ({time.time() - start:.1f} s)", r.returncode == 0)
    rows, manifest, paths = feature_rows(out)
    t.check(f"{n} ranks: rows byte-identical to the single process, by image path", rows == rows1,
            f"{len(rows)} rows vs {len(rows1)}")
    t.check(f"{n} ranks: rows in the same input order, the same skipped images",
            paths == paths1 and manifest["skipped"] == manifest1["skipped"])
    ranks = {s["rank"] for s in manifest["shards"]}
    hosts = {s["host"] for s in manifest["shards"]}
    t.check(f"{n} ranks: every shard names the rank and host that computed it; every rank took parts",
            ranks == set(range(n)) and len(hosts) == 1 and "" not in hosts, f"{ranks} {hosts}")
    summary = json.loads(r.stdout)
    t.check(f"{n} ranks: the summary's per-rank table adds up to the job",
            sum(x["images"] for x in summary["ranks"]) == 310 and len(summary["ranks"]) == n, str(summary["ranks"]))

# --- train, evaluate, predict: 1 vs 2 and 3 ranks ----------------------------------------------------------------
train = ["train", "--data", data, "--model", "pixels:8x8", "--reg", "0.05", "--tol", "1e-15", "--max-iter", "3000",
         "--part-size", "32"]
models = {}
for n in (1, 2, 3):
    out = os.path.join(TMP, f"p{n}.json")
    r = run((mpirun(n, *train, "--out", out)) if n > 1 else [XFER, *train, "--out", out])
    t.check(f"train on {n} rank(s) exits 0", r.returncode == 0)
    with open(out) as f:
        models[n] = json.load(f)["classifier"]
for n in (2, 3):
    a, b = models[1], models[n]
    coef = np.abs(np.array(a["coefficients"]) - np.array(b["coefficients"])).max() / np.abs(np.array(a["coefficients"])).max()
    icpt = np.abs(np.array(a["intercepts"]) - np.array(b["intercepts"])).max() / np.abs(np.array(a["intercepts"])).max()
    # The unpenalised intercepts are the objective's flattest direction: fits that stop within machine precision
    # of the same objective differ a little more there (1.3e-6 measured).
    t.check(f"train on {n} ranks: coefficients within 1e-6 of the single process (intercepts 1e-5)",
            coef < 1e-6 and icpt < 1e-5, f"coefficients {coef:.2e}, intercepts {icpt:.2e}")

metrics = {}
for n in (1, 3):
    js = os.path.join(TMP, f"metrics{n}.json")
    cmd = ["evaluate", "--pipeline", os.path.join(TMP, "p1.json"), "--data", test_data, "--json", js, "--report",
           os.path.join(TMP, f"report{n}")]
    r = run(mpirun(n, *cmd) if n > 1 else [XFER, *cmd])
    t.check(f"evaluate on {n} rank(s) exits 0", r.returncode == 0)
    with open(js) as f:
        metrics[n] = json.load(f)
t.check("evaluate on 3 ranks: the single process's metrics (accuracy, log loss, confusion matrix, AUC)",
        metrics[3]["accuracy"] == metrics[1]["accuracy"] and metrics[3]["confusion_matrix"] == metrics[1]["confusion_matrix"]
        and abs(metrics[3]["log_loss"] - metrics[1]["log_loss"]) < 1e-12 and
        abs(metrics[3]["roc_auc"] - metrics[1]["roc_auc"]) < 1e-12 and metrics[3]["n_images"] == 101)
t.check("evaluate on 3 ranks: one report, written by rank 0", os.path.exists(os.path.join(TMP, "report3", "index.html")))

predict = ["predict", "--pipeline", os.path.join(TMP, "p1.json"), "--format", "json", "--part-size", "16",
           os.path.join(test_data, "bag"), os.path.join(test_data, "coat")]
p1 = run([XFER, *predict])
p2 = run(mpirun(2, *predict))
a, b = json.loads(p1.stdout)["predictions"], json.loads(p2.stdout)["predictions"]
t.check("predict on 2 ranks: one JSON document (rank 0's), the same rows in input order",
        [x["path"] for x in a] == [x["path"] for x in b] and len(a) > 0)
t.check("predict on 2 ranks: the same classes and probabilities",
        all(x["class"] == y["class"] and all(abs(x["probabilities"][c] - y["probabilities"][c]) < 1e-12
                                              for c in x["probabilities"]) for x, y in zip(a, b)))

# --- SIGTERM half-way, then resume (one process) -----------------------------------------------------------------
# Smaller parts (more of them to stop between), the same batches as the clean run: a CNN's rounding may depend on
# the batch size, so byte-identity holds for the same batches, whatever the parts and ranks.
slow = ["featurize", "--data", data, "--model", cnn, "--part-size", "8", "--batch", "8", "--threads", "1"]
out = os.path.join(TMP, "f-term")
proc = subprocess.Popen([XFER, *slow, "--out", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
started = wait_for_receipts(out, 3, proc)
proc.send_signal(signal.SIGTERM)
_, err = proc.communicate(timeout=60)
done_before = len(receipts(out))
t.check("SIGTERM: featurize stops with 143 and says the same command resumes",
        started and proc.returncode == 143 and "the same command resumes" in err, f"{proc.returncode} {err[-400:]}")
t.check("SIGTERM: no manifest (nothing looks complete), some parts committed",
        not os.path.exists(os.path.join(out, "manifest.json")) and 3 <= done_before < 39, f"{done_before} of 39")
r = run([XFER, *slow, "--out", out])
t.check("rerun after SIGTERM: the log says how many parts it reused",
        f"{done_before} of 39 parts already committed and reused" in r.stderr, r.stderr[-600:])
t.check("rerun after SIGTERM: features equal a clean run's", feature_rows(out)[0] == rows1)

# --- a part cut short on disk is redone --------------------------------------------------------------------------
victim = os.path.join(out, "features-00005.npy")
os.truncate(victim, os.path.getsize(victim) - 100)
r = run([XFER, *slow, "--out", out])
t.check("a part cut short on disk is found by its checksum and redone",
        r.returncode == 0 and "shard 5 does not match its receipt's checksum" in r.stderr and
        "38 of 39 parts already committed and reused" in r.stderr and feature_rows(out)[0] == rows1, r.stderr[-600:])

# --- SIGKILL one rank mid-featurisation ---------------------------------------------------------------------------
out = os.path.join(TMP, "f-kill")
proc = subprocess.Popen(mpirun(3, *slow, "--out", out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                        env=ENV)
started = wait_for_receipts(out, 4, proc)
victim_pid = rank_pid(2)
killed_at = time.time()
if victim_pid:
    os.kill(victim_pid, signal.SIGKILL)
try:
    _, err = proc.communicate(timeout=60)
except subprocess.TimeoutExpired:
    proc.kill()
    _, err = proc.communicate()
took = time.time() - killed_at
t.check("SIGKILL of rank 2: the job exits non-zero within 30 s",
        started and victim_pid and proc.returncode != 0 and took < 30, f"exit {proc.returncode} after {took:.1f} s")
host = os.uname().nodename
t.check("... naming the rank and the host", "rank 2" in err and host in err, err[-800:])
time.sleep(0.5)
t.check("... and no rank is left running", our_ranks_alive() == [], str(our_ranks_alive()))
t.check("... with no manifest", not os.path.exists(os.path.join(out, "manifest.json")))
r = run(mpirun(2, *slow, "--out", out))
rows, manifest, paths = feature_rows(out)
t.check("rerun after the kill resumes (reuses parts) and equals the clean run: 0 images lost or duplicated",
        r.returncode == 0 and "parts already committed and reused" in r.stderr and rows == rows1 and
        len(paths) == len(set(paths)) == 307, r.stderr[-400:])

# --- --stage-data: ranks 1 and 2 cannot see the data folder -------------------------------------------------------
empty = os.path.join(TMP, "empty")
os.makedirs(empty)


def hidden_data_ranks(*args):
    """Rank 0 as usual; ranks 1-2 in a private mount namespace where `data` is an empty folder."""
    inner = " ".join(f"'{a}'" for a in [XFER, *args])
    return ["mpirun", "--oversubscribe", "--bind-to", "none", "-np", "1", XFER, *args, ":", "-np", "2", "unshare",
            "-m", "--propagation", "private", "sh", "-c", f"mount --bind '{empty}' '{data}' && exec {inner}"]


out = os.path.join(TMP, "f-staged")
r = run(hidden_data_ranks(*feat, "--out", out, "--stage-data"))
t.check("--stage-data: ranks that cannot see the data folder produce the single-process features",
        r.returncode == 0 and feature_rows(out)[0] == rows1 and
        {s["rank"] for s in feature_rows(out)[1]["shards"]} == {0, 1, 2})
out = os.path.join(TMP, "f-unstaged")
r = run(hidden_data_ranks(*feat, "--out", out))
t.check("without --stage-data the same launch stops before any work, naming the ranks that cannot see the data",
        r.returncode != 0 and "rank 1 on" in r.stderr and "rank 2 on" in r.stderr and "ranks do not agree" in r.stderr
        and not receipts(out), r.stderr[-800:])

# --- a launcher whose ranks MPI cannot see --------------------------------------------------------------------------
env = dict(ENV, SLURM_STEP_NUM_TASKS="2", SLURM_PROCID="0")
r = subprocess.run([XFER, *feat, "--out", os.path.join(TMP, "f-nopmi")], capture_output=True, text=True, env=env,
                   timeout=60)
t.check("srun's 2 tasks without a PMI: a clear error, exit 2",
        r.returncode == 2 and "srun started 2 ranks, but MPI sees a world of 1" in r.stderr and "--mpi=pmix" in r.stderr,
        r.stderr[-300:])

subprocess.run(["rm", "-rf", TMP])
t.finish()
