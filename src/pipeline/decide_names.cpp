#include <algorithm>
#include <limits>
#include <set>

#include "siamface/errors.hpp"
#include "siamface/identify.hpp"

namespace siamface {

float effective_threshold(const DecisionRule& rule, const FaceQuality& quality) {
  if (!rule.quality_adaptive) return rule.threshold;
  // Small, colourless or blurry faces make embeddings of different people drift together,
  // so demand a closer match from them. Factors measured on the open-set tests (docs/accuracy.md).
  float threshold = rule.threshold;
  if (quality.face_size_px > 0 && quality.face_size_px < 80) threshold *= 0.92F;
  if (quality.grayscale) threshold *= 0.92F;
  return threshold;
}

bool blocked_by_negative(const Candidate& candidate, float threshold) {
  return candidate.negative_distance < threshold && candidate.negative_distance < candidate.distance;
}

std::vector<Decision> decide_names(const std::vector<std::vector<Candidate>>& candidates,
                                   const std::vector<FaceQuality>& qualities, const DecisionRule& rule) {
  if (qualities.size() != candidates.size()) {
    throw Error(ErrorCode::kInvalidArgument, "decide_names: one quality per face is required");
  }
  struct Option {
    float distance;
    std::size_t face;
    std::size_t rank;
  };
  std::vector<Decision> decisions(candidates.size());
  std::vector<Option> options;
  for (std::size_t face = 0; face < candidates.size(); ++face) {
    const auto& list = candidates[face];
    Decision& decision = decisions[face];
    decision.threshold = effective_threshold(rule, qualities[face]);
    decision.distance = list.empty() ? std::numeric_limits<float>::infinity() : list.front().distance;
    for (std::size_t rank = 0; rank < list.size(); ++rank) {
      const Candidate& candidate = list[rank];
      if (!(candidate.distance < decision.threshold)) continue;
      if (blocked_by_negative(candidate, decision.threshold)) continue;
      // Nearest other identity: the top one, unless this candidate is the top one.
      const float other = rank == 0 ? (list.size() > 1 ? list[1].distance : std::numeric_limits<float>::infinity())
                                    : list[0].distance;
      if (rule.margin > 0 && other - candidate.distance < rule.margin) continue;
      options.push_back({candidate.distance, face, rank});
    }
  }
  std::stable_sort(options.begin(), options.end(), [](const Option& a, const Option& b) { return a.distance < b.distance; });
  std::set<std::string> taken;
  for (const Option& option : options) {
    Decision& decision = decisions[option.face];
    const std::string& person = candidates[option.face][option.rank].person;
    if (decision.known || taken.count(person)) continue;
    decision.person = person;
    decision.distance = option.distance;
    decision.known = true;
    taken.insert(person);
  }
  return decisions;
}

}  // namespace siamface
