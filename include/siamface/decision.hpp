// Deciding names from gallery matches: threshold, margin, negative examples, agreement of the
// networks and one-to-one assignment (decide_names), and why a face stays unknown.
#pragma once

#include <array>
#include <limits>
#include <string>
#include <vector>

#include "siamface/names.hpp"
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
  // The fused recognizer only: the MobileFaceNet's own distance to the same stored face (on
  // its 0.6 scale); NaN when not measured (other recognizers). See DecisionRule::agreement.
  float second_network_distance = std::numeric_limits<float>::quiet_NaN();
};

// The correction rule: a probe within `threshold` of a negative example of X, and nearer to it
// than to X (candidate.distance), is not named X. decide_names applies it to every candidate.
bool blocked_by_negative(const Candidate& candidate, float threshold);

struct DecisionRule {
  float threshold = 0.6F;  // accept a name only below this Euclidean distance
  // Accept only if the nearest *other* identity is at least this much further away
  // (0 turns the rule off).
  float margin = 0.0F;
  // The margin for a face of poor quality (is_poor_quality: blurred, upscaled or dark), whose
  // embedding lies closer to everyone's; below `margin` it changes nothing (docs/usage.md,
  // "The decision rule"; docs/validation.md, "Open-set decisions").
  float poor_quality_margin = 0.0F;
  // Both networks must agree: a candidate with a second_network_distance (the fused
  // recognizer) is accepted only if that distance is also under threshold * agreement (0: off).
  float agreement = 0.0F;
  // Tighten the threshold for faces that carry less identity information (small, grey,
  // blurry): see effective_threshold().
  bool quality_adaptive = false;
};

// A face whose embedding carries little identity (issue 31): blurred or upscaled (variance of
// the Laplacian under kPoorSharpness) or dark (mean luminance under kPoorBrightness).
inline constexpr float kPoorSharpness = 40.0F;
inline constexpr float kPoorBrightness = 50.0F;
bool is_poor_quality(const FaceQuality& quality);

// The threshold applied to one face under `rule`.
float effective_threshold(const DecisionRule& rule, const FaceQuality& quality);

// Why a face is unknown (Decision::reason), in the order the rule checks them.
enum class UnknownReason {
  kNone,             // named
  kNoCandidate,      // the gallery holds nobody
  kAboveThreshold,   // the nearest person is not under the threshold
  kNegativeExample,  // the candidates under it were marked "not this person"
  kNetworksDisagree, // the fused recognizer's MobileFaceNet finds the candidate too far
  kAmbiguous,        // another person lies within the margin (Decision::runner_up)
  kNameTaken,        // its person went to a nearer face of the same photo
  // The liveness gate (IdentifyOptions::liveness, off by default) is checked before all the
  // others; these come last so the older values keep theirs.
  kSpoof,              // judged a photo or screen held up to the camera: never named
  kLivenessUnchecked,  // the gate is on and the face could not be judged (too small): not named
};
inline constexpr std::array<EnumName<UnknownReason>, 9> kUnknownReasonNames{
    {{UnknownReason::kNone, "none"},
     {UnknownReason::kNoCandidate, "empty_gallery"},
     {UnknownReason::kAboveThreshold, "above_threshold"},
     {UnknownReason::kNegativeExample, "negative_example"},
     {UnknownReason::kNetworksDisagree, "networks_disagree"},
     {UnknownReason::kAmbiguous, "ambiguous"},
     {UnknownReason::kNameTaken, "name_taken"},
     {UnknownReason::kSpoof, "spoof"},
     {UnknownReason::kLivenessUnchecked, "liveness_unchecked"}}};
inline const char* to_string(UnknownReason value) { return name_of(kUnknownReasonNames, value); }

struct Decision {
  std::string person = kUnknownPerson;  // kUnknownPerson when no candidate is accepted
  float distance = 0.0F;                // of the accepted candidate, else of the nearest one
  float threshold = 0.0F;               // the effective threshold used
  bool known = false;
  UnknownReason reason = UnknownReason::kNone;  // kNone exactly when known
  std::string runner_up;  // kAmbiguous: the other person within the margin
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
