#pragma once
// N ranks as threads of one test process (XGBoost's in-process collective tests): body(comm) runs on each. What
// main does for a rank that fails, done here: it aborts the job, which releases the ranks waiting for it; an
// interrupted rank other than 0 leaves the report to rank 0 (every rank sees the signal). The first error in rank
// order is rethrown after every thread has ended.
#include <exception>
#include <functional>
#include <thread>
#include <vector>

#include "dist/communicator.h"
#include "util/interrupt.h"

namespace xfer::dist {

inline void run_rank_threads(int n, const std::function<void(Communicator&)>& body) {
  auto comms = make_thread_communicators(n);
  std::vector<std::exception_ptr> errors(static_cast<size_t>(n));
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r)
    threads.emplace_back([&, r] {
      auto& comm = *comms[static_cast<size_t>(r)];
      try {
        body(comm);
      } catch (const JobAborted&) {  // another rank's failure: that rank has the error
      } catch (const Interrupted& e) {
        errors[static_cast<size_t>(r)] = std::current_exception();
        if (r != 0) return;
        try {
          comm.abort(e.code(), e.what());
        } catch (const JobAborted&) {
        }
      } catch (...) {
        errors[static_cast<size_t>(r)] = std::current_exception();
        try {
          comm.abort(1, "rank failed");
        } catch (const JobAborted&) {
        }
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace xfer::dist
