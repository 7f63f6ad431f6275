#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "siamface/errors.hpp"
#include "siamface/decision.hpp"

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

bool is_poor_quality(const FaceQuality& quality) {
  // Zeros mean "not measured" (embeddings made elsewhere), which is not evidence of poor quality.
  const bool measured = quality.sharpness > 0 || quality.brightness > 0;
  return measured && (quality.sharpness < kPoorSharpness || quality.brightness < kPoorBrightness);
}

namespace {

// Why `list[rank]` may not name the face (kNone: it may). `other` is the nearest other person.
UnknownReason rejection(const std::vector<Candidate>& list, std::size_t rank, float threshold, float margin,
                        const DecisionRule& rule) {
  const Candidate& candidate = list[rank];
  if (!(candidate.distance < threshold)) return UnknownReason::kAboveThreshold;
  if (blocked_by_negative(candidate, threshold)) return UnknownReason::kNegativeExample;
  if (rule.agreement > 0 && !std::isnan(candidate.second_network_distance) &&
      !(candidate.second_network_distance < threshold * rule.agreement)) {
    return UnknownReason::kNetworksDisagree;
  }
  const float other = rank == 0 ? (list.size() > 1 ? list[1].distance : std::numeric_limits<float>::infinity())
                                : list[0].distance;
  if (margin > 0 && other - candidate.distance < margin) return UnknownReason::kAmbiguous;
  return UnknownReason::kNone;
}

}  // namespace

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
    decision.reason = list.empty() ? UnknownReason::kNoCandidate : UnknownReason::kNone;
    const float margin = is_poor_quality(qualities[face]) ? std::max(rule.margin, rule.poor_quality_margin) : rule.margin;
    for (std::size_t rank = 0; rank < list.size(); ++rank) {
      const UnknownReason why = rejection(list, rank, decision.threshold, margin, rule);
      if (rank == 0) {
        // The nearest person's fate explains an unknown face; kNameTaken if it was acceptable.
        decision.reason = why == UnknownReason::kNone ? UnknownReason::kNameTaken : why;
        if (why == UnknownReason::kAmbiguous && list.size() > 1) decision.runner_up = list[1].person;
      }
      if (why == UnknownReason::kNone) options.push_back({list[rank].distance, face, rank});
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
    decision.reason = UnknownReason::kNone;
    decision.runner_up.clear();
    taken.insert(person);
  }
  return decisions;
}

}  // namespace siamface
