// The communicator's contract, on ranks as threads (XGBoost's in-process collective tests): sums identical on
// every rank and equal to the serial sum, broadcast and gather of any size, tagged messages in order per sender,
// and an abort that releases every waiting rank instead of leaving it hanging.
#include <gtest/gtest.h>

#include <atomic>
#include <numeric>
#include <thread>

#include "dist/agreement.h"
#include "dist/communicator.h"
#include "dist/wire.h"
#include "rank_threads.h"

namespace xfer::dist {
namespace {

class Ranks : public ::testing::TestWithParam<int> {};

TEST_P(Ranks, AllreduceGivesEveryRankTheSameSum) {
  const int n = GetParam();
  std::vector<std::vector<double>> seen(static_cast<size_t>(n));
  run_rank_threads(n, [&](Communicator& comm) {
    std::vector<double> v(1000);
    for (size_t i = 0; i < v.size(); ++i) v[i] = 0.1 * static_cast<double>(i) + 1.0 / (comm.rank() + 3);
    comm.allreduce_sum(v.data(), v.size());
    int64_t counts[2] = {comm.rank(), 1};
    comm.allreduce_sum(counts, 2);
    EXPECT_EQ(counts[0], n * (n - 1) / 2);
    EXPECT_EQ(counts[1], n);
    seen[static_cast<size_t>(comm.rank())] = v;
  });
  for (int r = 1; r < n; ++r) EXPECT_EQ(seen[static_cast<size_t>(r)], seen[0]);  // bit-identical
  for (size_t i = 0; i < 1000; ++i) {
    double expected = 0;
    for (int r = 0; r < n; ++r) expected += 0.1 * static_cast<double>(i) + 1.0 / (r + 3);
    EXPECT_NEAR(seen[0][i], expected, 1e-12);
  }
}

TEST_P(Ranks, BroadcastGatherAndMessages) {
  const int n = GetParam();
  run_rank_threads(n, [&](Communicator& comm) {
    Bytes b = comm.rank() == 1 % n ? Bytes(100000, 7) : Bytes{};
    comm.broadcast(b, 1 % n);
    EXPECT_EQ(b, Bytes(100000, 7));
    const auto all = comm.gather(Bytes(static_cast<size_t>(comm.rank()) + 1, static_cast<uint8_t>(comm.rank())), 0);
    if (comm.rank() == 0) {
      ASSERT_EQ(all.size(), static_cast<size_t>(n));
      for (int r = 0; r < n; ++r) EXPECT_EQ(all[static_cast<size_t>(r)], Bytes(static_cast<size_t>(r) + 1, static_cast<uint8_t>(r)));
    } else {
      EXPECT_TRUE(all.empty());
    }
    // Every rank sends three numbered messages to rank 0 (itself included); per sender they arrive in order.
    for (int i = 0; i < 3; ++i) comm.send(0, 5, encode({{"from", comm.rank()}, {"i", i}}));
    if (comm.rank() == 0) {
      std::vector<int> next(static_cast<size_t>(n), 0);
      for (int k = 0; k < 3 * n; ++k) {
        const auto m = receive(comm, 5);
        const auto j = decode(m.bytes);
        EXPECT_EQ(j["from"].get<int>(), m.source);
        EXPECT_EQ(j["i"].get<int>(), next[static_cast<size_t>(m.source)]++);
      }
      EXPECT_FALSE(comm.try_receive(5).has_value());
    }
    comm.barrier();
  });
}

INSTANTIATE_TEST_SUITE_P(OneToFour, Ranks, ::testing::Values(1, 2, 3, 4));

TEST(Communicator, AbortReleasesRanksWaitingInCollectivesAndReceives) {
  auto comms = make_thread_communicators(3);
  std::atomic<int> released{0};
  std::thread waiting_in_barrier([&] {
    try {
      comms[1]->barrier();
    } catch (const JobAborted& e) {
      EXPECT_EQ(e.code(), 7);
      ++released;
    }
  });
  std::thread waiting_for_message([&] {
    try {
      receive(*comms[2], 9);
    } catch (const JobAborted&) {
      ++released;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_THROW(comms[0]->abort(7, "rank 0 gave up"), JobAborted);
  waiting_in_barrier.join();
  waiting_for_message.join();
  EXPECT_EQ(released, 2);
}

TEST(Agreement, EveryRankGetsTheSameErrorNamingTheRankThatDiffers) {
  std::vector<std::string> messages(3);
  auto comms = make_thread_communicators(3);
  std::vector<std::thread> threads;
  for (int r = 0; r < 3; ++r)
    threads.emplace_back([&, r] {
      try {
        agree(*comms[static_cast<size_t>(r)], "the data set", [&] {
          if (r == 2) throw UsageError("/data/xray: no such folder");
          return std::string(r == 1 ? "5210 images" : "5232 images");
        });
      } catch (const JobMismatch& e) {
        messages[static_cast<size_t>(r)] = e.what();
        EXPECT_EQ(e.code(), 2);  // the worst: rank 2's usage error
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(messages[0], messages[1]);
  EXPECT_EQ(messages[0], messages[2]);
  EXPECT_NE(messages[0].find("rank 1 on"), std::string::npos) << messages[0];
  EXPECT_NE(messages[0].find("5210 images, rank 0 on"), std::string::npos) << messages[0];
  EXPECT_NE(messages[0].find("rank 2 on"), std::string::npos) << messages[0];
  EXPECT_NE(messages[0].find("/data/xray: no such folder"), std::string::npos) << messages[0];
}

TEST(Wire, NumbersRoundTripAsByteStrings) {
  const std::vector<float> f = {1.5f, -0.0f, 3e38f};
  const auto back = from_binary<float>(decode(encode({{"f", to_binary(std::span<const float>(f))}})).at("f"));
  EXPECT_EQ(back, f);
  EXPECT_THROW(decode(Bytes{0xff, 0x00}), Error);
}

}  // namespace
}  // namespace xfer::dist
