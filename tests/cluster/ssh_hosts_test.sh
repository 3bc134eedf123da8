#!/usr/bin/env bash
# xfer cluster against real OpenSSH servers started here: 127.0.0.11-13 (each its own host key and sshd_config,
# each in its own mount namespace so that $T/data is a different folder per "host"), 127.0.0.14 where nothing
# listens, and 127.0.0.15 whose key in known_hosts is not its key (a changed host key). Loopback only.
# Hadoop cannot be installed here: reset-dfs/reset-yarn run recording stand-ins for Hadoop's sbin scripts
# (they append what they were asked and on which host to a log), not Hadoop itself.
# Needs root (sshd's privilege separation, mount namespaces). Prints "N passed, M failed".
set -u
XFER=${XFER_BINARY:?XFER_BINARY not set}
PY=${XFER_PYTHON:-/usr/bin/python3}
pass=0; failed=0
ok() { echo "ok: $1"; pass=$((pass+1)); }
bad() { echo "FAIL: $1"; failed=$((failed+1)); }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

if [ "$(id -u)" != 0 ]; then echo "needs root for sshd"; echo "0 passed, 1 failed"; exit 1; fi
T=$(mktemp -d /tmp/xfer-cluster-ssh.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT INT TERM
mkdir -p /run/sshd && chmod 755 /run/sshd
PORT=$((20000 + RANDOM % 20000))
ssh-keygen -q -t ed25519 -N '' -f "$T/id" -C xfer-test
cp "$T/id.pub" "$T/authorized_keys"
: > "$T/known_hosts"
mkdir -p "$T/data"
for n in 11 12 13 15; do
  ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey$n"
  mkdir -p "$T/host$n"
  cat > "$T/sshd$n.conf" <<CONF
ListenAddress 127.0.0.$n:$PORT
HostKey $T/hostkey$n
PidFile $T/sshd$n.pid
AuthorizedKeysFile $T/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
CONF
  unshare -m --propagation private sh -c "mount --bind '$T/host$n' '$T/data' && exec /usr/sbin/sshd -D -e -f '$T/sshd$n.conf'" 2>"$T/sshd$n.log" &
  pids+=($!)
  if [ $n = 15 ]; then
    ssh-keygen -q -t ed25519 -N '' -f "$T/otherkey"   # known_hosts holds a different key for .15
    echo "[127.0.0.$n]:$PORT $(cat "$T/otherkey.pub")" >> "$T/known_hosts"
  else
    echo "[127.0.0.$n]:$PORT $(cat "$T/hostkey$n.pub")" >> "$T/known_hosts"
  fi
done
for i in $(seq 50); do
  n_up=0; for n in 11 12 13 15; do (exec 3<>/dev/tcp/127.0.0.$n/$PORT) 2>/dev/null && n_up=$((n_up+1)); done
  [ $n_up = 4 ] && break; sleep 0.1
done

# 127.0.0.16: accepts TCP connections but never speaks SSH (a hung host): ssh's ConnectTimeout must end it.
"$PY" -c 'import socket,time,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.16", int(sys.argv[1]))); s.listen(64); time.sleep(600)' $PORT &
pids+=($!)
sleep 0.3

# Recording stand-ins for Hadoop's scripts: they log "<host address> <script> <args>".
mkdir -p "$T/hadoop/sbin" "$T/hadoop/bin"
for s in sbin/start-dfs.sh sbin/stop-dfs.sh sbin/start-yarn.sh sbin/stop-yarn.sh bin/hdfs; do
  cat > "$T/hadoop/$s" <<REC
#!/bin/sh
# stand-in for Hadoop's $s: records the call
echo "\$(echo \$SSH_CONNECTION | cut -d' ' -f3) $s \$* conf=\$HADOOP_CONF_DIR" >> "$T/record.log"
[ -e "$T/fail-$(basename $s)" ] && exit 9
exit 0
REC
  chmod +x "$T/hadoop/$s"
done

header() { cat <<TOML
[ssh]
user = "root"
port = $PORT
identity = "$T/id"
known_hosts = "$T/known_hosts"
connect_timeout_s = 2
[hadoop]
home = "$T/hadoop"
dfs_dirs = ["$T/data/dfs"]
TOML
}
host() { printf '[[host]]\nname = "%s"\nroles = [%s]\n' "$1" "$2"; }
{ header; host 127.0.0.11 '"namenode", "resourcemanager", "worker"'; host 127.0.0.12 '"worker"'; host 127.0.0.13 '"worker"'; } > "$T/good.toml"
{ cat "$T/good.toml"; host 127.0.0.14 '"worker"'; host 127.0.0.15 '"worker"'; host 127.0.0.16 '"worker"'; } > "$T/bad.toml"

# 1. Arguments arrive exactly as given.
"$XFER" cluster broadcast --cluster "$T/good.toml" --json -- "$PY" -c 'import sys,json; print(json.dumps(sys.argv[1:]))' \
  "a b" "it's" '$(touch '"$T"'/pwned)' "; touch $T/pwned2" $'two\nlines' "" '"dq"' '\' '*' '`id`' > "$T/args.json" 2>"$T/args.err"
check "broadcast: exit 0 when every host succeeds" "[ $? = 0 ]"
"$PY" - "$T/args.json" "$T" <<'PYEOF' && ok "arguments arrive unchanged on all 3 hosts (quotes, \$(), ;, newline, empty)" || bad "argument arrival"
import json, sys
T = sys.argv[2]
want = ["a b", "it's", "$(touch %s/pwned)" % T, "; touch %s/pwned2" % T, "two\nlines", "", '"dq"', "\\", "*", "`id`"]
r = json.load(open(sys.argv[1]))
assert len(r["hosts"]) == 3, r
for h in r["hosts"]:
    got = json.loads(h["stdout"])
    assert got == want, (h["host"], got)
PYEOF
check "nothing in the arguments was run by a shell" "[ ! -e $T/pwned ] && [ ! -e $T/pwned2 ]"

# 2. Per-host exit codes, worst code.
"$XFER" cluster broadcast --cluster "$T/good.toml" --json -- sh -c 'case "$SSH_CONNECTION" in *" 127.0.0.12 "*) exit 7;; *" 127.0.0.13 "*) exit 3;; esac' > "$T/codes.json" 2>/dev/null
rc=$?
check "broadcast: exits with the worst exit code of its hosts (7)" "[ $rc = 7 ]"
"$PY" -c '
import json,sys; r=json.load(open(sys.argv[1])); c={h["host"]:h["exit_code"] for h in r["hosts"]}
assert c=={"127.0.0.11":0,"127.0.0.12":7,"127.0.0.13":3}, c; assert r["worst_exit_code"]==7' "$T/codes.json" \
  && ok "per-host exit codes 0/7/3 and worst 7" || bad "per-host exit codes: $(cat $T/codes.json)"

# 3. Unreachable and changed-key hosts: reported, bounded in time, and no command on the changed-key host.
"$XFER" cluster broadcast --cluster "$T/bad.toml" --json -- sh -c 'touch "$1/ran-$(echo $SSH_CONNECTION | cut -d" " -f3)"' sh "$T" > "$T/bad.json" 2>/dev/null
"$PY" -c '
import json,sys; r=json.load(open(sys.argv[1])); t={h["host"]:h["seconds"] for h in r["hosts"]}; print("seconds per host:", t)
assert t["127.0.0.14"] < 4.0 and t["127.0.0.16"] < 4.0 and t["127.0.0.15"] < 4.0' "$T/bad.json" \
  && ok "refused (.14), silent (.16) and changed-key (.15) hosts end within connect_timeout_s (2) + 2 s" || bad "time bound: $(cat $T/bad.json)"
"$PY" -c '
import json,sys; r=json.load(open(sys.argv[1])); s={h["host"]:h["status"] for h in r["hosts"]}
assert s["127.0.0.11"]=="ran" and s["127.0.0.14"]=="unreachable" and s["127.0.0.15"]=="host key changed" and s["127.0.0.16"]=="unreachable", s
assert r["worst_exit_code"]==255' "$T/bad.json" && ok "statuses: ran / unreachable / host key changed" || bad "statuses: $(cat $T/bad.json)"
check "the command ran on .11-.13" "[ -e $T/ran-127.0.0.11 ] && [ -e $T/ran-127.0.0.12 ] && [ -e $T/ran-127.0.0.13 ]"
check "no command ran on the host with the changed key" "[ ! -e $T/ran-127.0.0.15 ]"

# 4. Per-host time-out kills ssh.
start=$(date +%s.%N)
"$XFER" cluster broadcast --cluster "$T/good.toml" --timeout 1 --json -- sleep 30 > "$T/slow.json" 2>/dev/null
end=$(date +%s.%N)
echo "broadcast --timeout 1 of sleep 30 took $("$PY" -c "print(round($end - $start, 2))") s"
check "--timeout 1 returns within 4 s" "$PY -c 'import sys; sys.exit(0 if $end-$start < 4.0 else 1)'"
check "timed-out hosts reported as timed out" "grep -c '\"timed out\"' $T/slow.json | grep -qx 3"

# 5. doctor: facts against /proc and nproc, all-to-all ssh, one problem line per fault.
"$XFER" cluster doctor --cluster "$T/bad.toml" --json > "$T/doctor.json" 2>"$T/doctor.err"
check "doctor exits 1 when there are problems" "[ $? = 1 ]"
"$PY" - "$T/doctor.json" "$(nproc)" "$(awk '/^MemTotal:/ {print int($2/1024)}' /proc/meminfo)" <<'PYEOF' && ok "doctor: facts, all-to-all hops and problems" || bad "doctor: $(head -c 3000 $T/doctor.json)"
import json, sys
r = json.load(open(sys.argv[1])); cores = int(sys.argv[2]); mem = int(sys.argv[3])
hosts = {h["host"]: h for h in r["hosts"]}
for n in ("127.0.0.11", "127.0.0.12", "127.0.0.13"):
    assert hosts[n]["reachable"] and hosts[n]["cores"] == cores and hosts[n]["memory_mb"] == mem, hosts[n]
    assert abs(hosts[n]["clock_offset_s"]) < 1.0, hosts[n]
assert not hosts["127.0.0.14"]["reachable"] and hosts["127.0.0.15"]["ssh"] == "host key changed"
hops = {(h["from"], h["to"]): h for h in r["hops"]}
for a in ("127.0.0.11", "127.0.0.12", "127.0.0.13"):
    for b in ("127.0.0.11", "127.0.0.12", "127.0.0.13"):
        assert hops[(a, b)]["ok"], hops[(a, b)]          # every good host reaches every good host, itself included
    assert not hops[(a, "127.0.0.14")]["ok"] and hops[(a, "127.0.0.15")]["result"] == "host key changed", (hops[(a, "127.0.0.14")], hops[(a, "127.0.0.15")])
probs = r["problems"]
assert all(p["host"] and p["what"] and p["fix"] for p in probs)
assert any(p["host"] == "127.0.0.14" and "unreachable" in p["what"] for p in probs)
assert any(p["host"] == "127.0.0.15" and "host key changed" in p["what"] and "ssh-keygen -R" in p["fix"] for p in probs)
assert any("Hadoop not found" in p["what"] for p in probs)   # Hadoop hosts without Hadoop are reported
PYEOF

# 5b. doctor shows declared and measured cores / memory / disks: more declared than measured is a problem (sizing
# from it over-commits the host), less a warning.
cores=$(nproc); mem=$(awk '/^MemTotal:/ {print int($2/1024)}' /proc/meminfo)
{ header; host 127.0.0.11 '"namenode", "resourcemanager", "worker"'; printf 'cores = %s\nmemory_mb = %s\n' $((cores + 14)) $((mem / 2)); } > "$T/declared.toml"
"$XFER" cluster doctor --cluster "$T/declared.toml" --json > "$T/declared.json" 2>/dev/null
check "doctor exits 1 when a host declares more cores than it has" "[ $? = 1 ]"
"$PY" - "$T/declared.json" "$cores" "$mem" <<'PYEOF' && ok "doctor: declared beside measured; over-declared cores a problem, under-declared memory a warning" || bad "declared vs measured: $(head -c 3000 $T/declared.json)"
import json, sys
r = json.load(open(sys.argv[1])); cores = int(sys.argv[2]); mem = int(sys.argv[3])
h = r["hosts"][0]
assert h["measured"]["cores"] == cores and h["declared"]["cores"] == cores + 14, h
assert h["measured"]["memory_mb"] == mem and h["declared"]["memory_mb"] == mem // 2, h
assert h["declared"]["disks"] is None and h["measured"]["disks"] >= 1, h
assert h["cores"] == cores + 14, h  # what sizing uses: the declaration
p = [p for p in r["problems"] if "declares" in p["what"]]
assert len(p) == 1 and f"declares {cores + 14} cores but has {cores}" in p[0]["what"] and f"cores = {cores}" in p[0]["fix"], p
w = [w for w in r["warnings"] if "declares" in w["what"]]
assert len(w) == 1 and f"declares {mem // 2} MB of memory but has {mem}" in w[0]["what"], w
PYEOF
"$XFER" cluster doctor --cluster "$T/declared.toml" > "$T/declared.txt" 2>/dev/null
check "doctor's table shows the measured cores with the declaration beside them" "grep -q \"$cores \\[$((cores + 14)) declared\\]\" $T/declared.txt && grep -q 'warning(s):' $T/declared.txt"

# 6. push: atomic replace, checksums, dry run.
printf 'new contents\n' > "$T/data/site.xml"
printf 'old\n' > "$T/host12/site.xml"; ino_old=$(stat -c %i "$T/host12/site.xml")
cp "$T/data/site.xml" "$T/host13/site.xml"
"$XFER" cluster push --cluster "$T/good.toml" --dry-run --json "$T/data/site.xml" > "$T/dry.json" 2>/dev/null
"$PY" -c '
import json,sys; r=json.load(open(sys.argv[1])); s={f["host"]:f["state"] for f in r["files"]}
assert s=={"127.0.0.11":"missing","127.0.0.12":"differs","127.0.0.13":"same"}, s' "$T/dry.json" && ok "push --dry-run: missing / differs / same" || bad "dry run: $(cat $T/dry.json)"
check "dry run changed nothing" "[ \"\$(cat $T/host12/site.xml)\" = old ] && [ ! -e $T/host11/site.xml ]"
"$XFER" cluster push --cluster "$T/good.toml" --json "$T/data/site.xml" > "$T/push.json" 2>/dev/null
check "push exits 0" "[ $? = 0 ]"
want=$(sha256sum < "$T/data/site.xml" | cut -d' ' -f1)
check "every host's copy has our sha256 (sha256sum)" "[ \"\$(sha256sum < $T/host11/site.xml | cut -d' ' -f1)\" = $want ] && [ \"\$(sha256sum < $T/host12/site.xml | cut -d' ' -f1)\" = $want ]"
check "the old file was replaced by rename (new inode), no temporary files left" "[ $ino_old != \$(stat -c %i $T/host12/site.xml) ] && ! ls -A $T/host11 $T/host12 $T/host13 | grep -q xfer-push"
"$PY" -c '
import json,sys; r=json.load(open(sys.argv[1])); s={f["host"]:(f["state"],f["sha256"]) for f in r["files"]}
assert s["127.0.0.11"]==("copied",sys.argv[2]) and s["127.0.0.12"]==("copied",sys.argv[2]) and s["127.0.0.13"]==("same",sys.argv[2]), s' "$T/push.json" "$want" \
  && ok "push reports copied/copied/same with the remote checksums" || bad "push: $(cat $T/push.json)"

# 7. reset-dfs / reset-yarn with the recording stand-ins.
mkdir -p "$T/host11/dfs/data/current" "$T/host12/dfs/data/current" "$T/host13/dfs/x"
echo block > "$T/host12/dfs/data/current/blk_1"
"$XFER" cluster reset-dfs --cluster "$T/good.toml" < /dev/null > /dev/null 2>"$T/nofty.err"
check "reset-dfs refuses without a terminal and without --yes" "[ $? = 2 ] && grep -q -- --yes $T/nofty.err && [ ! -e $T/record.log ]"
"$XFER" cluster reset-dfs --cluster "$T/good.toml" --yes > /dev/null 2>&1
check "reset-dfs --yes succeeds" "[ $? = 0 ]"
expected="127.0.0.11 sbin/stop-dfs.sh  conf=$T/hadoop/etc/hadoop
127.0.0.11 bin/hdfs namenode -format -force -nonInteractive conf=$T/hadoop/etc/hadoop
127.0.0.11 sbin/start-dfs.sh  conf=$T/hadoop/etc/hadoop"
check "reset-dfs ran stop, format, start on the namenode in order" "[ \"\$(cat $T/record.log)\" = \"\$expected\" ]"
check "reset-dfs wiped the DFS folders on every host, keeping the folders" "[ -d $T/host12/dfs ] && [ -z \"\$(find $T/host11/dfs $T/host12/dfs $T/host13/dfs -mindepth 1)\" ]"
rm -f "$T/record.log"; touch "$T/fail-stop-yarn.sh"
"$XFER" cluster reset-yarn --cluster "$T/good.toml" --json > "$T/yarn.json" 2>/dev/null
check "reset-yarn stops at the first failure (stop-yarn fails, start-yarn not run)" "[ $? = 1 ] && [ \"\$(cut -d' ' -f1,2 $T/record.log)\" = '127.0.0.11 sbin/stop-yarn.sh' ]"
rm -f "$T/record.log" "$T/fail-stop-yarn.sh"
"$XFER" cluster reset-yarn --cluster "$T/good.toml" > /dev/null 2>&1
check "reset-yarn: stop then start on the resourcemanager" "[ \"\$(cut -d' ' -f1,2 $T/record.log | tr '\n' ,)\" = '127.0.0.11 sbin/stop-yarn.sh,127.0.0.11 sbin/start-yarn.sh,' ]"

# 8. render from the live hosts' facts; without --for, the files the roles call for (no slurmctld here: no slurm.conf,
# and a line saying so).
"$XFER" cluster render --cluster "$T/good.toml" --out "$T/conf" --json > "$T/render.json" 2>"$T/render.err"
check "render from measured facts" "[ $? = 0 ] && grep -qx \"127.0.0.12 slots=$(nproc)\" $T/conf/mpi/hostfile"
check "render's default: Hadoop, Spark and MPI files, no slurm.conf" "[ -s $T/conf/hadoop/yarn-site.xml ] && [ -s $T/conf/spark/spark-defaults.conf ] && [ ! -e $T/conf/slurm/slurm.conf ]"
"$PY" -c '
import json,sys; r=json.load(open(sys.argv[1]))
assert r["skipped"]==[{"part":"slurm","reason":"no host has the role slurmctld"}], r["skipped"]' "$T/render.json" && ok "render --json names the skipped part and why" || bad "render skipped: $(cat $T/render.json | head -c 600)"
"$XFER" cluster render --cluster "$T/good.toml" --out "$T/conf2" > "$T/render.txt" 2>&1
check "render says what it skipped" "grep -qx 'skipped slurm: no host has the role slurmctld' $T/render.txt"
"$XFER" cluster render --cluster "$T/good.toml" --out "$T/conf3" --for slurm > /dev/null 2>"$T/render-slurm.err"
check "an explicit --for slurm without a slurmctld is still an error naming the role" "[ $? != 0 ] && grep -q slurmctld $T/render-slurm.err"

echo "$pass passed, $failed failed"
[ $failed = 0 ]
