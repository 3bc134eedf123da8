// posix_spawn with an own process group: ssh may start helpers (ProxyCommand, ControlMaster), and a time-out
// must take all of them down, not just the direct child.
#include "cluster/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "util/error.h"

extern char** environ;

namespace xfer::cluster {
namespace {

struct Pipe {
  int fd[2] = {-1, -1};
  Pipe() {
    if (pipe2(fd, O_CLOEXEC) != 0) fail("pipe: {}", std::strerror(errno));
  }
  ~Pipe() {
    for (int f : fd)
      if (f >= 0) close(f);
  }
  void close_end(int i) {
    if (fd[i] >= 0) close(fd[i]);
    fd[i] = -1;
  }
};

void emit_lines(std::string& pending, int stream, const ProcessOptions& options, bool flush) {
  if (!options.on_line) return;
  size_t start = 0;
  for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1)
    options.on_line(stream, pending.substr(start, nl - start));
  pending.erase(0, start);
  if (flush && !pending.empty()) {
    options.on_line(stream, pending);
    pending.clear();
  }
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options) {
  ProcessResult result;
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };

  Pipe in, out, err;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (options.input)
    posix_spawn_file_actions_adddup2(&actions, in.fd[0], 0);
  else
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out.fd[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err.fd[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);  // its own process group, so a time-out can kill everything it started
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    result.err = fmt::format("{}: cannot start: {}", argv[0], std::strerror(rc));
    return result;
  }
  in.close_end(0);
  out.close_end(1);
  err.close_end(1);
  if (!options.input) in.close_end(1);

  size_t written = 0;
  if (options.input) fcntl(in.fd[1], F_SETFL, O_NONBLOCK);
  if (options.input && options.input->empty()) in.close_end(1);
  std::string pending[2];
  char buffer[65536];
  while (out.fd[0] >= 0 || err.fd[0] >= 0) {
    pollfd fds[3];
    int n = 0;
    if (out.fd[0] >= 0) fds[n++] = {out.fd[0], POLLIN, 0};
    if (err.fd[0] >= 0) fds[n++] = {err.fd[0], POLLIN, 0};
    if (in.fd[1] >= 0) fds[n++] = {in.fd[1], POLLOUT, 0};
    int wait_ms = 200;
    if (options.timeout_s > 0) {
      const double left = options.timeout_s - elapsed();
      if (left <= 0) {
        kill(-pid, SIGKILL);
        result.timed_out = true;
        break;
      }
      wait_ms = std::min(wait_ms, static_cast<int>(left * 1000) + 1);
    }
    if (poll(fds, n, wait_ms) < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      if (!fds[i].revents) continue;
      if (fds[i].fd == in.fd[1]) {
        const ssize_t w = write(in.fd[1], options.input->data() + written, options.input->size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN && errno != EINTR) in.close_end(1);  // the program stopped reading
        if (written == options.input->size()) in.close_end(1);
        continue;
      }
      const bool is_out = fds[i].fd == out.fd[0];
      const ssize_t r = read(fds[i].fd, buffer, sizeof buffer);
      if (r > 0) {
        (is_out ? result.out : result.err).append(buffer, static_cast<size_t>(r));
        pending[is_out ? 0 : 1].append(buffer, static_cast<size_t>(r));
        emit_lines(pending[is_out ? 0 : 1], is_out ? 1 : 2, options, false);
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        (is_out ? out : err).close_end(0);
      }
    }
  }
  emit_lines(pending[0], 1, options, true);
  emit_lines(pending[1], 2, options, true);
  in.close_end(1);
  int status = 0;
  // The output pipes closed; the program may still be running (e.g. it closed stdout): wait for it within the
  // time-out as well.
  while (true) {
    const pid_t w = waitpid(pid, &status, options.timeout_s > 0 ? WNOHANG : 0);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
    if (options.timeout_s > 0 && elapsed() > options.timeout_s) {
      kill(-pid, SIGKILL);
      result.timed_out = true;
      waitpid(pid, &status, 0);
      break;
    }
    if (w == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (result.timed_out) kill(-pid, SIGKILL);  // anything left in the group
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.seconds = elapsed();
  return result;
}

void run_parallel(size_t count, int parallel, const std::function<void(size_t)>& task) {
  const size_t workers = std::min(count, static_cast<size_t>(std::max(1, parallel)));
  std::atomic<size_t> next{0};
  std::vector<std::thread> threads;
  for (size_t w = 0; w < workers; ++w)
    threads.emplace_back([&] {
      for (size_t i; (i = next++) < count;) task(i);
    });
  for (auto& t : threads) t.join();
}

}  // namespace xfer::cluster

namespace xfer::cluster {
namespace {
std::atomic<pid_t> g_foreground_child{0};

extern "C" void forward_to_child(int signal_number) {
  const pid_t child = g_foreground_child.load();
  if (child > 0) kill(child, signal_number);
}
}  // namespace

int run_foreground(const std::vector<std::string>& argv) {
  if (argv.empty()) fail("run: no program");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // The child shares our terminal and process group, so Ctrl-C reaches it as it reaches us; a SIGTERM sent to us
  // alone is passed on. Either way we wait for it to end: it decides how to stop its ranks.
  struct sigaction forward {}, old_int {}, old_term {};
  forward.sa_handler = forward_to_child;
  sigemptyset(&forward.sa_mask);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ);
  if (rc != 0) fail("{}: cannot start it: {}", argv[0], std::strerror(rc));
  g_foreground_child = pid;
  sigaction(SIGINT, &forward, &old_int);
  sigaction(SIGTERM, &forward, &old_term);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  g_foreground_child = 0;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace xfer::cluster
