#pragma once
// The status page's HTTP server (cpp-httplib), a reader of a JobStatus. What it serves, and nothing else:
//   GET /            the page (status_page.h); ?refresh=MS sets how often it polls (100..60000, default 1000)
//   GET /api/status  the JSON (job_status.h)
//   GET /status.js   the page's script
// Everything else is 404; methods other than GET (and HEAD, GET without the body) are 405. It serves no file
// and runs nothing. Bound to loopback (the default), it also refuses requests whose Host header names another
// host, so a web page elsewhere cannot read it through DNS rebinding. A few worker threads at the lowest CPU
// priority (nice 19) answer, answers are cached for a quarter of a second, and past 25 new connections a second
// the next ones wait their turn in the kernel's backlog: a flood of requests costs the job a bounded little and
// never blocks it (measured by bench/status/).
#include <memory>
#include <string>

#include "status/job_status.h"

namespace xfer::status {

class StatusServer {
 public:
  // Listens on bind:port (port 0: any free port) at once; throws Error naming the address when it cannot.
  StatusServer(std::shared_ptr<const JobStatus> status, const std::string& bind, int port);
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  int port() const;
  std::string url() const;  // http://ADDR:PORT/
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_address(const std::string& address);

// After the job: keeps the process (and so its server) alive for up to seconds; Ctrl-C or SIGTERM end the
// wait early, and the process then exits normally. The signal handlers are the previous ones again afterwards.
void linger(double seconds);

// This machine's host name, for rank 0's row and for failures.
std::string this_host_name();

}  // namespace xfer::status
