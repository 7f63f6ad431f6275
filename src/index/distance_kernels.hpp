// Squared-L2 kernels over row-major kEmbeddingSize-float rows: an AVX2+FMA version chosen at
// run time and a plain scalar one (the fallback and the reference for differential tests).
// Thread safety: pure functions.
#pragma once

#include <cstddef>

namespace siamface::index {

inline constexpr std::size_t kMaxQueryGroup = 4;  // queries sharing one pass over the rows

bool avx2_supported();

// out[r] = |query - rows[r]|^2 for r in [0, n).
void squared_distances_scalar(const float* query, const float* rows, std::size_t n, float* out);
void squared_distances_avx2(const float* query, const float* rows, std::size_t n, float* out);

// out[q * n + r] = |queries[q] - rows[r]|^2 for q < nq <= kMaxQueryGroup; each row is read once.
void squared_distances_group_scalar(const float* queries, std::size_t nq, const float* rows,
                                    std::size_t n, float* out);
void squared_distances_group_avx2(const float* queries, std::size_t nq, const float* rows,
                                  std::size_t n, float* out);

}  // namespace siamface::index
