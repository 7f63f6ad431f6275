// analyze_faces: the attribute networks (src/attributes/) over the engine's faces, and the
// decision rules of liveness. Models, crops and measurements: docs/analysis.md.
#include "siamface/analysis.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "attributes/attribute_nets.hpp"
#include "image/cv_image.hpp"
#include "model/model_files.hpp"
#include "pipeline/head_pose.hpp"
#include "siamface/errors.hpp"

namespace siamface {
namespace {

// Chosen from the measurements of docs/analysis.md ("Choosing the threshold").
constexpr float kDefaultLivenessThreshold = 0.5F;

// The attribute nets of one models folder, each loaded on first use. A load that fails is
// tried again by the next call (std::call_once does not mark a throwing call done).
struct AttributeModels {
  std::filesystem::path dir;
  bool verify_checksums = true;
  std::once_flag age_gender_once, expression_once, liveness_once;
  std::unique_ptr<AgeGenderNet> age_gender;
  std::unique_ptr<ExpressionNet> expression;
  std::unique_ptr<LivenessNet> liveness;
};

// Checks the files of `what`, then loads it; errors say which attribute needed the model.
template <typename Net, typename Make>
const Net& load_once(std::once_flag& once, std::unique_ptr<Net>& slot, const AttributeModels& models,
                     const char* what, const std::vector<std::string>& files, Make make) {
  std::call_once(once, [&] {
    try {
      for (const std::string& file : files) verify_model_file(models.dir, file, models.verify_checksums);
      slot = make(models.dir);
    } catch (const Error& e) {
      throw Error(e.code(), std::string(what) + ": " + e.what());
    }
  });
  return *slot;
}

AttributeModels& models_for(const Engine& engine) {
  static std::mutex mutex;
  static std::map<std::pair<std::string, bool>, std::unique_ptr<AttributeModels>> cache;
  const ModelOptions& options = engine.options();
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = cache[{options.models_dir, options.verify_checksums}];
  if (!slot) {
    slot = std::make_unique<AttributeModels>();
    slot->dir = options.models_dir;
    slot->verify_checksums = options.verify_checksums;
  }
  return *slot;
}

std::vector<std::string> face_api_files(const char* model) {
  return {std::string(model) + "-weights_manifest.json", std::string(model) + ".bin"};
}

const AgeGenderNet& age_gender_net(AttributeModels& m) {
  return load_once(m.age_gender_once, m.age_gender, m, "age and gender", face_api_files(kAgeGenderModel),
                   make_age_gender_net);
}
const ExpressionNet& expression_net(AttributeModels& m) {
  return load_once(m.expression_once, m.expression, m, "expression", face_api_files(kExpressionModel),
                   make_expression_net);
}
const LivenessNet& liveness_net(AttributeModels& m) {
  return load_once(m.liveness_once, m.liveness, m, "liveness", {kLivenessFile}, make_liveness_net);
}

float resolved_threshold(const AnalyzeOptions& options) {
  const float threshold = options.liveness_threshold.value_or(default_liveness_threshold());
  if (!(threshold >= 0.0F && threshold <= 1.0F)) {
    throw Error(ErrorCode::kInvalidArgument, "AnalyzeOptions::liveness_threshold must be within 0..1, got " +
                                                 std::to_string(threshold));
  }
  return threshold;
}

bool too_small(const Face& face) {
  return std::min(face.box.width, face.box.height) < kMinAnalysisFacePx;
}

// Fills the attributes of `faces` (the faces of `image`).
std::vector<FaceAnalysis> analyze_all(const Engine& engine, const Image& image, const std::vector<Face>& faces,
                                      const AnalyzeOptions& options) {
  const float threshold = resolved_threshold(options);
  const AttributeSet& asked = options.attributes;
  std::vector<FaceAnalysis> result;
  std::vector<Box> aligned_boxes, boxes;  // of the faces large enough for the nets
  std::vector<std::size_t> analysed;
  for (const Face& face : faces) {
    FaceAnalysis analysis;
    analysis.face = face;
    analysis.too_small = too_small(face);
    if (asked.pose) analysis.pose = head_pose_of(face.landmarks, image.width, image.height);
    if (!analysis.too_small) {
      analysed.push_back(result.size());
      aligned_boxes.push_back(face_api_aligned_box(face.landmarks));
      boxes.push_back(face.box);
    }
    result.push_back(std::move(analysis));
  }
  const bool needs_nets = asked.age || asked.gender || asked.expression || asked.liveness;
  if (!needs_nets) return result;
  AttributeModels& models = models_for(engine);
  // Load every asked model first, so a missing one fails the call even on a photo without faces.
  const AgeGenderNet* age_gender = asked.age || asked.gender ? &age_gender_net(models) : nullptr;
  const ExpressionNet* expression = asked.expression ? &expression_net(models) : nullptr;
  const LivenessNet* liveness = asked.liveness ? &liveness_net(models) : nullptr;
  if (analysed.empty()) return result;

  const cv::Mat bgr = as_mat(image);
  if (age_gender) {
    const std::vector<AgeGenderOutput> outputs = age_gender->predict_all(bgr, aligned_boxes);
    for (std::size_t i = 0; i < analysed.size(); ++i) {
      FaceAnalysis& analysis = result[analysed[i]];
      if (asked.age) analysis.age = std::max(0.0F, outputs[i].age_years);
      // AgeGenderNet.predictAgeAndGender: male above 0.5.
      const float male = outputs[i].male_probability;
      if (asked.gender) analysis.gender = male > 0.5F ? GenderEstimate{"male", male} : GenderEstimate{"female", 1 - male};
    }
  }
  if (expression) {
    const std::vector<ExpressionOutput> outputs = expression->predict_all(bgr, aligned_boxes);
    for (std::size_t i = 0; i < analysed.size(); ++i) {
      ExpressionEstimate estimate;
      estimate.scores = outputs[i];
      const auto best = std::max_element(estimate.scores.begin(), estimate.scores.end()) - estimate.scores.begin();
      estimate.value = kExpressionClasses[static_cast<std::size_t>(best)];
      result[analysed[i]].expression = std::move(estimate);
    }
  }
  if (liveness) {
    const std::vector<float> scores = liveness->predict_all(bgr, boxes);
    for (std::size_t i = 0; i < analysed.size(); ++i) result[analysed[i]].liveness = decide_liveness(scores[i], threshold);
  }
  return result;
}

void check_image(const Image& image) {
  if (image.empty() || image.bgr.size() != static_cast<std::size_t>(image.width) * image.height * 3) {
    throw Error(ErrorCode::kInvalidImage, "analyze: the image is empty or its pixel buffer does not match its size");
  }
}

}  // namespace

bool AttributeSet::contains(Attribute attribute) const {
  switch (attribute) {
    case Attribute::kAge: return age;
    case Attribute::kGender: return gender;
    case Attribute::kExpression: return expression;
    case Attribute::kLiveness: return liveness;
    case Attribute::kPose: return pose;
  }
  return false;
}

AttributeSet AttributeSet::all() { return {true, true, true, true, true}; }

AttributeSet AttributeSet::parse(std::string_view comma_separated) {
  AttributeSet set;
  std::size_t start = 0;
  while (start <= comma_separated.size()) {
    const std::size_t end = std::min(comma_separated.find(',', start), comma_separated.size());
    std::string_view name = comma_separated.substr(start, end - start);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    if (name.empty()) {
      if (comma_separated.empty()) break;  // "": no attribute
      throw Error(ErrorCode::kInvalidArgument,
                  "empty attribute name in '" + std::string(comma_separated) + "' (expected a comma-separated list of: " +
                      [] {
                        std::string names;
                        for (const auto& entry : kAttributeNames) names += (names.empty() ? "" : ", ") + std::string(entry.name);
                        return names;
                      }() + ")");
    }
    switch (parse_name(kAttributeNames, name, "attribute")) {
      case Attribute::kAge: set.age = true; break;
      case Attribute::kGender: set.gender = true; break;
      case Attribute::kExpression: set.expression = true; break;
      case Attribute::kLiveness: set.liveness = true; break;
      case Attribute::kPose: set.pose = true; break;
    }
    start = end + 1;
  }
  return set;
}

float default_liveness_threshold() { return kDefaultLivenessThreshold; }

LivenessEstimate decide_liveness(float live_score, float threshold) {
  if (!(threshold >= 0.0F && threshold <= 1.0F)) {
    throw Error(ErrorCode::kInvalidArgument, "liveness threshold must be within 0..1, got " + std::to_string(threshold));
  }
  // A NaN score (a broken input) is never live.
  const bool live = live_score >= threshold && !std::isnan(live_score);
  return {live ? LivenessVerdict::kLive : LivenessVerdict::kSpoof, live_score, threshold};
}

LivenessVote::LivenessVote(float threshold, int frames_needed) : threshold_(threshold), frames_needed_(frames_needed) {
  decide_liveness(0.0F, threshold);  // validates the threshold
  if (frames_needed < 1) {
    throw Error(ErrorCode::kInvalidArgument, "LivenessVote needs at least 1 frame, got " + std::to_string(frames_needed));
  }
}

void LivenessVote::add(float live_score) {
  ++frames_;
  // NaN counts as 0: a frame that could not be judged does not help the track.
  score_sum_ += std::isnan(live_score) ? 0.0 : std::clamp(live_score, 0.0F, 1.0F);
}

std::optional<LivenessEstimate> LivenessVote::verdict() const {
  if (frames_ < frames_needed_) return std::nullopt;
  return decide_liveness(static_cast<float>(score_sum_ / frames_), threshold_);
}

std::vector<FaceAnalysis> analyze_faces(const Engine& engine, const Image& image, const AnalyzeOptions& options) {
  check_image(image);
  resolved_threshold(options);  // a bad option fails before the detector runs
  return analyze_all(engine, image, engine.detect(image, options.pipeline), options);
}

FaceAnalysis analyze_face(const Engine& engine, const Image& image, const Face& face, const AnalyzeOptions& options) {
  check_image(image);
  return analyze_all(engine, image, {face}, options).front();
}

std::vector<FaceAnalysis> analyze_faces(const Engine& engine, const Image& image, const std::vector<Face>& faces,
                                        const AnalyzeOptions& options) {
  check_image(image);
  return analyze_all(engine, image, faces, options);
}

}  // namespace siamface
