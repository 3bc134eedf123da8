#include "cluster/sizing.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include <fmt/format.h>

#include "util/error.h"

namespace xfer::cluster {

long reserved_system_gb(long total_gb) {
  // Hortonworks' table (RAM per node -> reserved for the system and Hadoop daemons), GB.
  static const long table[][2] = {{4, 1}, {8, 2}, {16, 2}, {24, 4}, {48, 6}, {64, 8}, {72, 8},
                                  {96, 12}, {128, 24}, {256, 32}, {512, 64}};
  long reserved = 1;  // below 4 GB
  for (const auto& row : table)
    if (total_gb >= row[0]) reserved = row[1];
  return reserved;
}

long min_container_mb(long total_gb) {
  if (total_gb <= 4) return 256;
  if (total_gb <= 8) return 512;
  if (total_gb <= 24) return 1024;
  return 2048;
}

YarnSizing size_yarn(int cores, long memory_mb, int disks) {
  YarnSizing s;
  s.total_gb = std::max(1L, std::lround(static_cast<double>(memory_mb) / 1024.0));
  s.reserved_gb = reserved_system_gb(s.total_gb);
  s.min_container_mb = min_container_mb(s.total_gb);
  const long available_mb = std::max(2L, s.total_gb - s.reserved_gb) * 1024;
  const long by_cores = 2L * cores;
  const long by_disks = static_cast<long>(std::ceil(1.8 * disks));
  const long by_memory = available_mb / s.min_container_mb;
  s.containers = std::max(1L, std::min({by_cores, by_disks, by_memory}));
  s.container_mb = std::max(s.min_container_mb, available_mb / s.containers);
  if (s.container_mb > 1024) s.container_mb = s.container_mb / 512 * 512;
  s.nodemanager_mb = s.containers * s.container_mb;
  s.reason = fmt::format(
      "Hortonworks YARN memory calculator: {} GB RAM, {} cores, {} disks; reserved {} GB for the system and "
      "daemons; containers = min(2x{} cores = {}, ceil(1.8x{} disks) = {}, {} MB / {} MB minimum = {}) = {}; "
      "{} MB per container; {} x {} MB = {} MB for containers",
      s.total_gb, cores, disks, s.reserved_gb, cores, by_cores, disks, by_disks, available_mb, s.min_container_mb,
      by_memory, s.containers, s.container_mb, s.containers, s.container_mb, s.nodemanager_mb);
  return s;
}

long spark_overhead_mb(long executor_mb) { return std::max(384L, executor_mb / 10); }

long round_up_to(long mb, long step) { return step <= 0 ? mb : (mb + step - 1) / step * step; }

long parse_memory_mb(const std::string& text, const std::string& what) {
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  const std::string digits = text.substr(0, i);
  std::string unit = text.substr(i);
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (unit.size() == 2 && unit[1] == 'b') unit.pop_back();
  if (digits.empty() || digits.size() > 12 || unit.size() > 1)
    usage_fail("{}: \"{}\" is not a memory size; write e.g. 12g, 2048m or 2048 (MiB)", what, text);
  const long n = std::stol(digits);
  if (unit.empty() || unit == "m") return n;
  if (unit == "g") return n * 1024;
  if (unit == "t") return n * 1024 * 1024;
  if (unit == "k") return (n + 1023) / 1024;
  usage_fail("{}: \"{}\" has an unknown unit; use k, m, g or t", what, text);
}

}  // namespace xfer::cluster
