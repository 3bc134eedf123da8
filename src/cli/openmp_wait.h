#pragma once
// OpenMP threads that wait by sleeping rather than spinning when the host is already busy, unless the user chose.
//
// libgomp's default is to spin for ~300,000 iterations at every barrier before sleeping. On an idle host that is
// the fastest choice: a CNN at batch 1 runs hundreds of short parallel regions, and a sleeping thread costs a
// futex wake-up at each. Measured on this project's 2-core machine, idle, 2 threads, batch 1, interleaved:
// MobileNetV2 230 img/s spinning (OMP_WAIT_POLICY=ACTIVE) against 107-109 sleeping (PASSIVE); InceptionV3 20-21
// against 15-18. On a host whose cores are busy with other work (a shared machine, a Spark-style executor) a
// spinning thread burns the time slice its partner needs to reach the barrier: at load average 6-9 from builds,
// RegNetX-400MF ran 0.8-7 img/s spinning against 44-87 sleeping, MobileNetV2 0.8-10 against 40-89
// (docs/torchvision-zoo-speed.md). So xfer asks for PASSIVE only when other threads already occupy every core
// when it starts: counted as runnable now (/proc/loadavg's running field), not by the 1-minute load average, which
// lags: after a benchmark's previous 2-thread process ends, the average stays near 2 for a minute, and the next
// process would sleep at its barriers on an idle host.
//
// libgomp reads OMP_WAIT_POLICY once, when it is loaded, before main() runs; so the variable is set and the
// program executes itself again. Nothing happens when OMP_WAIT_POLICY or GOMP_SPINCOUNT is already set (the user's
// choice wins), or when the re-execution fails (the default remains).
namespace xfer::cli {

void choose_openmp_wait_policy(char** argv);

}  // namespace xfer::cli
