#!/usr/bin/env bash
# The slurm.conf that `xfer cluster render --for slurm` writes, run by the real slurmctld and slurmd (Debian's
# slurm-wlm 22.05) on loopback with a munge key made here. The host facts are this machine's own (nproc,
# /proc/meminfo) given as cores/memory_mb overrides: the ssh fact gathering is covered by ssh_hosts_test.sh.
# Checks: slurmctld accepts the file, slurmd registers, the node comes up idle with our CPUs and RealMemory, and
# `slurmd -C` (slurmd's own view of the hardware) agrees with the NodeName line. Prints "N passed, M failed".
set -u
XFER=${XFER_BINARY:?XFER_BINARY not set}
pass=0; failed=0
ok() { echo "ok: $1"; pass=$((pass+1)); }
bad() { echo "FAIL: $1"; failed=$((failed+1)); }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
if [ "$(id -u)" != 0 ]; then echo "needs root"; echo "0 passed, 1 failed"; exit 1; fi
T=$(mktemp -d /tmp/xfer-cluster-slurm.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; sleep 0.5; for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT INT TERM
NAME=$(hostname -s)
CORES=$(nproc)
MEM=$(awk '/^MemTotal:/ {print int($2/1024)}' /proc/meminfo)
P1=$((30000 + RANDOM % 10000)); P2=$((P1 + 1))
mkdir -p "$T/state" "$T/spool" "$T/log" "$T/run" "$T/munge"
cat > "$T/cluster.toml" <<TOML
[[host]]
name = "$NAME"
address = "127.0.0.1"
roles = ["slurmctld", "slurmd"]
cores = $CORES
memory_mb = $MEM
disks = 1
[slurm]
cluster_name = "xfertest"
slurm_user = "root"
slurmctld_port = $P1
slurmd_port = $P2
state_save_location = "$T/state"
slurmd_spool_dir = "$T/spool"
log_dir = "$T/log"
run_dir = "$T/run"
TOML
"$XFER" cluster render --cluster "$T/cluster.toml" --out "$T/out" --for slurm > /dev/null
check "render --for slurm" "[ -s $T/out/slurm/slurm.conf ]"
CONF="$T/out/slurm/slurm.conf"
check "NodeName line carries CPUs and RealMemory" "grep -qx 'NodeName=$NAME NodeAddr=127.0.0.1 CPUs=$CORES RealMemory=$MEM State=UNKNOWN' $CONF"

# munge: a key made by the test, its own socket.
mungekey -c -k "$T/munge/munge.key" 2>/dev/null || dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 2>/dev/null
chmod 600 "$T/munge/munge.key"
SOCK="$T/munge/munge.socket"
munged -F --force --key-file="$T/munge/munge.key" --socket="$SOCK" --pid-file="$T/munge/munged.pid" --log-file="$T/munge/munged.log" --seed-file="$T/munge/seed" 2>"$T/munge/err" &
pids+=($!)
for i in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
check "munged started" "[ -S $SOCK ]"
# Slurm finds munge's socket through AuthInfo.
echo "AuthInfo=socket=$SOCK" >> "$CONF"

# slurmd's own view of the hardware agrees with the rendered line.
C=$(SLURM_CONF=$CONF slurmd -C 2>/dev/null | head -1)
echo "slurmd -C: $C"
check "slurmd -C reports CPUs=$CORES" "echo '$C' | grep -q 'CPUs=$CORES '"
REAL=$(echo "$C" | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
check "slurmd -C RealMemory ($REAL) >= rendered $MEM (else the node would be drained)" "[ -n '$REAL' ] && [ $REAL -ge $MEM ]"

SLURM_CONF=$CONF slurmctld -D -i 2>"$T/slurmctld.err" &
pids+=($!)
sleep 2
SLURM_CONF=$CONF slurmd -D -N "$NAME" 2>"$T/slurmd.err" &
pids+=($!)
state=""
for i in $(seq 60); do
  state=$(SLURM_CONF=$CONF sinfo -h -N -o '%N %t %c %m' 2>/dev/null | head -1)
  case "$state" in *" idle "*) break;; esac
  sleep 0.5
done
echo "sinfo: $state"
if [ -z "$state" ]; then
  echo "--- slurmctld log"; tail -20 "$T/log/slurmctld.log" "$T/slurmctld.err" 2>/dev/null
  echo "--- slurmd log"; tail -20 "$T/log/slurmd.log" "$T/slurmd.err" 2>/dev/null
fi
check "slurmctld accepted the rendered slurm.conf and slurmd registered: node idle with $CORES CPUs, $MEM MB" "[ \"$state\" = \"$NAME idle $CORES $MEM\" ]"
if [ "$failed" != 0 ]; then tail -5 "$T/log/slurmctld.log" "$T/log/slurmd.log" 2>/dev/null; fi
echo "$pass passed, $failed failed"
[ $failed = 0 ]
