"""What the status tests share: a labelled image folder with bad files among the images, a small ONNX CNN slow
enough for the numbers to move while a page watches, and an xfer job started with its status page whose address
is read from the job's own log line."""
import os
import re
import signal
import subprocess
import threading
import urllib.request

import numpy as np

FM = "/usr/share/datasets/fashion-mnist"
CLASSES = "t-shirt_top,trouser,pullover,dress,coat,sandal,shirt,sneaker,bag,ankle_boot"
# Bad files whose names are also hostile to a page that would not escape them.
BAD_FILES = {"coat/<b>bold.png": b"", "bag/zz_truncated.jpg": b"\xff\xd8\xff\xe0 not the rest of a JPEG"}


def make_image_folder(xfer, out, limit):
    """The first `limit` Fashion-MNIST training images as an ImageFolder, plus BAD_FILES."""
    r = subprocess.run([xfer, "data", "import-idx", "--images", f"{FM}/train-images-idx3-ubyte.gz", "--labels",
                        f"{FM}/train-labels-idx1-ubyte.gz", "--class-names", CLASSES, "--limit", str(limit),
                        "--out", out], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"import-idx failed: {r.stderr}")
    for name, data in BAD_FILES.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    return out


def make_cnn(path, size):
    """Three 3x3 convolutions (3 -> 32 -> 64 -> 64) and a global average pool: about 1 GFLOP per image at 96x96,
    a few milliseconds each, so a few hundred images keep a job busy for seconds."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    chans = [3, 32, 64, 64]
    nodes, inits, prev = [], [], "x"
    for i in range(3):
        w = (rng.normal(size=(chans[i + 1], chans[i], 3, 3)) / np.sqrt(9 * chans[i])).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        nodes += [helper.make_node("Conv", [prev, f"w{i}"], [f"c{i}"], pads=[1, 1, 1, 1]),
                  helper.make_node("Relu", [f"c{i}"], [f"r{i}"])]
        prev = f"r{i}"
    nodes += [helper.make_node("GlobalAveragePool", [prev], ["g"]), helper.make_node("Flatten", ["g"], ["f"])]
    graph = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, size, size])],
                              [helper.make_tensor_value_info("f", TensorProto.FLOAT, ["N", 64])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


class Job:
    """An xfer command running with --status-port 0; .url is the page's address from its log."""

    def __init__(self, xfer, *args, timeout=60):
        self.proc = subprocess.Popen([xfer, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stderr_lines = []
        self.url = None
        found = threading.Event()

        def drain():
            for line in self.proc.stderr:
                self.stderr_lines.append(line)
                m = re.search(r"status page: (http://\S+/) ", line)
                if m and not self.url:
                    self.url = m.group(1)
                    found.set()
            found.set()

        self._drain = threading.Thread(target=drain, daemon=True)
        self._drain.start()
        found.wait(timeout)

    def stop_lingering(self):
        """Ends the linger time as a person would, with Ctrl-C."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)

    def finish(self, timeout=120):
        out = self.proc.stdout.read()
        code = self.proc.wait(timeout)
        self._drain.join(5)
        return code, out, "".join(self.stderr_lines)


def get(url, headers=None, method="GET", timeout=10):
    """(status, body text, headers) for one request; HTTP errors are answers too."""
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace"), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace"), dict(e.headers)
