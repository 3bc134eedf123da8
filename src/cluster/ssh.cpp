#include "cluster/ssh.h"

#include <cstdlib>

#include <fmt/format.h>

namespace xfer::cluster {

std::string shell_quote(std::string_view word) {
  std::string quoted = "'";
  for (char c : word) {
    if (c == '\'')
      quoted += "'\\''";
    else
      quoted += c;
  }
  quoted += "'";
  return quoted;
}

std::string shell_word(std::string_view word) {
  constexpr std::string_view kSafe =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=,+@%";
  if (!word.empty() && word.find_first_not_of(kSafe) == std::string_view::npos) return std::string(word);
  return shell_quote(word);
}

std::string shell_join(const std::vector<std::string>& words) {
  std::string joined;
  for (const auto& w : words) {
    if (!joined.empty()) joined += ' ';
    joined += shell_quote(w);
  }
  return joined;
}

std::vector<std::string> ssh_client_words(const Host& host, bool expand_home) {
  auto expand = [&](const std::string& path) {
    if (!expand_home || path.rfind("~/", 0) != 0) return path;
    const char* home = std::getenv("HOME");
    return home ? std::string(home) + path.substr(1) : path;
  };
  const auto& s = host.ssh;
  std::vector<std::string> words = {"ssh", "-T",
                                    "-o", "BatchMode=yes",
                                    "-o", fmt::format("ConnectTimeout={}", s.connect_timeout_s),
                                    "-o", "StrictHostKeyChecking=yes",
                                    "-o", "UpdateHostKeys=no",
                                    "-o", "ServerAliveInterval=5",
                                    "-o", "ServerAliveCountMax=3",
                                    "-o", "LogLevel=ERROR",
                                    "-p", std::to_string(s.port)};
  if (!s.known_hosts.empty()) {
    words.push_back("-o");
    words.push_back("UserKnownHostsFile=" + expand(s.known_hosts));
  }
  if (!s.identity.empty()) {
    words.insert(words.end(), {"-o", "IdentitiesOnly=yes", "-i", expand(s.identity)});
  }
  if (!s.user.empty()) words.insert(words.end(), {"-l", s.user});
  return words;
}

namespace {

std::vector<std::string> ssh_words(const Host& host, bool expand_home) {
  auto words = ssh_client_words(host, expand_home);
  words.push_back("--");
  words.push_back(host.address);
  return words;
}

}  // namespace

std::vector<std::string> ssh_argv(const Host& host, const std::string& remote_command) {
  auto words = ssh_words(host, true);
  words.push_back(remote_command);
  return words;
}

std::string ssh_command_line(const Host& host, const std::string& remote_command) {
  auto words = ssh_words(host, false);
  words.push_back(remote_command);
  std::string line;
  for (const auto& w : words) {
    if (!line.empty()) line += ' ';
    // "~/..." stays unquoted at its start so the remote shell expands it: ssh -i ~/x also works, but
    // UserKnownHostsFile=~/x relies on ssh's own expansion, which it does.
    line += shell_quote(w);
  }
  return line;
}

SshOutcome classify_ssh_failure(const std::string& err, std::string* detail) {
  // The last non-empty line is ssh's own reason.
  std::string last;
  size_t end = err.size();
  while (end > 0) {
    const size_t nl = err.rfind('\n', end - 1);
    const size_t begin = nl == std::string::npos ? 0 : nl + 1;
    std::string line = err.substr(begin, end - begin);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) {
      last = line;
      break;
    }
    if (nl == std::string::npos) break;
    end = nl;
  }
  if (detail) *detail = last;
  auto has = [&](const char* s) { return err.find(s) != std::string::npos; };
  if (has("REMOTE HOST IDENTIFICATION HAS CHANGED")) return SshOutcome::host_key_changed;
  if (has("Host key verification failed") || has("No ED25519 host key is known") || has("host key is known"))
    return SshOutcome::host_key_unknown;
  if (has("Permission denied")) return SshOutcome::auth_failed;
  if (has("Connection refused") || has("timed out") || has("No route to host") || has("Could not resolve") ||
      has("Network is unreachable") || has("Connection closed") || has("Connection reset") || has("not known"))
    return SshOutcome::unreachable;
  return SshOutcome::ssh_error;
}

std::string outcome_name(SshOutcome o) {
  switch (o) {
    case SshOutcome::ran: return "ran";
    case SshOutcome::unreachable: return "unreachable";
    case SshOutcome::host_key_changed: return "host key changed";
    case SshOutcome::host_key_unknown: return "host key not known";
    case SshOutcome::auth_failed: return "authentication failed";
    case SshOutcome::timed_out: return "timed out";
    case SshOutcome::ssh_error: return "ssh failed";
  }
  return "?";
}

std::string outcome_fix(SshOutcome o, const Host& h) {
  const std::string kh = h.ssh.known_hosts.empty() ? "~/.ssh/known_hosts" : h.ssh.known_hosts;
  switch (o) {
    case SshOutcome::ran: return "";
    case SshOutcome::unreachable:
      return fmt::format("check that {} is up, sshd listens on port {} and no firewall blocks it", h.address, h.ssh.port);
    case SshOutcome::host_key_changed:
      return fmt::format("the host key of {} differs from the one in {}: if the host was reinstalled, verify the new "
                         "key and replace the line (ssh-keygen -R '{}' -f {}); otherwise treat it as an attack",
                         h.address, kh, h.ssh.port == 22 ? h.address : fmt::format("[{}]:{}", h.address, h.ssh.port), kh);
    case SshOutcome::host_key_unknown:
      return fmt::format("add {}'s host key to {} (ssh-keyscan -p {} {}, then verify its fingerprint)", h.address, kh,
                         h.ssh.port, h.address);
    case SshOutcome::auth_failed:
      return fmt::format("install the public key of {} in ~{}/.ssh/authorized_keys on {}",
                         h.ssh.identity.empty() ? "the identity" : h.ssh.identity, h.ssh.user, h.address);
    case SshOutcome::timed_out: return "the command did not finish in time: raise --timeout or look at the host's load";
    case SshOutcome::ssh_error: return "run the same ssh command by hand with -v to see why";
  }
  return "";
}

SshResult ssh_run(const Host& host, const std::string& remote_command, const ProcessOptions& options) {
  const auto p = run_process(ssh_argv(host, remote_command), options);
  SshResult r;
  r.out = p.out;
  r.err = p.err;
  r.seconds = p.seconds;
  r.exit_code = p.exit_code;
  if (p.timed_out) {
    r.outcome = SshOutcome::timed_out;
    r.detail = fmt::format("killed after {:.1f} s", options.timeout_s);
  } else if (p.exit_code == -1) {
    r.outcome = SshOutcome::ssh_error;
    r.detail = p.err;
  } else if (p.exit_code == 255) {
    // 255 is ssh's own failure, unless the remote command itself exited 255 (then ssh printed nothing of its own).
    std::string detail;
    const auto o = classify_ssh_failure(p.err, &detail);
    if (o != SshOutcome::ssh_error || p.err.rfind("ssh:", 0) == 0 || p.err.find("\nssh:") != std::string::npos) {
      r.outcome = o;
      r.detail = detail;
    }
  }
  return r;
}

}  // namespace xfer::cluster
