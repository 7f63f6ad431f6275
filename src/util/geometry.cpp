#include <algorithm>
#include <cmath>

#include "siamface/types.hpp"

namespace siamface {

float intersection_over_union(const Box& a, const Box& b) {
  const float overlap_w = std::min(a.right(), b.right()) - std::max(a.left, b.left);
  const float overlap_h = std::min(a.bottom(), b.bottom()) - std::max(a.top, b.top);
  if (overlap_w <= 0 || overlap_h <= 0) return 0.0F;
  const float intersection = overlap_w * overlap_h;
  return intersection / (a.area() + b.area() - intersection);
}

float euclidean_distance(const Embedding& a, const Embedding& b) {
  float sum = 0.0F;
  for (int i = 0; i < kEmbeddingSize; ++i) {
    const float d = a[i] - b[i];
    sum += d * d;
  }
  return std::sqrt(sum);
}

}  // namespace siamface
