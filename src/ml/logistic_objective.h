#pragma once
// The smooth part of MLlib's logistic regression objective over the LOCAL rows, separate from the optimiser
// (ensmallen style): loss + gradient at a parameter vector. The L1 part is left to OWL-QN.
//
// Parameters theta (what the optimiser sees): the K x d coefficient block row-major (K = 1 for binomial), then the
// K intercepts when fit_intercept. The model coefficient of output k, feature j is theta[k * d + j] * scale[j]:
// scale maps the optimisation space (the standardised space, 1 / sigma_j) to the original feature space, so that
// L-BFGS works on a well-conditioned problem as in MLlib.
//
// Virtual centring (MLlib's fitWithMean, Spark 3.1+): with an intercept and `mean` given, the optimiser's
// intercepts are those of the centred features, b_c,k = b_k + sum_j beta_kj * mean_j. It is the same objective
// and minimiser (the penalty never touches the intercepts), but without it the uncentred features (CNN
// activations are all positive, far from 0) couple the intercepts to every coefficient and L-BFGS needs several
// times the iterations. The data are not touched: the margins use b_k = b_c,k - beta_k . mean, and the coefficient
// gradient loses (sum_i g_ik) * mean_j.
//
// value = (1 / W) * sum_i w_i * logloss_i + 0.5 * sum_{k,j} l2[j] * theta[k * d + j]^2, W = sum_i w_i over ALL
// ranks. Per evaluation the partial sums [loss, gradient...] of the local rows go through allreduce_sum (when set)
// before the division by W, so the optimiser never knows about ranks.
//
// Determinism: rows are cut into blocks (kBlockRows rows for float64 products, whose block copy must stay in L2;
// kBlockRowsFloat32 for float32 products, which read the data in place); block b is summed into slot b % kSlots in row order, and
// the slots are added in slot order, so the result does not depend on the number of OpenMP threads.
//
// Precision: the per-row loss and its derivative are always float64. The two products per block (X_b W^T and
// G_b^T X_b) run either in float64 (Eigen GEMM on OpenBLAS, on a float64 copy of the block: exact to ~1e-16) or, with
// set_float32_products(true), in float32 straight on the float32 data (about twice as fast, no copy, but the
// objective is then only good to ~1e-7 relative). Block results are always accumulated in float64. The trainer
// uses float32 products for the bulk of the iterations and float64 to finish (see logistic_regression.cpp).
#include <cstdint>
#include <functional>
#include <vector>

#include <Eigen/Dense>

namespace xfer::ml {

class LogisticObjective {
 public:
  static constexpr int64_t kBlockRows = 64;
  static constexpr int64_t kBlockRowsFloat32 = 256;
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
    Eigen::VectorXd mean;                 // d: the weighted feature means (all ranks) to centre by; empty: no centring
    std::function<void(double*, size_t)> allreduce_sum;
  };

  explicit LogisticObjective(Problem problem);

  int n_outputs() const { return n_outputs_; }
  size_t n_parameters() const;
  // Returns the smooth objective at theta and writes its gradient (n_parameters values).
  double evaluate_with_gradient(const double* theta, double* gradient);
  void set_float32_products(bool on) { float32_products_ = on; }
  bool float32_products() const { return float32_products_; }
  // The original-space coefficients (n_outputs x d) and intercepts of theta.
  void unpack(const double* theta, Eigen::MatrixXd& coefficients, Eigen::VectorXd& intercepts) const;
  // The inverse: theta from an original-space model (coefficients of constant features are dropped).
  void pack(const Eigen::MatrixXd& coefficients, const Eigen::VectorXd& intercepts, double* theta) const;
  bool centred() const { return p_.fit_intercept && p_.mean.size() == p_.d; }

 private:
  Problem p_;
  int n_outputs_;
  // Buffers allocated once per fit: per-slot gradient partials and per-thread block scratch.
  Eigen::MatrixXd slot_gradient_;   // (kSlots * K) x d
  Eigen::MatrixXd slot_intercept_;  // kSlots x K
  std::vector<double> slot_loss_;
  std::vector<double> reduce_buffer_;
  template <typename T>
  void accumulate_blocks(const Eigen::MatrixXd& w, const Eigen::VectorXd& b);

  bool float32_products_ = false;
  struct ThreadScratch {
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> block, margins, g;
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> margins_f, g_f, product_f;
  };
  std::vector<ThreadScratch> scratch_;  // one per OpenMP thread
};

}  // namespace xfer::ml
