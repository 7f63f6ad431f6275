// Deciding names from gallery matches: threshold, margin and one-to-one assignment.
#pragma once

#include <limits>
#include <string>
#include <vector>

#include "siamface/types.hpp"

namespace siamface {

inline constexpr const char* kUnknownPerson = "unknown";

// One identity's distance to a probe face (min or mean over its stored embeddings).
struct Candidate {
  std::string person;
  float distance = 0.0F;
  // Distance to the nearest negative example of this person ("this face is not X",
  // Gallery::mark_not / add_negative); infinity when there is none.
  float negative_distance = std::numeric_limits<float>::infinity();
};

// The correction rule: a probe within `threshold` of a negative example of X, and nearer to it
// than to X (candidate.distance), is not named X. decide_names applies it to every candidate.
bool blocked_by_negative(const Candidate& candidate, float threshold);

struct DecisionRule {
  float threshold = 0.6F;  // accept a name only below this Euclidean distance
  // Accept only if the nearest *other* identity is at least this much further away
  // (0 turns the rule off).
  float margin = 0.0F;
  // Tighten the threshold for faces that carry less identity information (small, grey,
  // blurry): see effective_threshold().
  bool quality_adaptive = false;
};

// The threshold applied to one face under `rule`.
float effective_threshold(const DecisionRule& rule, const FaceQuality& quality);

struct Decision {
  std::string person = kUnknownPerson;  // kUnknownPerson when no candidate is accepted
  float distance = 0.0F;                // of the accepted candidate, else of the nearest one
  float threshold = 0.0F;               // the effective threshold used
  bool known = false;
};

// Decides every face of one photo together. `candidates[i]` are face i's identities sorted
// by ascending distance (distinct persons). Two faces never get the same name: acceptable
// (face, identity) pairs are assigned greedily, nearest first; a face whose best identity
// went to a nearer face takes its next acceptable one, or "unknown". A candidate blocked by a
// negative example (blocked_by_negative) is not acceptable: the next one may be.
// Thread safety: a pure function.
std::vector<Decision> decide_names(const std::vector<std::vector<Candidate>>& candidates,
                                   const std::vector<FaceQuality>& qualities, const DecisionRule& rule);

}  // namespace siamface
