"""xfer data import-idx, run as the real binary, against numpy reading the same IDX files (its own parser of the
format: big-endian header, uint8 payload) and cv2 reading the written PNG/JPEG files. Uses small IDX files made
here (gzip and plain) and the first images of Debian's Fashion-MNIST test set."""
import glob
import gzip
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import cv2
import numpy as np

XFER = os.environ["XFER_BINARY"]
TMP = tempfile.mkdtemp(prefix="xfer-idx-test-")
FASHION = "/usr/share/datasets/fashion-mnist"
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def xfer(*args):
    return subprocess.run([XFER, "-q", *args], capture_output=True, text=True)


def write_idx(path, array, magic, compress):
    data = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape) + array.astype(np.uint8).tobytes()
    with (gzip.open if compress else open)(path, "wb") as f:
        f.write(data)


def read_idx(path):
    """numpy's reading of an IDX file: magic (2 zero bytes, type 0x08 = ubyte, number of dimensions), sizes."""
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    assert zero == 0 and dtype == 0x08
    shape = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def imported(out, ext):
    """{index: (class folder, pixels)} of an imported ImageFolder, read with cv2."""
    found = {}
    for path in glob.glob(os.path.join(out, "*", "*" + ext)):
        index = int(os.path.splitext(os.path.basename(path))[0])
        found[index] = (os.path.basename(os.path.dirname(path)), cv2.imread(path, cv2.IMREAD_GRAYSCALE))
    return found


rng = np.random.default_rng(3)
images = rng.integers(0, 256, (50, 6, 5))
labels = rng.integers(0, 4, 50)
for compress in (True, False):
    suffix = ".gz" if compress else ""
    img_path, lbl_path = os.path.join(TMP, "imgs.idx" + suffix), os.path.join(TMP, "lbls.idx" + suffix)
    write_idx(img_path, images, 0x803, compress)
    write_idx(lbl_path, labels, 0x801, compress)
    out = os.path.join(TMP, "out" + suffix.replace(".", "_"))
    r = xfer("data", "import-idx", "--images", img_path, "--labels", lbl_path, "--out", out,
             "--class-names", "a,b,c,d")
    check(f"import ({'gzip' if compress else 'plain'}) succeeds", r.returncode == 0, r.stdout + r.stderr)
    got = imported(out, ".png")
    names = ["a", "b", "c", "d"]
    check(f"every image written once ({'gzip' if compress else 'plain'})", sorted(got) == list(range(50)))
    check(f"pixels and class folders match numpy ({'gzip' if compress else 'plain'})",
          all(got[i][0] == names[labels[i]] and np.array_equal(got[i][1], images[i]) for i in got))
    check("file names are zero-padded indices", os.path.exists(os.path.join(out, names[labels[7]], "07.png")))
    check("the completion marker is there", os.path.exists(os.path.join(out, ".xfer-import.json")))
    check("no temporary folder left", not glob.glob(out + ".partial-*"))

# The same import again is recognised as done; another import into the same folder is refused.
r = xfer("data", "import-idx", "--images", img_path, "--labels", lbl_path, "--out", out, "--class-names", "a,b,c,d")
check("re-running the same import is 'already imported'", r.returncode == 0 and "already imported" in r.stdout,
      r.stdout + r.stderr)
r = xfer("data", "import-idx", "--images", img_path, "--labels", lbl_path, "--out", out, "--class-names", "w,x,y,z")
check("a different import into the same folder is refused", r.returncode == 1 and out in r.stderr, r.stderr)

# Default class names are the label numbers; --limit takes the first N in file order.
out = os.path.join(TMP, "limited")
r = xfer("data", "import-idx", "--images", img_path, "--labels", lbl_path, "--out", out, "--limit", "20")
got = imported(out, ".png")
check("--limit 20 takes the first 20 images", r.returncode == 0 and sorted(got) == list(range(20)), r.stderr)
check("default class folders are the label numbers",
      all(got[i][0] == str(labels[i]) and np.array_equal(got[i][1], images[i]) for i in got))

# JPEG output: lossy, so compared with a tolerance (quality 95 on 6x5 noise: mean error a few grey levels).
out = os.path.join(TMP, "jpeg")
r = xfer("data", "import-idx", "--images", img_path, "--labels", lbl_path, "--out", out, "--format", "jpeg")
got = imported(out, ".jpg")
errors = [np.abs(got[i][1].astype(int) - images[i]).mean() for i in got]
check("--format jpeg writes decodable JPEGs close to the pixels", r.returncode == 0 and len(got) == 50 and
      max(errors) < 12, f"{r.stderr} mean errors up to {max(errors) if errors else None}")

# Errors: nothing that looks complete is left behind.
write_idx(os.path.join(TMP, "few.idx"), labels[:10], 0x801, False)
out = os.path.join(TMP, "mismatch")
r = xfer("data", "import-idx", "--images", img_path, "--labels", os.path.join(TMP, "few.idx"), "--out", out)
check("image/label count mismatch is an error naming both files", r.returncode == 1 and "few.idx" in r.stderr and
      not os.path.exists(out), r.stderr)
out = os.path.join(TMP, "badmagic")
r = xfer("data", "import-idx", "--images", lbl_path, "--labels", lbl_path, "--out", out)
check("a label file given as images: bad magic, named", r.returncode == 1 and "not an IDX image file" in r.stderr and
      lbl_path in r.stderr and not os.path.exists(out), r.stderr)
with open(img_path, "rb") as f:
    whole = f.read()
with open(os.path.join(TMP, "cut.idx"), "wb") as f:
    f.write(whole[: len(whole) // 2])
r = xfer("data", "import-idx", "--images", os.path.join(TMP, "cut.idx"), "--labels", lbl_path, "--out",
         os.path.join(TMP, "cut"))
check("a truncated IDX file is an error", r.returncode == 1 and "truncated" in r.stderr, r.stderr)
r = xfer("data", "import-idx", "--images", img_path, "--labels", lbl_path, "--out", os.path.join(TMP, "slash"),
         "--class-names", "a/b,c,d,e")
check("a class name with '/' is a usage error", r.returncode == 2 and "a/b" in r.stderr, r.stderr)
r = xfer("data", "import-idx", "--images", img_path, "--labels", lbl_path, "--out", os.path.join(TMP, "few"),
         "--class-names", "a,b")
check("fewer class names than labels is a usage error", r.returncode == 2, r.stderr)
r = xfer("data", "import-idx", "--images", img_path)
check("missing required options: usage error", r.returncode == 2, r.stderr)

# The real data set: the first 300 Fashion-MNIST test images with the ten class names.
out = os.path.join(TMP, "fashion")
r = xfer("data", "import-idx", "--images", f"{FASHION}/t10k-images-idx3-ubyte.gz", "--labels",
         f"{FASHION}/t10k-labels-idx1-ubyte.gz", "--out", out, "--class-names", "fashion-mnist", "--limit", "300")
fm_images = read_idx(f"{FASHION}/t10k-images-idx3-ubyte.gz")[:300]
fm_labels = read_idx(f"{FASHION}/t10k-labels-idx1-ubyte.gz")[:300]
names = ["t-shirt_top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle_boot"]
got = imported(out, ".png")
check("Fashion-MNIST: 300 images in the ten named class folders", r.returncode == 0 and sorted(got) == list(range(300))
      and sorted(os.listdir(out)) == sorted(names + [".xfer-import.json"]), r.stderr)
check("Fashion-MNIST: pixels and classes match numpy",
      all(got[i][0] == names[fm_labels[i]] and np.array_equal(got[i][1], fm_images[i]) for i in got))

shutil.rmtree(TMP, ignore_errors=True)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
