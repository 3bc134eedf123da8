// Run under mpirun -np 2: messages cut into pieces arrive whole and intact. Rank 1 sends rank 0 a message; rank 0
// broadcasts one; both check every byte's pattern. Prints "ok" on rank 0 and exits 0, or names what differs.
//   mpirun -np 2 mpi_large_messages --full    2 GiB + 12345 bytes (past MPI's int counts; ~10 GB of memory)
//   XFER_MPI_CHUNK_BYTES=1048576 mpirun -np 2 mpi_large_messages   5 MiB + 12345 bytes in 1 MiB pieces (CI)
#include <cstdio>
#include <cstring>

#include "dist/communicator.h"
#include "dist/launcher.h"
#include "dist/mpi_session.h"

namespace {

size_t kBytes = (size_t{5} << 20) + 12345;

uint8_t pattern(size_t i, int salt) { return static_cast<uint8_t>((i * 2654435761u) >> 13) ^ static_cast<uint8_t>(salt); }

bool intact(const xfer::dist::Bytes& b, int salt, const char* what) {
  if (b.size() != kBytes) {
    std::fprintf(stderr, "%s: %zu bytes, expected %zu\n", what, b.size(), kBytes);
    return false;
  }
  for (size_t i = 0; i < b.size(); ++i)
    if (b[i] != pattern(i, salt)) {
      std::fprintf(stderr, "%s: byte %zu differs\n", what, i);
      return false;
    }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const auto launch = xfer::dist::detect_launcher();
  if (!launch) return 2;
  if (argc > 1 && std::strcmp(argv[1], "--full") == 0) kBytes = (size_t{1} << 31) + 12345;  // more than an int counts
  xfer::dist::MpiSession session(&argc, &argv, *launch);
  bool ok = true;
  {
    auto comm = session.world();
    if (comm->size() != 2) return 2;
    if (comm->rank() == 1) {
      xfer::dist::Bytes big(kBytes);
      for (size_t i = 0; i < kBytes; ++i) big[i] = pattern(i, 1);
      comm->send(0, 7, big);
    } else {
      const auto m = xfer::dist::receive(*comm, 7);
      ok = m.source == 1 && intact(m.bytes, 1, "message");
    }
    xfer::dist::Bytes shared;
    if (comm->rank() == 0) {
      shared.resize(kBytes);
      for (size_t i = 0; i < kBytes; ++i) shared[i] = pattern(i, 2);
    }
    comm->broadcast(shared, 0);
    ok = intact(shared, 2, "broadcast") && ok;
    int64_t good = ok;
    comm->allreduce_sum(&good, 1);
    if (comm->rank() == 0) std::printf("%s\n", good == 2 ? "ok" : "FAILED");
    ok = good == 2;
  }
  return ok ? 0 : 1;
}
