#include "index/distance_kernels.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SIAMFACE_HAVE_X86 1
#endif

namespace siamface::index {

void squared_distances_scalar(const float* query, const float* rows, std::size_t n, std::size_t dims, float* out) {
  for (std::size_t r = 0; r < n; ++r) {
    const float* row = rows + r * dims;
    float sum = 0.0F;
    for (std::size_t i = 0; i < dims; ++i) {
      const float d = query[i] - row[i];
      sum += d * d;
    }
    out[r] = sum;
  }
}

void squared_distances_group_scalar(const float* queries, std::size_t nq, const float* rows,
                                    std::size_t n, std::size_t dims, float* out) {
  for (std::size_t q = 0; q < nq; ++q) {
    squared_distances_scalar(queries + q * dims, rows, n, dims, out + q * n);
  }
}

#ifdef SIAMFACE_HAVE_X86

bool avx2_supported() {
  static const bool supported = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return supported;
}

namespace {

__attribute__((target("avx2,fma"))) inline float horizontal_sum(__m256 v) {
  const __m128 lo = _mm256_castps256_ps128(v);
  const __m128 hi = _mm256_extractf128_ps(v, 1);
  __m128 s = _mm_add_ps(lo, hi);
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace

__attribute__((target("avx2,fma"))) void squared_distances_avx2(const float* query,
                                                                 const float* rows, std::size_t n,
                                                                 std::size_t dims, float* out) {
  for (std::size_t r = 0; r < n; ++r) {
    const float* row = rows + r * dims;
    __m256 acc0 = _mm256_setzero_ps();
    __m256 acc1 = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps();
    __m256 acc3 = _mm256_setzero_ps();
    for (std::size_t i = 0; i < dims; i += 32) {
      const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(query + i), _mm256_loadu_ps(row + i));
      const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(query + i + 8), _mm256_loadu_ps(row + i + 8));
      const __m256 d2 =
          _mm256_sub_ps(_mm256_loadu_ps(query + i + 16), _mm256_loadu_ps(row + i + 16));
      const __m256 d3 =
          _mm256_sub_ps(_mm256_loadu_ps(query + i + 24), _mm256_loadu_ps(row + i + 24));
      acc0 = _mm256_fmadd_ps(d0, d0, acc0);
      acc1 = _mm256_fmadd_ps(d1, d1, acc1);
      acc2 = _mm256_fmadd_ps(d2, d2, acc2);
      acc3 = _mm256_fmadd_ps(d3, d3, acc3);
    }
    out[r] = horizontal_sum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  }
}

__attribute__((target("avx2,fma"))) void squared_distances_group_avx2(const float* queries,
                                                                       std::size_t nq,
                                                                       const float* rows,
                                                                       std::size_t n, std::size_t dims, float* out) {
  if (nq != kMaxQueryGroup) {
    for (std::size_t q = 0; q < nq; ++q) {
      squared_distances_avx2(queries + q * dims, rows, n, dims, out + q * n);
    }
    return;
  }
  const float* q0 = queries;
  const float* q1 = queries + dims;
  const float* q2 = queries + 2 * dims;
  const float* q3 = queries + 3 * dims;
  for (std::size_t r = 0; r < n; ++r) {
    const float* row = rows + r * dims;
    __m256 a0 = _mm256_setzero_ps();
    __m256 a1 = _mm256_setzero_ps();
    __m256 a2 = _mm256_setzero_ps();
    __m256 a3 = _mm256_setzero_ps();
    for (std::size_t i = 0; i < dims; i += 8) {
      const __m256 x = _mm256_loadu_ps(row + i);  // loaded once, used by four queries
      const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(q0 + i), x);
      const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(q1 + i), x);
      const __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(q2 + i), x);
      const __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(q3 + i), x);
      a0 = _mm256_fmadd_ps(d0, d0, a0);
      a1 = _mm256_fmadd_ps(d1, d1, a1);
      a2 = _mm256_fmadd_ps(d2, d2, a2);
      a3 = _mm256_fmadd_ps(d3, d3, a3);
    }
    out[r] = horizontal_sum(a0);
    out[n + r] = horizontal_sum(a1);
    out[2 * n + r] = horizontal_sum(a2);
    out[3 * n + r] = horizontal_sum(a3);
  }
}

#else  // no x86: the "SIMD" entry points fall back to scalar

bool avx2_supported() { return false; }
void squared_distances_avx2(const float* query, const float* rows, std::size_t n, std::size_t dims, float* out) {
  squared_distances_scalar(query, rows, n, dims, out);
}
void squared_distances_group_avx2(const float* queries, std::size_t nq, const float* rows,
                                  std::size_t n, std::size_t dims, float* out) {
  squared_distances_group_scalar(queries, nq, rows, n, dims, out);
}

#endif

}  // namespace siamface::index
