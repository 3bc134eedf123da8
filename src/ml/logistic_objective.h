#pragma once
// The smooth part of MLlib's logistic regression objective over the LOCAL rows, separate from the optimiser
// (ensmallen style): loss + gradient at a parameter vector. The L1 part is left to OWL-QN.
//
// Parameters theta (what the optimiser sees): the K x d coefficient block row-major (K = 1 for binomial), then the
// K intercepts when fit_intercept. The model coefficient of output k, feature j is theta[k * d + j] * scale[j]:
// scale maps the optimisation space (the standardised space, 1 / sigma_j) to the original feature space, so that
// L-BFGS works on a well-conditioned problem as in MLlib.
//
// value = (1 / W) * sum_i w_i * logloss_i + 0.5 * sum_{k,j} l2[j] * theta[k * d + j]^2, W = sum_i w_i over ALL
// ranks. Per evaluation the partial sums [loss, gradient...] of the local rows go through allreduce_sum (when set)
// before the division by W, so the optimiser never knows about ranks.
//
// Determinism: rows are cut into blocks of kBlockRows; block b is summed into slot b % kSlots in row order
// (float64, Eigen GEMM on a float64 copy of the block), and the slots are added in slot order, so the result
// does not depend on the number of OpenMP threads.
#include <cstdint>
#include <functional>
#include <vector>

#include <Eigen/Dense>

namespace xfer::ml {

class LogisticObjective {
 public:
  static constexpr int64_t kBlockRows = 256;
  static constexpr int kSlots = 16;

  struct Problem {
    const float* x = nullptr;  // n x d row-major, local rows
    int64_t n = 0;
    int64_t d = 0;
    const int* labels = nullptr;          // n class indices
    std::vector<double> class_weight;     // per class; the row weight is class_weight[label]
    double total_weight = 0.0;            // W, over all ranks
    bool binomial = false;                // K = 1 output, sigmoid; else K = n_classes outputs, softmax
    int n_classes = 2;
    bool fit_intercept = true;
    Eigen::VectorXd scale;                // d: theta -> original coefficient multiplier (0 for constant features)
    Eigen::VectorXd l2;                   // d: per-coordinate L2 factor (reg * (1 - a) * penalty weight)
    std::function<void(double*, size_t)> allreduce_sum;
  };

  explicit LogisticObjective(Problem problem);

  int n_outputs() const { return n_outputs_; }
  size_t n_parameters() const;
  // Returns the smooth objective at theta and writes its gradient (n_parameters values).
  double evaluate_with_gradient(const double* theta, double* gradient);
  // The original-space coefficients (n_outputs x d) and intercepts of theta.
  void unpack(const double* theta, Eigen::MatrixXd& coefficients, Eigen::VectorXd& intercepts) const;

 private:
  Problem p_;
  int n_outputs_;
  // Buffers allocated once per fit: per-slot gradient partials and per-thread block scratch.
  Eigen::MatrixXd slot_gradient_;   // (kSlots * K) x d
  Eigen::MatrixXd slot_intercept_;  // kSlots x K
  std::vector<double> slot_loss_;
  std::vector<double> reduce_buffer_;
  struct ThreadScratch {
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> block, margins, g;
  };
  std::vector<ThreadScratch> scratch_;  // one per OpenMP thread
};

}  // namespace xfer::ml
