#include "ml/logistic_objective.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>

#include "ml/sgemm.h"
#include "util/error.h"

namespace xfer::ml {

namespace {

template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

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
    s.margins.resize(kBlockRowsFloat32, n_outputs_);
    s.g.resize(kBlockRowsFloat32, n_outputs_);
    s.margins_f.resize(kBlockRowsFloat32, n_outputs_);
    s.g_f.resize(kBlockRowsFloat32, n_outputs_);
    s.product_f.resize(n_outputs_, p_.d);
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
  if (centred()) intercepts -= coefficients * p_.mean;
}

void LogisticObjective::pack(const Eigen::MatrixXd& coefficients, const Eigen::VectorXd& intercepts,
                             double* theta) const {
  const int64_t d = p_.d;
  for (int k = 0; k < n_outputs_; ++k)
    for (int64_t j = 0; j < d; ++j) theta[k * d + j] = p_.scale[j] != 0.0 ? coefficients(k, j) / p_.scale[j] : 0.0;
  if (!p_.fit_intercept) return;
  // The coefficients as theta maps them back (constant features dropped), so unpack(pack(m)) == m's margins.
  Eigen::MatrixXd kept(n_outputs_, d);
  for (int k = 0; k < n_outputs_; ++k)
    for (int64_t j = 0; j < d; ++j) kept(k, j) = theta[k * d + j] * p_.scale[j];
  Eigen::VectorXd b = intercepts;
  if (centred()) b += kept * p_.mean;
  for (int k = 0; k < n_outputs_; ++k) theta[n_outputs_ * d + k] = b[k];
}

// Fills slot_loss_, slot_gradient_, slot_intercept_ with the data term of the local rows; T is the scalar type of
// the two block products.
template <typename T>
void LogisticObjective::accumulate_blocks(const Eigen::MatrixXd& w, const Eigen::VectorXd& b) {
  const int64_t n = p_.n, d = p_.d;
  const int K = n_outputs_;
  const RowMatrix<T> wt = w.transpose().cast<T>();  // d x K, so the block product is a plain GEMM
  constexpr int64_t block_rows = std::is_same_v<T, double> ? kBlockRows : kBlockRowsFloat32;
  const int64_t n_blocks = (n + block_rows - 1) / block_rows;
  slot_gradient_.setZero();
  slot_intercept_.setZero();
  std::fill(slot_loss_.begin(), slot_loss_.end(), 0.0);
  std::atomic<bool> products_failed = false;

#pragma omp parallel num_threads(static_cast<int>(scratch_.size()))
  {
    ThreadScratch& scratch = scratch_[static_cast<size_t>(omp_get_thread_num())];
#pragma omp for schedule(static, 1)  // slot s on thread s % T: with few blocks (small n) every thread still gets some
    for (int slot = 0; slot < kSlots; ++slot) {
      auto grad = slot_gradient_.middleRows(int64_t{slot} * K, K);
      double loss = 0.0;
      for (int64_t block = slot; block < n_blocks; block += kSlots) {
        const int64_t row0 = block * block_rows;
        const int64_t rows = std::min(block_rows, n - row0);
        const Eigen::Map<const RowMatrix<float>> xf(p_.x + row0 * d, rows, d);
        auto xd = scratch.block.topRows(rows);
        auto md = scratch.margins.topRows(rows);
        auto gd = scratch.g.topRows(rows);
        if constexpr (std::is_same_v<T, double>) {
          xd = xf.template cast<double>();
          md.noalias() = xd * wt;
        } else {
          auto mf = scratch.margins_f.topRows(rows);
          if (!sgemm(false, false, rows, K, d, 1.0f, xf.data(), d, wt.data(), K, 0.0f, mf.data(), K))
            products_failed = true;
          md = mf.template cast<double>();
        }
        for (int64_t r = 0; r < rows; ++r) {
          const int label = p_.labels[row0 + r];
          const double weight = p_.class_weight[label];
          if (K == 1) {
            const double margin = md(r, 0) + b[0];
            const double y = label == 1 ? 1.0 : 0.0;
            loss += weight * (softplus(margin) - y * margin);
            gd(r, 0) = weight * (1.0 / (1.0 + std::exp(-margin)) - y);
          } else {
            double max_margin = -INFINITY;
            for (int k = 0; k < K; ++k) {
              md(r, k) += b[k];
              max_margin = std::max(max_margin, md(r, k));
            }
            double sum = 0.0;
            for (int k = 0; k < K; ++k) {
              gd(r, k) = std::exp(md(r, k) - max_margin);
              sum += gd(r, k);
            }
            loss += weight * (max_margin + std::log(sum) - md(r, label));
            const double inv_sum = 1.0 / sum;
            for (int k = 0; k < K; ++k) gd(r, k) = weight * (gd(r, k) * inv_sum - (k == label ? 1.0 : 0.0));
          }
        }
        if constexpr (std::is_same_v<T, double>) {
          grad.noalias() += gd.transpose() * xd;
        } else {
          auto gf = scratch.g_f.topRows(rows);
          gf = gd.template cast<float>();
          if (!sgemm(true, false, K, d, rows, 1.0f, gf.data(), K, xf.data(), d, 0.0f, scratch.product_f.data(), d))
            products_failed = true;
          grad += scratch.product_f.template cast<double>();
        }
        slot_intercept_.row(slot) += gd.colwise().sum();
      }
      slot_loss_[slot] = loss;
    }
  }
  if (products_failed) fail("logistic regression: oneDNN's sgemm refused a block product ({} x {}, {} outputs)", n, d, K);
}

double LogisticObjective::evaluate_with_gradient(const double* theta, double* gradient) {
  const int64_t d = p_.d;
  const int K = n_outputs_;
  Eigen::MatrixXd w(K, d);
  Eigen::VectorXd b;
  unpack(theta, w, b);
  if (float32_products_)
    accumulate_blocks<float>(w, b);
  else
    accumulate_blocks<double>(w, b);

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

  // Divide by the total weight, map the coefficient gradient into theta space (centred: minus the intercept
  // gradient times the mean) and add the L2 term.
  const double inv_w = 1.0 / p_.total_weight;
  double value = sums[0] * inv_w;
  const bool centre = centred();
  for (int k = 0; k < K; ++k) {
    const double intercept_sum = centre ? sums[1 + n_coef + k] : 0.0;
    for (int64_t j = 0; j < d; ++j) {
      const size_t i = static_cast<size_t>(k * d + j);
      const double t = theta[i];
      const double data = centre ? sums[1 + i] - intercept_sum * p_.mean[j] : sums[1 + i];
      gradient[i] = data * inv_w * p_.scale[j] + p_.l2[j] * t;
      value += 0.5 * p_.l2[j] * t * t;
    }
  }
  if (p_.fit_intercept)
    for (int k = 0; k < K; ++k) gradient[n_coef + k] = sums[1 + n_coef + k] * inv_w;
  return value;
}

}  // namespace xfer::ml
