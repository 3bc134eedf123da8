#include "dist/agreement.h"

#include <fmt/format.h>

#include "dist/wire.h"

namespace xfer::dist {
namespace {

int exit_code_of(const std::exception& e) {
  if (const auto* status = dynamic_cast<const ExitStatus*>(&e)) return status->code();
  if (dynamic_cast<const UsageError*>(&e)) return 2;
  return 1;
}

}  // namespace

void agree(Communicator& comm, const std::string& what, const std::function<std::string()>& setup) {
  if (comm.size() == 1) {  // one process: its own error is the job's, as it is
    setup();
    return;
  }
  nlohmann::json mine = {{"rank", comm.rank()}, {"host", comm.host()}};
  try {
    mine["identity"] = setup();
  } catch (const std::exception& e) {
    mine["error"] = e.what();
    mine["exit_code"] = exit_code_of(e);
  }
  const auto all = comm.gather(encode(mine), 0);
  nlohmann::json verdict = {{"ok", true}};
  if (comm.rank() == 0) {
    std::vector<std::string> problems;
    int code = 0;
    const nlohmann::json root = mine;
    for (const auto& bytes : all) {
      const auto r = decode(bytes);
      const auto who = fmt::format("rank {} on {}", r.at("rank").get<int>(), r.at("host").get<std::string>());
      if (r.contains("error")) {
        problems.push_back(fmt::format("{}: {}", who, r["error"].get<std::string>()));
        code = std::max(code, r["exit_code"].get<int>());
      } else if (!root.contains("error") && r.at("identity") != root.at("identity")) {
        problems.push_back(fmt::format("{} has {}, rank 0 on {} has {}", who, r["identity"].get<std::string>(),
                                       root.at("host").get<std::string>(), root["identity"].get<std::string>()));
        code = std::max(code, 1);
      }
    }
    if (!problems.empty()) {
      std::string message = fmt::format("the ranks do not agree on the job ({}):", what);
      for (const auto& p : problems) message += "\n  " + p;
      verdict = {{"ok", false}, {"message", message}, {"exit_code", code}};
    }
  }
  auto bytes = encode(verdict);
  comm.broadcast(bytes, 0);
  verdict = decode(bytes);
  if (!verdict.at("ok").get<bool>())
    throw JobMismatch(verdict.at("exit_code").get<int>(), verdict.at("message").get<std::string>());
}

Bytes broadcast_from_root(Communicator& comm, const std::string& what, const std::function<Bytes()>& compute) {
  if (comm.size() == 1) return compute();
  nlohmann::json envelope;
  if (comm.rank() == 0) {
    try {
      envelope = {{"ok", true}, {"value", nlohmann::json::binary(compute())}};
    } catch (const std::exception& e) {
      envelope = {{"ok", false}, {"message", e.what()}, {"exit_code", exit_code_of(e)}};
    }
  }
  auto bytes = comm.rank() == 0 ? encode(envelope) : Bytes{};
  comm.broadcast(bytes, 0);
  envelope = decode(bytes);
  if (!envelope.at("ok").get<bool>())
    throw JobMismatch(envelope.at("exit_code").get<int>(),
                      fmt::format("{} (on rank 0, {})", envelope.at("message").get<std::string>(), what));
  return envelope.at("value").get_binary();
}

}  // namespace xfer::dist
