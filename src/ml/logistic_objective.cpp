#include "ml/logistic_objective.h"

#include <algorithm>
#include <cmath>

#include <omp.h>

namespace xfer::ml {

namespace {

using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowMatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// log(1 + exp(m)) without overflow.
double softplus(double m) { return m > 0 ? m + std::log1p(std::exp(-m)) : std::log1p(std::exp(m)); }

}  // namespace

LogisticObjective::LogisticObjective(Problem problem)
    : p_(std::move(problem)), n_outputs_(p_.binomial ? 1 : p_.n_classes) {
  slot_gradient_ = Eigen::MatrixXd::Zero(int64_t{kSlots} * n_outputs_, p_.d);
  slot_intercept_ = Eigen::MatrixXd::Zero(kSlots, n_outputs_);
  slot_loss_.assign(kSlots, 0.0);
  reduce_buffer_.assign(1 + n_parameters(), 0.0);
  scratch_.resize(static_cast<size_t>(std::max(1, omp_get_max_threads())));
  for (auto& s : scratch_) {
    s.block.resize(kBlockRows, p_.d);
    s.margins.resize(kBlockRows, n_outputs_);
    s.g.resize(kBlockRows, n_outputs_);
  }
}

size_t LogisticObjective::n_parameters() const {
  return static_cast<size_t>(n_outputs_) * static_cast<size_t>(p_.d) + (p_.fit_intercept ? n_outputs_ : 0);
}

void LogisticObjective::unpack(const double* theta, Eigen::MatrixXd& coefficients,
                               Eigen::VectorXd& intercepts) const {
  const int64_t d = p_.d;
  coefficients.resize(n_outputs_, d);
  for (int k = 0; k < n_outputs_; ++k)
    for (int64_t j = 0; j < d; ++j) coefficients(k, j) = theta[k * d + j] * p_.scale[j];
  intercepts = Eigen::VectorXd::Zero(n_outputs_);
  if (p_.fit_intercept)
    for (int k = 0; k < n_outputs_; ++k) intercepts[k] = theta[n_outputs_ * d + k];
}

double LogisticObjective::evaluate_with_gradient(const double* theta, double* gradient) {
  const int64_t n = p_.n, d = p_.d;
  const int K = n_outputs_;
  // The model in the original feature space: margins = x . W^T + b.
  Eigen::MatrixXd w(K, d);
  Eigen::VectorXd b;
  unpack(theta, w, b);
  const Eigen::MatrixXd wt = w.transpose();  // d x K, so the block product is a plain GEMM

  slot_gradient_.setZero();
  slot_intercept_.setZero();
  std::fill(slot_loss_.begin(), slot_loss_.end(), 0.0);
  const int64_t n_blocks = (n + kBlockRows - 1) / kBlockRows;

#pragma omp parallel num_threads(static_cast<int>(scratch_.size()))
  {
    ThreadScratch& scratch = scratch_[static_cast<size_t>(omp_get_thread_num())];
    RowMatrixD& xb = scratch.block;
    RowMatrixD& margins = scratch.margins;
    RowMatrixD& g = scratch.g;
#pragma omp for schedule(static)
    for (int slot = 0; slot < kSlots; ++slot) {
      auto grad = slot_gradient_.middleRows(int64_t{slot} * K, K);
      double loss = 0.0;
      for (int64_t block = slot; block < n_blocks; block += kSlots) {
        const int64_t row0 = block * kBlockRows;
        const int64_t rows = std::min(kBlockRows, n - row0);
        auto xblock = xb.topRows(rows);
        xblock = Eigen::Map<const RowMatrixF>(p_.x + row0 * d, rows, d).cast<double>();
        auto m = margins.topRows(rows);
        m.noalias() = xblock * wt;
        auto gb = g.topRows(rows);
        for (int64_t r = 0; r < rows; ++r) {
          const int label = p_.labels[row0 + r];
          const double weight = p_.class_weight[label];
          if (K == 1) {
            const double margin = m(r, 0) + b[0];
            const double y = label == 1 ? 1.0 : 0.0;
            loss += weight * (softplus(margin) - y * margin);
            const double prob = 1.0 / (1.0 + std::exp(-margin));
            gb(r, 0) = weight * (prob - y);
          } else {
            double max_margin = -INFINITY;
            for (int k = 0; k < K; ++k) {
              m(r, k) += b[k];
              max_margin = std::max(max_margin, m(r, k));
            }
            double sum = 0.0;
            for (int k = 0; k < K; ++k) {
              gb(r, k) = std::exp(m(r, k) - max_margin);
              sum += gb(r, k);
            }
            loss += weight * (max_margin + std::log(sum) - m(r, label));
            const double inv_sum = 1.0 / sum;
            for (int k = 0; k < K; ++k) gb(r, k) = weight * (gb(r, k) * inv_sum - (k == label ? 1.0 : 0.0));
          }
        }
        grad.noalias() += gb.transpose() * xblock;
        slot_intercept_.row(slot) += gb.colwise().sum();
      }
      slot_loss_[slot] = loss;
    }
  }

  // Combine the slots in slot order, then across ranks: [loss, coefficient gradient K x d row-major, intercepts].
  double* sums = reduce_buffer_.data();
  const size_t n_coef = static_cast<size_t>(K) * d;
  sums[0] = 0.0;
  for (int slot = 0; slot < kSlots; ++slot) sums[0] += slot_loss_[slot];
  for (int k = 0; k < K; ++k) {
    for (int64_t j = 0; j < d; ++j) {
      double s = 0.0;
      for (int slot = 0; slot < kSlots; ++slot) s += slot_gradient_(int64_t{slot} * K + k, j);
      sums[1 + k * d + j] = s;
    }
  }
  const size_t n_sums = 1 + n_coef + (p_.fit_intercept ? K : 0);
  if (p_.fit_intercept) {
    for (int k = 0; k < K; ++k) {
      double s = 0.0;
      for (int slot = 0; slot < kSlots; ++slot) s += slot_intercept_(slot, k);
      sums[1 + n_coef + k] = s;
    }
  }
  if (p_.allreduce_sum) p_.allreduce_sum(sums, n_sums);

  // Divide by the total weight, map the coefficient gradient into theta space and add the L2 term.
  const double inv_w = 1.0 / p_.total_weight;
  double value = sums[0] * inv_w;
  for (int k = 0; k < K; ++k) {
    for (int64_t j = 0; j < d; ++j) {
      const size_t i = static_cast<size_t>(k * d + j);
      const double t = theta[i];
      gradient[i] = sums[1 + i] * inv_w * p_.scale[j] + p_.l2[j] * t;
      value += 0.5 * p_.l2[j] * t * t;
    }
  }
  if (p_.fit_intercept)
    for (int k = 0; k < K; ++k) gradient[n_coef + k] = sums[1 + n_coef + k] * inv_w;
  return value;
}

}  // namespace xfer::ml
