// Reads an .npy file and writes it back (tests/util/npy_numpy_roundtrip.py compares the bytes with numpy's).
#include <cstdio>

#include "util/error.h"
#include "util/npy.h"

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  try {
    xfer::write_npy(argv[2], xfer::read_npy(argv[1]));
  } catch (const xfer::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
