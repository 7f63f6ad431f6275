// Squared-L2 kernels over row-major rows of `dims` floats: an AVX2+FMA version chosen at
// run time and a plain scalar one (the fallback and the reference for differential tests).
// Thread safety: pure functions.
#pragma once

#include <cstddef>

namespace siamface::index {

inline constexpr std::size_t kMaxQueryGroup = 4;  // queries sharing one pass over the rows

bool avx2_supported();

// out[r] = |query - rows[r]|^2 for r in [0, n).
// The AVX2 kernels need dims % 32 == 0 (every recognizer's size is: 128, 512, 640).
void squared_distances_scalar(const float* query, const float* rows, std::size_t n, std::size_t dims, float* out);
void squared_distances_avx2(const float* query, const float* rows, std::size_t n, std::size_t dims, float* out);

// out[q * n + r] = |queries[q] - rows[r]|^2 for q < nq <= kMaxQueryGroup; each row is read once.
void squared_distances_group_scalar(const float* queries, std::size_t nq, const float* rows,
                                    std::size_t n, std::size_t dims, float* out);
void squared_distances_group_avx2(const float* queries, std::size_t nq, const float* rows,
                                  std::size_t n, std::size_t dims, float* out);

}  // namespace siamface::index
