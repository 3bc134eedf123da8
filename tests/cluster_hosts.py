"""Test hosts on this machine, for the Python tests (import with sys.path relative to the test file, as
xfer_test_helpers): real OpenSSH servers at 127.0.0.11, .12, ... (each its own host key, all with one client key
and a known_hosts file made here), and a real Slurm controller + node (slurmctld, slurmd, munge) configured by
`xfer cluster render --for slurm`. Loopback only; needs root (sshd's privilege separation, Slurm as root).

    with SshdHosts(tmp, [11, 12, 13]) as hosts:
        toml = hosts.cluster_toml(workers=[11, 12, 13, 14])   # .14: nobody listens there
    with SlurmCluster(tmp, xfer) as slurm:
        env = slurm.env                                        # SLURM_CONF for srun / sinfo
"""
import os
import random
import socket
import subprocess
import time


def _wait_for(predicate, seconds, step=0.1):
    end = time.time() + seconds
    while time.time() < end:
        if predicate():
            return True
        time.sleep(step)
    return False


def _listening(address, port):
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


class SshdHosts:
    def __init__(self, tmp, last_octets):
        self.dir = os.path.join(tmp, "sshd")
        self.octets = list(last_octets)
        self.port = 20000 + random.randrange(20000)
        self.procs = []

    def address(self, octet):
        return f"127.0.0.{octet}"

    def __enter__(self):
        os.makedirs(self.dir, exist_ok=True)
        os.makedirs("/run/sshd", exist_ok=True)
        os.chmod("/run/sshd", 0o755)
        key = os.path.join(self.dir, "id")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key, "-C", "xfer-test"], check=True)
        with open(key + ".pub") as f, open(os.path.join(self.dir, "authorized_keys"), "w") as out:
            out.write(f.read())
        known = []
        for n in self.octets:
            hostkey = os.path.join(self.dir, f"hostkey{n}")
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostkey], check=True)
            conf = os.path.join(self.dir, f"sshd{n}.conf")
            with open(conf, "w") as f:
                f.write(f"ListenAddress {self.address(n)}:{self.port}\nHostKey {hostkey}\n"
                        f"PidFile {self.dir}/sshd{n}.pid\nAuthorizedKeysFile {self.dir}/authorized_keys\n"
                        "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
                        "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPrintMotd no\n")
            log = open(os.path.join(self.dir, f"sshd{n}.log"), "w")
            self.procs.append(subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", conf], stderr=log))
            with open(hostkey + ".pub") as f:
                known.append(f"[{self.address(n)}]:{self.port} {f.read().strip()}\n")
        with open(os.path.join(self.dir, "known_hosts"), "w") as f:
            f.writelines(known)
        if not _wait_for(lambda: all(_listening(self.address(n), self.port) for n in self.octets), 10):
            raise RuntimeError("sshd did not start; see " + self.dir)
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait(timeout=10)

    def accepted_logins(self, octet):
        with open(os.path.join(self.dir, f"sshd{octet}.log")) as f:
            return f.read().count("Accepted publickey")

    def cluster_toml(self, workers, extra=""):
        """A cluster file whose [ssh] reaches these servers; workers: last octets (not all need a server)."""
        text = (f'[ssh]\nuser = "root"\nport = {self.port}\nidentity = "{self.dir}/id"\n'
                f'known_hosts = "{self.dir}/known_hosts"\nconnect_timeout_s = 3\n{extra}\n')
        for n in workers:
            text += f'[[host]]\nname = "{self.address(n)}"\nroles = ["worker"]\n'
        return text


class SlurmCluster:
    """slurmctld + slurmd for this machine (one node, its real cores and memory), with its own munge key."""

    def __init__(self, tmp, xfer):
        self.dir = os.path.join(tmp, "slurm")
        self.xfer = xfer
        self.procs = []
        self.node = socket.gethostname().split(".")[0]

    def __enter__(self):
        d = self.dir
        for sub in ("state", "spool", "log", "run", "munge"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        cores = os.cpu_count()
        with open("/proc/meminfo") as f:
            memory = int(next(line for line in f if line.startswith("MemTotal:")).split()[1]) // 1024
        port = 30000 + random.randrange(10000)
        self.cluster_file = os.path.join(d, "cluster.toml")
        with open(self.cluster_file, "w") as f:
            f.write(f'[[host]]\nname = "{self.node}"\naddress = "127.0.0.1"\nroles = ["slurmctld", "slurmd"]\n'
                    f"cores = {cores}\nmemory_mb = {memory}\ndisks = 1\n[slurm]\ncluster_name = \"xfertest\"\n"
                    f'slurm_user = "root"\nslurmctld_port = {port}\nslurmd_port = {port + 1}\n'
                    f'state_save_location = "{d}/state"\nslurmd_spool_dir = "{d}/spool"\nlog_dir = "{d}/log"\n'
                    f'run_dir = "{d}/run"\n')
        subprocess.run([self.xfer, "cluster", "render", "--cluster", self.cluster_file, "--out", d, "--for", "slurm"],
                       check=True, capture_output=True)
        conf = os.path.join(d, "slurm", "slurm.conf")
        key = os.path.join(d, "munge", "munge.key")
        if subprocess.run(["mungekey", "-c", "-k", key], capture_output=True).returncode != 0:
            with open(key, "wb") as f:
                f.write(os.urandom(1024))
        os.chmod(key, 0o600)
        sock = os.path.join(d, "munge", "munge.socket")
        self._start(["munged", "-F", "--force", f"--key-file={key}", f"--socket={sock}",
                     f"--pid-file={d}/munge/munged.pid", f"--log-file={d}/munge/munged.log",
                     f"--seed-file={d}/munge/seed"], "munged")
        if not _wait_for(lambda: os.path.exists(sock), 10):
            raise RuntimeError("munged did not start")
        with open(conf, "a") as f:
            f.write(f"AuthInfo=socket={sock}\n")
        self.env = dict(os.environ, SLURM_CONF=conf)
        self._start(["slurmctld", "-D", "-i"], "slurmctld")
        # In one loaded clean-clone CI run, slurmd started a fixed second after slurmctld and the node stayed
        # "unknown*" for 30 s. slurmd now starts once slurmctld answers sinfo, and the node gets 60 s to register.
        if not _wait_for(lambda: self.node in self.sinfo(), 30, 0.5):
            raise RuntimeError("slurmctld did not answer sinfo")
        self._start(["slurmd", "-D", "-N", self.node], "slurmd")
        if not _wait_for(lambda: " idle" in self.sinfo(), 60, 0.5):
            raise RuntimeError("the Slurm node did not come up: " + self.sinfo())
        return self

    def _start(self, argv, name):
        log = open(os.path.join(self.dir, f"{name}.err"), "w")
        self.procs.append(subprocess.Popen(argv, stderr=log, stdout=log, env=getattr(self, "env", None)))

    def sinfo(self):
        r = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %T"], capture_output=True, text=True, env=self.env)
        return r.stdout.strip()

    def __exit__(self, *exc):
        for p in reversed(self.procs):
            p.terminate()
        for p in reversed(self.procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
