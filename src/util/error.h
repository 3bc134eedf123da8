#pragma once
// Errors that library code throws; only main() turns them into an exit code.
// UsageError -> exit code 2 (the user asked for something impossible), Error -> exit code 1 (the work failed).
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace xfer {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class UsageError : public Error {
 public:
  using Error::Error;
};

// A failure whose exit code matters to scripts (broadcast returns the worst exit code of its hosts).
class ExitStatus : public Error {
 public:
  ExitStatus(int code, const std::string& message) : Error(message), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

// A failure of another rank of the job, as rank 0 learnt it: whoever reports it (the status page) names that
// rank and its host rather than the rank that noticed.
class RankFailure : public Error {
 public:
  RankFailure(int rank, std::string host, const std::string& message)
      : Error(message), rank_(rank), host_(std::move(host)) {}
  int rank() const { return rank_; }
  const std::string& host() const { return host_; }

 private:
  int rank_;
  std::string host_;
};

// Throws Error with a formatted message: fail("{}: not a PNG file", path).
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

template <typename... Args>
[[noreturn]] void usage_fail(fmt::format_string<Args...> format, Args&&... args) {
  throw UsageError(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace xfer
