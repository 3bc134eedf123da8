#include "status/status_server.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <csignal>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include "status/status_page.h"
#include "util/error.h"

namespace xfer::status {
namespace {

constexpr auto kCacheAge = std::chrono::milliseconds(250);
constexpr int kWorkerThreads = 4;
// A page polls once a second over one connection. Past this many new connections a second (each serving at most
// kRequestsPerConnection requests) the server does not work harder: the next connection waits in the kernel's
// backlog (kBacklog deep, so none is dropped) until its turn. A flood then costs the job a bounded share of one
// core, and its connections cannot use up the process's file descriptors, which the job needs for its images.
constexpr double kConnectionsPerSecond = 25;
constexpr double kConnectionBurst = 20;
constexpr int kRequestsPerConnection = 5;
constexpr int kBacklog = 1024;
// Connections accepted but not yet served hold a file descriptor each: past this many, accepting waits too (idle
// connections can keep every worker busy until their read times out).
constexpr int kMaxWaitingConnections = 32;

// The accept loop hands every new connection to this queue; past the rate, or with too many waiting already, it
// waits before taking the next one.
class ThrottledPool : public httplib::TaskQueue {
 public:
  explicit ThrottledPool(size_t threads) : pool_(threads), tokens_(kConnectionBurst), last_(Clock::now()) {}

  void enqueue(std::function<void()> fn) override {
    {
      std::unique_lock lock(mutex_);
      started_.wait(lock, [&] { return waiting_ < kMaxWaitingConnections; });
      ++waiting_;
    }
    const auto now = Clock::now();
    tokens_ = std::min(kConnectionBurst,
                       tokens_ + std::chrono::duration<double>(now - last_).count() * kConnectionsPerSecond);
    last_ = now;
    if (tokens_ < 1) {
      std::this_thread::sleep_for(std::chrono::duration<double>((1 - tokens_) / kConnectionsPerSecond));
      tokens_ = 1;
      last_ = Clock::now();
    }
    tokens_ -= 1;
    pool_.enqueue([this, fn = std::move(fn)] {
      {
        std::lock_guard lock(mutex_);
        --waiting_;
      }
      started_.notify_one();
      fn();
    });
  }
  void shutdown() override { pool_.shutdown(); }

 private:
  using Clock = std::chrono::steady_clock;
  httplib::ThreadPool pool_;
  double tokens_;  // only the accept loop's thread calls enqueue
  Clock::time_point last_;
  std::mutex mutex_;
  std::condition_variable started_;
  int waiting_ = 0;
};

// One cached body: remade when the job has published something new, or when it is older than kCacheAge
// (the JSON holds the clock: elapsed time, heartbeat ages).
class CachedBody {
 public:
  template <typename Make>
  std::string get(uint64_t version, Make&& make) {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (!valid_ || version != version_ || now - made_ > kCacheAge) {
      body_ = make();
      version_ = version;
      made_ = now;
      valid_ = true;
    }
    return body_;
  }

 private:
  std::mutex mutex_;
  bool valid_ = false;
  uint64_t version_ = 0;
  std::chrono::steady_clock::time_point made_;
  std::string body_;
};

int refresh_ms(const httplib::Request& request) {
  if (!request.has_param("refresh")) return 1000;
  try {
    return std::clamp(std::stoi(request.get_param_value("refresh")), 100, 60000);
  } catch (const std::exception&) {
    return 1000;
  }
}

// The Host header's host part: "127.0.0.1:8080" -> "127.0.0.1", "[::1]:80" -> "::1".
std::string host_of(const std::string& host_header) {
  if (!host_header.empty() && host_header.front() == '[') {
    auto end = host_header.find(']');
    return end == std::string::npos ? host_header : host_header.substr(1, end - 1);
  }
  return host_header.substr(0, host_header.find(':'));
}

volatile std::sig_atomic_t g_linger_interrupted = 0;
void on_linger_signal(int) { g_linger_interrupted = 1; }

}  // namespace

bool is_loopback_address(const std::string& address) {
  return address == "localhost" || address == "::1" || address.rfind("127.", 0) == 0;
}

std::string this_host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "localhost";
  return name;
}

struct StatusServer::Impl {
  std::shared_ptr<const JobStatus> status;
  std::string bind;
  int port = 0;
  httplib::Server server;
  std::thread thread;
  int socket = -1;  // the listening socket
  CachedBody json_cache, page_cache;
};

StatusServer::StatusServer(std::shared_ptr<const JobStatus> status, const std::string& bind, int port)
    : impl_(std::make_unique<Impl>()) {
  auto& impl = *impl_;
  impl.status = std::move(status);
  impl.bind = bind;
  auto& server = impl.server;
  server.new_task_queue = [] { return new ThrottledPool(kWorkerThreads); };
  server.set_keep_alive_max_count(kRequestsPerConnection);
  server.set_keep_alive_timeout(2);
  server.set_read_timeout(2);  // a page's request follows its connection at once; an idle one is dropped soon
  server.set_write_timeout(5);
  server.set_payload_max_length(1024);  // GET only: a request has no body worth reading
  // cpp-httplib sets SO_REUSEPORT by default, which lets a second process listen on the same port and take
  // some of the connections: a busy port must be an error instead. SO_REUSEADDR alone still allows a restart
  // while the last run's connections linger in TIME_WAIT.
  Impl* self = impl_.get();
  server.set_socket_options([self](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    self->socket = sock;
  });
  server.set_default_headers({
      {"Cache-Control", "no-store"},
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Referrer-Policy", "no-referrer"},
      {"Content-Security-Policy",
       "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
  });
  const bool loopback = is_loopback_address(bind);
  server.set_pre_routing_handler([loopback](const httplib::Request& request, httplib::Response& response) {
    if (request.method != "GET" && request.method != "HEAD") {
      response.status = 405;
      response.set_header("Allow", "GET, HEAD");
      response.set_content("only GET is served here\n", "text/plain; charset=utf-8");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (loopback && !is_loopback_address(host_of(request.get_header_value("Host")))) {
      response.status = 403;
      response.set_content("this status page answers requests for its loopback address only\n",
                           "text/plain; charset=utf-8");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  server.set_error_handler([](const httplib::Request&, httplib::Response& response) {
    if (response.body.empty())
      response.set_content(response.status == 404 ? std::string("404 not found\n") : fmt::format("{}\n", response.status),
                           "text/plain; charset=utf-8");
  });
  server.set_exception_handler([](const httplib::Request&, httplib::Response& response, std::exception_ptr) {
    response.status = 500;
    response.set_content("500 the status could not be drawn\n", "text/plain; charset=utf-8");
  });
  server.Get("/", [self](const httplib::Request& request, httplib::Response& response) {
    const int refresh = refresh_ms(request);
    // The page embeds its refresh period: cached per period asked (in practice one).
    auto body = refresh == 1000 ? self->page_cache.get(self->status->version(),
                                                       [&] { return render_status_page(self->status->to_json(), refresh); })
                                : render_status_page(self->status->to_json(), refresh);
    response.set_content(body, "text/html; charset=utf-8");
  });
  server.Get("/api/status", [self](const httplib::Request&, httplib::Response& response) {
    auto body = self->json_cache.get(self->status->version(), [&] {
      return self->status->to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    });
    response.set_content(body, "application/json");
  });
  server.Get("/status.js", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(status_page_script(), "text/javascript; charset=utf-8");
  });

  impl.port = port == 0 ? server.bind_to_any_port(bind) : (server.bind_to_port(bind, port) ? port : -1);
  if (impl.port <= 0)
    fail("status page: cannot listen on {}:{} (address in use, or not an address of this machine)", bind, port);
  // A deeper backlog than cpp-httplib's, for the connections that wait their turn (listen again only resizes it).
  if (impl.socket >= 0) ::listen(impl.socket, kBacklog);
  impl.thread = std::thread([self] {
    // The server's threads (this one and the workers it starts, which inherit it) run at the lowest priority:
    // when the job keeps every core busy, a flood of requests is answered out of nice 19's share of the CPU
    // (about 1.5% beside a nice-0 thread), not the job's; when a core is idle, the flood gets that core.
    // Linux applies nice per thread.
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 19);
    pthread_setname_np(pthread_self(), "xfer-status");  // inherited by the workers: their CPU time can be measured
    self->server.listen_after_bind();
  });
}

StatusServer::~StatusServer() { stop(); }

int StatusServer::port() const { return impl_->port; }

std::string StatusServer::url() const {
  const bool v6 = impl_->bind.find(':') != std::string::npos;
  return fmt::format("http://{}{}{}:{}/", v6 ? "[" : "", impl_->bind, v6 ? "]" : "", impl_->port);
}

void StatusServer::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->server.stop();
  impl_->thread.join();
}

void linger(double seconds) {
  if (!(seconds > 0)) return;
  struct sigaction action {};
  struct sigaction old_int {};
  struct sigaction old_term {};
  action.sa_handler = on_linger_signal;
  sigemptyset(&action.sa_mask);
  g_linger_interrupted = 0;
  sigaction(SIGINT, &action, &old_int);
  sigaction(SIGTERM, &action, &old_term);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!g_linger_interrupted && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  if (g_linger_interrupted) spdlog::info("status page: stopped early by a signal");
}

}  // namespace xfer::status
