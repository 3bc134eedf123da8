#include "cluster/push.h"

#include <sys/stat.h>

#include <filesystem>

#include "cluster/ssh.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/sha256.h"

namespace xfer::cluster {
namespace {

// $1 target path, $2 expected sha256, $3 octal mode. Written to a temporary name in the target's folder, checked,
// then renamed; any failure removes the temporary file and leaves the target as it was.
const char* kReceiveScript = R"SH(set -u
target=$1; want=$2; mode=$3
dir=$(dirname -- "$target")
mkdir -p -- "$dir" || exit 3
tmp=$(mktemp -- "$dir/.xfer-push.XXXXXX") || exit 3
trap 'rm -f -- "$tmp"' EXIT HUP INT TERM PIPE
cat > "$tmp" || exit 4
got=$(sha256sum < "$tmp" | cut -d' ' -f1)
if [ "$got" != "$want" ]; then echo "checksum of the copy is $got, expected $want: incomplete transfer" >&2; exit 5; fi
chmod "$mode" "$tmp" && mv -f -- "$tmp" "$target" || exit 6
trap - EXIT
)SH";

// Prints the file's sha256, or "missing".
const char* kSumScript = R"SH(if [ -f "$1" ]; then sha256sum < "$1" | cut -d' ' -f1; else echo missing; fi)SH";

}  // namespace

std::vector<PushRow> push_files(const ClusterFile& cluster, const PushOptions& options) {
  const auto& files = options.files.empty() ? cluster.common_files : options.files;
  if (files.empty()) usage_fail("{}: nothing to push: give FILE... or list them in [push] common_files", cluster.path.string());
  struct Local {
    std::string path, sha, contents, mode;
  };
  std::vector<Local> locals;
  for (const auto& f : files) {
    if (f.empty() || f.front() != '/') usage_fail("push: {}: give an absolute path (it is used as-is on every host)", f);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(f, ec)) usage_fail("push: {}: no such file here", f);
    struct stat st{};
    stat(f.c_str(), &st);
    auto contents = read_file(f);
    locals.push_back({f, sha256_hex(contents), std::move(contents), fmt::format("{:o}", st.st_mode & 07777)});
  }
  std::vector<PushRow> rows(cluster.hosts.size() * locals.size());
  run_parallel(cluster.hosts.size(), options.fanout, [&](size_t hi) {
    const Host& host = cluster.hosts[hi];
    for (size_t fi = 0; fi < locals.size(); ++fi) {
      const Local& local = locals[fi];
      PushRow& row = rows[hi * locals.size() + fi];
      row.host = host.name;
      row.path = local.path;
      ProcessOptions p;
      p.timeout_s = options.timeout_s;
      const auto before = ssh_run(host, shell_join({"sh", "-c", kSumScript, "sh", local.path}), p);
      if (before.outcome != SshOutcome::ran || before.exit_code != 0) {
        row.state = before.outcome == SshOutcome::ran ? "failed" : "unreachable";
        row.detail = before.outcome == SshOutcome::ran ? before.err : outcome_name(before.outcome) + ": " + before.detail;
        continue;
      }
      std::string found = before.out.substr(0, before.out.find('\n'));
      if (options.dry_run) {
        row.remote_sha = found == "missing" ? "" : found;
        row.state = found == "missing" ? "missing" : found == local.sha ? "same" : "differs";
        continue;
      }
      if (found == local.sha) {
        row.state = "same";
        row.remote_sha = found;
        continue;
      }
      p.input = &local.contents;
      const auto copy = ssh_run(host, shell_join({"sh", "-c", kReceiveScript, "sh", local.path, local.sha, local.mode}), p);
      p.input = nullptr;
      if (copy.outcome != SshOutcome::ran || copy.exit_code != 0) {
        row.state = "failed";
        row.detail = copy.outcome == SshOutcome::ran ? fmt::format("exit {}: {}", copy.exit_code, copy.err)
                                                     : outcome_name(copy.outcome) + ": " + copy.detail;
        continue;
      }
      // Compare again from a fresh read of the renamed file.
      const auto after = ssh_run(host, shell_join({"sh", "-c", kSumScript, "sh", local.path}), p);
      row.remote_sha = after.out.substr(0, after.out.find('\n'));
      row.state = (after.outcome == SshOutcome::ran && row.remote_sha == local.sha) ? "copied" : "failed";
      if (row.state == "failed") row.detail = fmt::format("checksum after copy is {}, expected {}", row.remote_sha, local.sha);
    }
  });
  for (auto& r : rows)
    while (!r.detail.empty() && (r.detail.back() == '\n')) r.detail.pop_back();
  return rows;
}

}  // namespace xfer::cluster
