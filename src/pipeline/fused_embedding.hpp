// The fused recognizer's embedding layout: [kFusedDlibWeight * dlib, kFusedMfnWeight * mfn],
// so that its squared distance is w * d_dlib^2 + (1 - w) * (s * d_mfn)^2 with w = 0.25 and
// s = 0.5 (the ratio of the two networks' LFW thresholds), both chosen on the training folds
// of LFW View 2 (bench/recognizer_fusion_bench.cpp; docs/validation.md). The decision rule
// reads one network back out of it (DecisionRule::agreement).
#pragma once

#include <cmath>
#include <cstddef>

#include "embed/mobile_face_net.hpp"
#include "siamface/types.hpp"

namespace siamface {

inline constexpr float kFusedDlibWeight = 0.5F;       // sqrt(0.25)
inline constexpr float kFusedMfnWeight = 0.4330127F;  // sqrt(0.75) * 0.5
inline constexpr std::size_t kFusedEmbeddingSize = kDlibEmbeddingSize + kMobileFaceNetDims;

// The MobileFaceNet alone: its unit vectors scaled by s, so that every recognizer's same-person
// threshold sits near dlib's 0.6 (LFW: 1.21 * 0.5 = 0.61) and one default serves them all.
inline constexpr float kMfnScale = 0.5F;

// The MobileFaceNet's own distance (on kMfnScale, as the mfn recognizer measures it) between
// two fused embeddings: their last dimensions, unweighted. NaN if they are not fused ones.
inline float fused_second_network_distance(const Embedding& a, const Embedding& b) {
  if (a.size() != kFusedEmbeddingSize || b.size() != kFusedEmbeddingSize) return std::nanf("");
  float sum = 0.0F;
  for (std::size_t i = kDlibEmbeddingSize; i < a.size(); ++i) {
    const float d = a[i] - b[i];
    sum += d * d;
  }
  return std::sqrt(sum) * (kMfnScale / kFusedMfnWeight);
}

}  // namespace siamface
