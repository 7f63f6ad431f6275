#include "siamface/engine.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "align/face_chip.hpp"
#include "detect/face_detector.hpp"
#include "embed/recognition_net.hpp"
#include "enhance/enhance.hpp"
#include "image/cv_image.hpp"
#include "landmarks/landmark_net.hpp"
#include "model/model_files.hpp"
#include "pipeline/augmented_chips.hpp"
#include "pipeline/face_quality.hpp"
#include "siamface/errors.hpp"
#include "util/sha256.hpp"

namespace siamface {

struct Engine::Impl {
  EngineOptions options;
  std::unique_ptr<FaceDetector> detector;
  std::unique_ptr<FaceDetector> fallback_detector;  // null when off
  std::unique_ptr<LandmarkNet> landmarks;
  std::unique_ptr<RecognitionNet> recognition;
  ModelInfo model;
};

namespace {

std::vector<std::string> files_of(const std::string& model) {
  return {model + "-weights_manifest.json", model + ".bin"};
}

bool uses_tiny_fallback(const EngineOptions& options) {
  return options.tiny_fallback && options.detector != DetectorKind::kTiny;
}

std::vector<std::string> required_files(const EngineOptions& options) {
  std::vector<std::string> files = files_of("face_recognition_model");
  const auto add = [&files](const std::vector<std::string>& more) {
    files.insert(files.end(), more.begin(), more.end());
  };
  add(files_of(options.landmarks == LandmarkKind::kFull ? "face_landmark_68_model"
                                                        : "face_landmark_68_tiny_model"));
  if (uses_tiny_fallback(options)) add(files_of("tiny_face_detector_model"));
  switch (options.detector) {
    case DetectorKind::kSsd: add(files_of("ssd_mobilenetv1_model")); break;
    case DetectorKind::kTiny: add(files_of("tiny_face_detector_model")); break;
    case DetectorKind::kHaar: files.push_back("haarcascade_frontalface_default.xml"); break;
  }
  return files;
}

// Detects on the image framed by a grey border and maps the boxes back, clipped to the image;
// a box whose centre falls on the border is dropped.
std::vector<RawDetection> detect_with_border(const FaceDetector& detector, const cv::Mat& bgr, float min_score) {
  const int border = std::max(bgr.cols, bgr.rows) / 2;
  cv::Mat framed;
  cv::copyMakeBorder(bgr, framed, border, border, border, border, cv::BORDER_CONSTANT, cv::Scalar(127, 127, 127));
  std::vector<RawDetection> found;
  for (RawDetection detection : detector.detect(framed, min_score)) {
    Box& box = detection.box;
    box.left -= border;
    box.top -= border;
    const Point centre = box.center();
    if (centre.x < 0 || centre.y < 0 || centre.x >= bgr.cols || centre.y >= bgr.rows) continue;
    const float right = std::min(box.right(), static_cast<float>(bgr.cols));
    const float bottom = std::min(box.bottom(), static_cast<float>(bgr.rows));
    box.left = std::max(box.left, 0.0F);
    box.top = std::max(box.top, 0.0F);
    box.width = right - box.left;
    box.height = bottom - box.top;
    found.push_back(detection);
  }
  return found;
}

// Detections of several passes over one image as one list: NMS keeps the better-scored box of
// a face found more than once.
std::vector<RawDetection> suppress_repeats(const std::vector<RawDetection>& all) {
  std::vector<RawDetection> kept;
  for (const int i : non_max_suppression(all, 0.4F)) kept.push_back(all[i]);
  return kept;
}

std::vector<RawDetection> merge_passes(std::vector<RawDetection> first, const std::vector<RawDetection>& second) {
  first.insert(first.end(), second.begin(), second.end());
  return suppress_repeats(first);
}

// Small faces. The detectors shrink every image to a ~512 px square input, so a face that
// spans few pixels there is missed. Upsampling by `factor` makes the detector see the image
// `factor` times larger: a small image is enlarged whole (bicubic), a large one is cut into
// overlapping square tiles of side max(w, h) / factor, each detected on its own, and merged
// with the whole-image pass by NMS.
constexpr float kDetectorInputPx = 512.0F;
constexpr float kMaxUpsample = 4.0F;
constexpr float kTileOverlap = 0.3F;  // of the tile side; faces up to this size sit whole in a tile

float auto_upsample_factor(const cv::Mat& bgr) {
  const float factor = static_cast<float>(std::max(bgr.cols, bgr.rows)) / kDetectorInputPx;
  return factor >= 1.5F ? std::min(factor, kMaxUpsample) : 1.0F;
}

std::vector<RawDetection> detect_upsampled(const FaceDetector& detector, const cv::Mat& bgr, float min_score,
                                           float factor) {
  std::vector<RawDetection> all = detector.detect(bgr, min_score);
  const int long_side = std::max(bgr.cols, bgr.rows);
  if (long_side * factor <= 2 * kDetectorInputPx) {
    cv::Mat big;
    cv::resize(bgr, big, cv::Size(), factor, factor, cv::INTER_CUBIC);
    for (RawDetection d : detector.detect(big, min_score)) {
      d.box = {d.box.left / factor, d.box.top / factor, d.box.width / factor, d.box.height / factor};
      all.push_back(d);
    }
  } else {
    const int tile = std::max(32, static_cast<int>(std::ceil(long_side / factor)));
    const int stride = std::max(16, static_cast<int>(tile * (1.0F - kTileOverlap)));
    const auto starts = [&](int extent) {
      std::vector<int> s;
      for (int p = 0;; p += stride) {
        if (p + tile >= extent) {
          s.push_back(std::max(0, extent - tile));
          break;
        }
        s.push_back(p);
      }
      return s;
    };
    constexpr float kEdgePx = 2.0F;
    for (const int y : starts(bgr.rows)) {
      for (const int x : starts(bgr.cols)) {
        const cv::Rect rect(x, y, std::min(tile, bgr.cols - x), std::min(tile, bgr.rows - y));
        for (RawDetection d : detector.detect(bgr(rect), min_score)) {
          // A box cut by an inner tile edge is a partial face; a neighbour or the whole pass has it.
          const bool cut = (d.box.left < kEdgePx && x > 0) || (d.box.top < kEdgePx && y > 0) ||
                           (d.box.right() > rect.width - kEdgePx && rect.x + rect.width < bgr.cols) ||
                           (d.box.bottom() > rect.height - kEdgePx && rect.y + rect.height < bgr.rows);
          if (cut) continue;
          d.box.left += static_cast<float>(x);
          d.box.top += static_cast<float>(y);
          all.push_back(d);
        }
      }
    }
  }
  return suppress_repeats(all);
}

}  // namespace

const char* to_string(DetectorKind kind) {
  switch (kind) {
    case DetectorKind::kSsd: return "ssd";
    case DetectorKind::kTiny: return "tiny";
    case DetectorKind::kHaar: return "haar";
  }
  return "ssd";
}

const char* to_string(LandmarkKind kind) { return kind == LandmarkKind::kFull ? "full" : "tiny"; }

const char* to_string(EmbedAugmentation augmentation) {
  switch (augmentation) {
    case EmbedAugmentation::kNone: return "none";
    case EmbedAugmentation::kFlip: return "flip";
    case EmbedAugmentation::kFlipRotate: return "flip-rotate";
  }
  return "none";
}

EmbedAugmentation parse_embed_augmentation(const std::string& name) {
  if (name == "none") return EmbedAugmentation::kNone;
  if (name == "flip") return EmbedAugmentation::kFlip;
  if (name == "flip-rotate") return EmbedAugmentation::kFlipRotate;
  throw Error(ErrorCode::kInvalidArgument, "unknown augmentation '" + name + "' (expected none, flip or flip-rotate)");
}

DetectorKind parse_detector_kind(const std::string& name) {
  if (name == "ssd") return DetectorKind::kSsd;
  if (name == "tiny") return DetectorKind::kTiny;
  if (name == "haar") return DetectorKind::kHaar;
  throw Error(ErrorCode::kInvalidArgument, "unknown detector '" + name + "' (expected ssd, tiny or haar)");
}

LandmarkKind parse_landmark_kind(const std::string& name) {
  if (name == "full") return LandmarkKind::kFull;
  if (name == "tiny") return LandmarkKind::kTiny;
  throw Error(ErrorCode::kInvalidArgument, "unknown landmark model '" + name + "' (expected full or tiny)");
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
  int best = -1;
  float best_key = 0.0F;
  for (std::size_t i = 0; i < faces.size(); ++i) {
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

Engine Engine::open(const EngineOptions& options) {
  const std::filesystem::path dir = options.models_dir;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    throw Error(ErrorCode::kModelMissing, "models directory not found: " + dir.string() +
                                              " (run scripts/setup.sh, or set --models / SIAMFACE_MODELS)");
  }
  if (!(options.landmark_box_scale >= 0.5F && options.landmark_box_scale <= 3.0F)) {
    throw Error(ErrorCode::kInvalidArgument, "EngineOptions.landmark_box_scale must lie in [0.5, 3], got " +
                                                 std::to_string(options.landmark_box_scale));
  }
  for (const std::string& file : required_files(options)) verify_model_file(dir, file, options.verify_checksums);

  auto impl = std::make_shared<Impl>();
  impl->options = options;
  switch (options.detector) {
    case DetectorKind::kSsd: impl->detector = make_ssd_mobilenet_detector(dir); break;
    case DetectorKind::kTiny: impl->detector = make_tiny_face_detector(dir); break;
    case DetectorKind::kHaar: impl->detector = make_haar_detector(dir); break;
  }
  if (uses_tiny_fallback(options)) impl->fallback_detector = make_tiny_face_detector(dir);
  impl->landmarks = make_landmark_net(dir, options.landmarks);
  impl->recognition = make_recognition_net(dir);
  impl->model.name = "dlib_face_recognition_resnet_model_v1 (face-api port)";
  impl->model.version = std::string(kFaceApiPackage) + "@" + kFaceApiVersion;
  impl->model.weights_sha256 = options.verify_checksums
                                   ? expected_model_sha256("face_recognition_model.bin")
                                   : sha256_hex_of_file(dir / "face_recognition_model.bin");
  return Engine(std::move(impl));
}

namespace {

// Landmarks for a detection, refined per the options (EngineOptions::landmark_box_scale and
// landmark_flip). The mirrored pass flips only the region around the box, not the photo.
Landmarks predict_landmarks(const LandmarkNet& net, const EngineOptions& options, const cv::Mat& bgr,
                            const Box& detection) {
  const float scale = options.landmark_box_scale;
  const Point centre = detection.center();
  const Box box{centre.x - detection.width * scale / 2, centre.y - detection.height * scale / 2,
                detection.width * scale, detection.height * scale};
  Landmarks landmarks = net.predict(bgr, box);
  if (!options.landmark_flip) return landmarks;
  const int x0 = std::max(0, static_cast<int>(std::floor(box.left)));
  const int y0 = std::max(0, static_cast<int>(std::floor(box.top)));
  const int x1 = std::min(bgr.cols, static_cast<int>(std::ceil(box.right())));
  const int y1 = std::min(bgr.rows, static_cast<int>(std::ceil(box.bottom())));
  cv::Mat mirrored;
  cv::flip(bgr(cv::Rect(x0, y0, x1 - x0, y1 - y0)), mirrored, 1);
  const float width = static_cast<float>(mirrored.cols);
  const Box mirrored_box{width - (box.right() - x0), box.top - y0, box.width, box.height};
  const Landmarks from_mirror = unmirror_landmarks(net.predict(mirrored, mirrored_box), width);
  for (int i = 0; i < kLandmarkCount; ++i) {
    landmarks[i] = {(landmarks[i].x + from_mirror[i].x + x0) / 2, (landmarks[i].y + from_mirror[i].y + y0) / 2};
  }
  return landmarks;
}

}  // namespace

std::vector<Face> Engine::detect(const Image& image, const DetectOptions& options) const {
  if (image.empty()) throw Error(ErrorCode::kInvalidImage, "empty image");
  const cv::Mat original = as_mat(image);
  // `auto` enhancement brightens a dark photo for detection and landmarks (README "Poor and
  // small faces": low-light recall and accuracy); quality is still measured on the original.
  const cv::Mat bgr = impl_->options.enhancement.automatic ? enhance_for_detection(original) : original;
  const float min_score = options.min_score >= 0 ? options.min_score : impl_->detector->default_min_score();
  const float upsample = options.upsample > 0 ? std::min(options.upsample, kMaxUpsample) : auto_upsample_factor(bgr);
  std::vector<RawDetection> raw = upsample > 1.0F ? detect_upsampled(*impl_->detector, bgr, min_score, upsample)
                                                  : impl_->detector->detect(bgr, min_score);
  const bool small_image = std::max(bgr.cols, bgr.rows) <= kBorderPassAlwaysMaxSide;
  const bool border_always = options.border_pass == BorderPass::kAlways ||
                             (options.border_pass == BorderPass::kAuto && small_image);
  if (border_always && !raw.empty()) {
    raw = merge_passes(std::move(raw), detect_with_border(*impl_->detector, bgr, min_score));
  }
  const bool border_when_empty = options.border_pass != BorderPass::kOff;
  if (raw.empty() && border_when_empty) raw = detect_with_border(*impl_->detector, bgr, min_score);
  if (raw.empty() && impl_->fallback_detector) {
    const FaceDetector& fallback = *impl_->fallback_detector;
    const float fallback_min_score = options.min_score >= 0 ? options.min_score : fallback.default_min_score();
    raw = fallback.detect(bgr, fallback_min_score);
    if (raw.empty() && border_when_empty) raw = detect_with_border(fallback, bgr, fallback_min_score);
  }
  if (options.max_faces > 0 && static_cast<int>(raw.size()) > options.max_faces) raw.resize(options.max_faces);

  std::vector<Face> faces;
  faces.reserve(raw.size());
  for (const RawDetection& detection : raw) {
    Face face;
    face.box = detection.box;
    face.score = detection.score;
    face.landmarks = predict_landmarks(*impl_->landmarks, impl_->options, bgr, detection.box);
    face.quality = measure_face_quality(original, face);
    faces.push_back(face);
  }
  return faces;
}

namespace {

// The chips align/embed/analyze use: sampled and enhanced per options, one per augmentation view.
std::vector<cv::Mat> make_chips(const EngineOptions& options, const cv::Mat& bgr, const Face& face,
                                EmbedAugmentation augmentation) {
  const float size_px = std::min(face.box.width, face.box.height);
  return augmented_chips(bgr, face.landmarks, size_px, options.small_face_chip, options.enhancement, augmentation);
}

}  // namespace

Image Engine::align(const Image& image, const Face& face) const {
  return from_mat(make_chips(impl_->options, as_mat(image), face, EmbedAugmentation::kNone).front());
}

Embedding Engine::embed_chip(const Image& chip) const {
  if (chip.width != kChipSize || chip.height != kChipSize) {
    throw Error(ErrorCode::kInvalidArgument, "a face chip must be 150x150");
  }
  return impl_->recognition->embed({as_mat(chip)}).front();
}

Embedding Engine::embed(const Image& image, const Face& face) const {
  const std::vector<Embedding> views =
      impl_->recognition->embed(make_chips(impl_->options, as_mat(image), face, impl_->options.augmentation));
  return mean_embedding(views, 0, views.size());
}

std::vector<FaceEmbedding> Engine::analyze(const Image& image, const DetectOptions& options) const {
  std::vector<Face> faces = detect(image, options);
  if (faces.empty()) return {};
  const cv::Mat bgr = as_mat(image);
  const std::size_t per_face = chip_count(impl_->options.augmentation);
  std::vector<cv::Mat> chips;
  chips.reserve(faces.size() * per_face);
  for (const Face& face : faces) {
    for (cv::Mat& chip : make_chips(impl_->options, bgr, face, impl_->options.augmentation)) chips.push_back(chip);
  }
  const std::vector<Embedding> embeddings = impl_->recognition->embed(chips);
  std::vector<FaceEmbedding> out(faces.size());
  for (std::size_t i = 0; i < faces.size(); ++i) out[i] = {faces[i], mean_embedding(embeddings, i * per_face, per_face)};
  return out;
}

const EngineOptions& Engine::options() const { return impl_->options; }
ModelInfo Engine::model_info() const { return impl_->model; }

}  // namespace siamface
