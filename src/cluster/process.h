#pragma once
// Runs a program from an argument vector (posix_spawn, no shell on our side) in its own process group, feeds it
// optional stdin bytes, collects stdout/stderr and kills the whole group when the time-out passes.
#include <functional>
#include <string>
#include <vector>

namespace xfer::cluster {

struct ProcessResult {
  int exit_code = -1;      // the program's exit status; 128+N when killed by signal N; -1 if it never started
  bool timed_out = false;  // killed by us (SIGKILL to its process group) after the time-out
  std::string out, err;
  double seconds = 0;
};

struct ProcessOptions {
  double timeout_s = 0;          // 0: no time-out
  const std::string* input = nullptr;  // bytes for stdin; nullptr: stdin is /dev/null
  // Called with each complete output line (stream 1 or 2) as it arrives, when set (for --stream).
  std::function<void(int stream, const std::string& line)> on_line;
};

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// Runs a program in the foreground: its stdin, stdout and stderr are ours, Ctrl-C reaches it, SIGTERM sent to us
// is passed on, and we wait for it. Returns its exit code (128 + N when a signal N ended it).
int run_foreground(const std::vector<std::string>& argv);

// Runs task(i) for i in [0, count) on at most `parallel` threads at once.
void run_parallel(size_t count, int parallel, const std::function<void(size_t)>& task);

}  // namespace xfer::cluster
