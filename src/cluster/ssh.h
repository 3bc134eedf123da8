#pragma once
// The system OpenSSH client, run as a subprocess with strict settings: BatchMode (never a password prompt),
// ConnectTimeout, StrictHostKeyChecking=yes against the configured known_hosts file, the configured identity,
// port and user. ssh joins the remote command's words into one string that the remote login shell parses again,
// so every word is quoted for a POSIX shell first: what the user typed is what the remote program receives.
#include <string>
#include <vector>

#include "cluster/cluster_file.h"
#include "cluster/process.h"

namespace xfer::cluster {

// 'word' with each ' written as '\'' : the POSIX shell reads it back as exactly `word` (also when empty).
std::string shell_quote(std::string_view word);
// The word as a POSIX shell reads it, quoted only when it has to be (for command lines shown to people).
std::string shell_word(std::string_view word);
// The words quoted and joined with spaces: one string for ssh's remote command.
std::string shell_join(const std::vector<std::string>& words);

// The ssh client and its options for this host (BatchMode, time-out, strict host keys, port, identity, user),
// without the host: what a launcher such as mpirun appends the host and its command to.
std::vector<std::string> ssh_client_words(const Host& host, bool expand_home = true);

// ssh's argument vector for running `remote_command` (already a shell string) on `host`.
std::vector<std::string> ssh_argv(const Host& host, const std::string& remote_command);

// The same ssh command as a shell string, to be run on another host (doctor's host-to-host checks); "~" in
// paths is left for that host's ssh to expand.
std::string ssh_command_line(const Host& host, const std::string& remote_command);

enum class SshOutcome { ran, unreachable, host_key_changed, host_key_unknown, auth_failed, timed_out, ssh_error };

struct SshResult {
  SshOutcome outcome = SshOutcome::ran;
  int exit_code = -1;  // the remote command's code when outcome == ran
  std::string out, err;
  double seconds = 0;
  std::string detail;  // ssh's own error line when outcome != ran
};

// Runs the remote command; the time-out (0: none) kills the ssh process group.
SshResult ssh_run(const Host& host, const std::string& remote_command, const ProcessOptions& options = {});

// Classifies ssh's exit 255 by its message ("Connection refused", "REMOTE HOST IDENTIFICATION HAS CHANGED"...).
SshOutcome classify_ssh_failure(const std::string& ssh_stderr, std::string* detail);
std::string outcome_name(SshOutcome outcome);
// What to do about it, in words, for doctor's problem lines.
std::string outcome_fix(SshOutcome outcome, const Host& host);

}  // namespace xfer::cluster
