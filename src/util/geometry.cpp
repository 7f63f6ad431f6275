#include <algorithm>
#include <cmath>

#include "siamface/errors.hpp"
#include "siamface/types.hpp"

#include <string>

namespace siamface {

float intersection_over_union(const Box& a, const Box& b) {
  const float overlap_w = std::min(a.right(), b.right()) - std::max(a.left, b.left);
  const float overlap_h = std::min(a.bottom(), b.bottom()) - std::max(a.top, b.top);
  if (overlap_w <= 0 || overlap_h <= 0) return 0.0F;
  const float intersection = overlap_w * overlap_h;
  return intersection / (a.area() + b.area() - intersection);
}

float euclidean_distance(const Embedding& a, const Embedding& b) {
  if (a.size() != b.size()) {
    throw Error(ErrorCode::kInvalidArgument, "cannot compare embeddings of " + std::to_string(a.size()) + " and " +
                                                 std::to_string(b.size()) + " values (different recognizers)");
  }
  float sum = 0.0F;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const float d = a[i] - b[i];
    sum += d * d;
  }
  return std::sqrt(sum);
}

}  // namespace siamface
