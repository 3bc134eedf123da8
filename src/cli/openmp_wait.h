#pragma once
// OpenMP threads that wait by sleeping rather than spinning, unless the user chose otherwise.
//
// libgomp's default is to spin for ~300,000 iterations at every barrier before sleeping. On a host whose cores
// are busy with other work (a shared machine, several ranks per host, a Spark-style executor) a spinning thread
// burns the time slice its partner needs to reach the barrier, and each of a CNN's hundreds of small parallel
// regions then waits for the scheduler. Measured on this project's 2-core machine at load average 6, 2 threads,
// batch 1: RegNetX-400MF 0.8-7 img/s spinning against 84-87 passive (ONNX Runtime in the same minutes: 23-50),
// MobileNetV2 0.8-5.6 against 40-89 (ORT 26-31); see docs/torchvision-zoo-speed.md.
//
// libgomp reads OMP_WAIT_POLICY once, when it is loaded, before main() runs; so the variable is set and the
// program executes itself again. Nothing happens when OMP_WAIT_POLICY or GOMP_SPINCOUNT is already set (a user
// who benchmarks on an idle machine can ask for ACTIVE), or when the re-execution fails (the default remains).
namespace xfer::cli {

void ensure_passive_openmp_wait(char** argv);

}  // namespace xfer::cli
