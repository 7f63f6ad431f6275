// Face analysis: what a face is besides who (age, gender, expression, head pose) and whether it
// is a live face or a photo/screen held up to the camera (liveness). Each attribute's network
// runs only when asked for. Models, their origin and measured accuracy: docs/analysis.md.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "siamface/engine.hpp"
#include "siamface/names.hpp"
#include "siamface/options.hpp"
#include "siamface/types.hpp"

namespace siamface {

enum class Attribute { kAge, kGender, kExpression, kLiveness, kPose };
inline constexpr std::array<EnumName<Attribute>, 5> kAttributeNames{{{Attribute::kAge, "age"},
                                                                     {Attribute::kGender, "gender"},
                                                                     {Attribute::kExpression, "expression"},
                                                                     {Attribute::kLiveness, "liveness"},
                                                                     {Attribute::kPose, "pose"}}};

// Which attributes a call computes. Empty: none (box, landmarks and quality only).
struct AttributeSet {
  bool age = false;
  bool gender = false;
  bool expression = false;
  bool liveness = false;
  bool pose = false;

  bool contains(Attribute attribute) const;
  bool empty() const { return !(age || gender || expression || liveness || pose); }
  static AttributeSet all();
  // "age,gender" -> {age, gender}. Throws Error(kInvalidArgument) naming an unknown attribute
  // and listing the known ones.
  static AttributeSet parse(std::string_view comma_separated);
};

// face-api's expression classes, in its network's output order.
inline constexpr std::array<const char*, 7> kExpressionClasses{"neutral", "happy",     "sad",      "angry",
                                                               "fearful", "disgusted", "surprised"};

struct GenderEstimate {
  std::string value;          // "female" or "male"
  float probability = 0.0F;   // of `value`, 0.5..1
};

struct ExpressionEstimate {
  std::string value;                 // the most probable class of kExpressionClasses
  std::array<float, 7> scores{};     // probabilities in kExpressionClasses order, sum 1
};

enum class LivenessVerdict { kLive, kSpoof };
inline constexpr std::array<EnumName<LivenessVerdict>, 2> kLivenessVerdictNames{
    {{LivenessVerdict::kLive, "live"}, {LivenessVerdict::kSpoof, "spoof"}}};

struct LivenessEstimate {
  LivenessVerdict verdict = LivenessVerdict::kLive;
  float score = 0.0F;      // probability of a live face, 0..1
  float threshold = 0.0F;  // the score at and above which a face is live
};

// Head pose in degrees, from the 68 landmarks (CompreFace's "pose" plugin shape): solvePnP
// against a generic 3D face, so a rough estimate. yaw > 0: the face turned towards the image's
// right; pitch > 0: looking up; roll > 0: turned clockwise in the image.
struct HeadPose {
  float pitch = 0.0F;
  float roll = 0.0F;
  float yaw = 0.0F;
};

// The attribute networks need a face whose box is at least this wide and high; a smaller
// face gets no age, gender, expression or liveness (FaceAnalysis::too_small).
inline constexpr float kMinAnalysisFacePx = 20.0F;

struct FaceAnalysis {
  Face face;  // box, landmarks, quality
  bool too_small = false;  // under kMinAnalysisFacePx: only the pose was computed
  std::optional<float> age;  // years
  std::optional<GenderEstimate> gender;
  std::optional<ExpressionEstimate> expression;
  std::optional<LivenessEstimate> liveness;
  std::optional<HeadPose> pose;  // also unset when the landmarks cannot give one (unset, collapsed)
};

// The liveness score at and above which a face is judged live by default (docs/analysis.md
// has the error rates it gives).
float default_liveness_threshold();

struct AnalyzeOptions {
  AttributeSet attributes;
  PipelineOptions pipeline;
  std::optional<float> liveness_threshold;  // unset: default_liveness_threshold()
};

// Pure decision rules (no model): tested on their own.
LivenessEstimate decide_liveness(float live_score, float threshold);

// Judges a face track over several frames: a track is live only when the mean score of its
// frames so far passes the threshold and enough frames were seen; one good frame does not
// open a door. Thread safety: one instance per track; not shared between threads.
class LivenessVote {
 public:
  explicit LivenessVote(float threshold, int frames_needed);
  void add(float live_score);
  // nullopt until frames_needed frames were added.
  std::optional<LivenessEstimate> verdict() const;
  int frames() const { return frames_; }

 private:
  float threshold_;
  int frames_needed_;
  int frames_ = 0;
  double score_sum_ = 0.0;
};

// Detects every face of `image` and computes the attributes asked for. The attribute models
// load on first use, once per process for each models folder (ModelOptions::models_dir),
// checked against their pinned SHA-256 unless ModelOptions::verify_checksums is off. Throws Error(kModelMissing) naming
// the file when an asked attribute's model is not installed, Error(kInvalidImage) for an
// empty image, Error(kInvalidArgument) for a liveness_threshold outside 0..1.
// Thread safety: safe to call concurrently (the Engine is; the attribute nets are immutable and
// each call borrows its own inference state).
std::vector<FaceAnalysis> analyze_faces(const Engine& engine, const Image& image, const AnalyzeOptions& options = {});

// The same for one face already detected (by Engine::detect with the same image): for the
// routes and the tracker, which have their faces already.
FaceAnalysis analyze_face(const Engine& engine, const Image& image, const Face& face, const AnalyzeOptions& options);
// The same for several faces of one image at once: the face-api nets see them in batches, which
// costs less per face than one analyze_face call each. Results in the order of `faces`.
std::vector<FaceAnalysis> analyze_faces(const Engine& engine, const Image& image, const std::vector<Face>& faces,
                                        const AnalyzeOptions& options);

}  // namespace siamface
