#include "siamface/engine.hpp"

#include <algorithm>
#include <cstdlib>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "align/face_chip.hpp"
#include "detect/face_detector.hpp"
#include "embed/recognition_net.hpp"
#include "image/cv_image.hpp"
#include "landmarks/landmark_net.hpp"
#include "model/model_files.hpp"
#include "pipeline/face_quality.hpp"
#include "siamface/errors.hpp"
#include "util/sha256.hpp"

namespace siamface {

struct Engine::Impl {
  EngineOptions options;
  std::unique_ptr<FaceDetector> detector;
  std::unique_ptr<LandmarkNet> landmarks;
  std::unique_ptr<RecognitionNet> recognition;
  ModelInfo model;
};

namespace {

std::vector<std::string> files_of(const std::string& model) {
  return {model + "-weights_manifest.json", model + ".bin"};
}

std::vector<std::string> required_files(const EngineOptions& options) {
  std::vector<std::string> files = files_of("face_recognition_model");
  const auto add = [&files](const std::vector<std::string>& more) {
    files.insert(files.end(), more.begin(), more.end());
  };
  add(files_of(options.landmarks == LandmarkKind::kFull ? "face_landmark_68_model"
                                                        : "face_landmark_68_tiny_model"));
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
  for (const std::string& file : required_files(options)) verify_model_file(dir, file, options.verify_checksums);

  auto impl = std::make_shared<Impl>();
  impl->options = options;
  switch (options.detector) {
    case DetectorKind::kSsd: impl->detector = make_ssd_mobilenet_detector(dir); break;
    case DetectorKind::kTiny: impl->detector = make_tiny_face_detector(dir); break;
    case DetectorKind::kHaar: impl->detector = make_haar_detector(dir); break;
  }
  impl->landmarks = make_landmark_net(dir, options.landmarks);
  impl->recognition = make_recognition_net(dir);
  impl->model.name = "dlib_face_recognition_resnet_model_v1 (face-api port)";
  impl->model.version = std::string(kFaceApiPackage) + "@" + kFaceApiVersion;
  impl->model.weights_sha256 = options.verify_checksums
                                   ? expected_model_sha256("face_recognition_model.bin")
                                   : sha256_hex_of_file(dir / "face_recognition_model.bin");
  return Engine(std::move(impl));
}

std::vector<Face> Engine::detect(const Image& image, const DetectOptions& options) const {
  if (image.empty()) throw Error(ErrorCode::kInvalidImage, "empty image");
  const cv::Mat bgr = as_mat(image);
  const float min_score = options.min_score >= 0 ? options.min_score : impl_->detector->default_min_score();
  std::vector<RawDetection> raw = impl_->detector->detect(bgr, min_score);
  if (raw.empty() && options.retry_with_border) raw = detect_with_border(*impl_->detector, bgr, min_score);
  if (options.max_faces > 0 && static_cast<int>(raw.size()) > options.max_faces) raw.resize(options.max_faces);

  std::vector<Face> faces;
  faces.reserve(raw.size());
  for (const RawDetection& detection : raw) {
    Face face;
    face.box = detection.box;
    face.score = detection.score;
    face.landmarks = impl_->landmarks->predict(bgr, detection.box);
    face.quality = measure_face_quality(bgr, face);
    faces.push_back(face);
  }
  return faces;
}

Image Engine::align(const Image& image, const Face& face) const {
  return from_mat(extract_face_chip(as_mat(image), face.landmarks));
}

Embedding Engine::embed_chip(const Image& chip) const {
  if (chip.width != kChipSize || chip.height != kChipSize) {
    throw Error(ErrorCode::kInvalidArgument, "a face chip must be 150x150");
  }
  return impl_->recognition->embed({as_mat(chip)}).front();
}

Embedding Engine::embed(const Image& image, const Face& face) const {
  return impl_->recognition->embed({extract_face_chip(as_mat(image), face.landmarks)}).front();
}

std::vector<FaceEmbedding> Engine::analyze(const Image& image, const DetectOptions& options) const {
  std::vector<Face> faces = detect(image, options);
  if (faces.empty()) return {};
  const cv::Mat bgr = as_mat(image);
  std::vector<cv::Mat> chips;
  chips.reserve(faces.size());
  for (const Face& face : faces) chips.push_back(extract_face_chip(bgr, face.landmarks));
  const std::vector<Embedding> embeddings = impl_->recognition->embed(chips);
  std::vector<FaceEmbedding> out(faces.size());
  for (std::size_t i = 0; i < faces.size(); ++i) out[i] = {faces[i], embeddings[i]};
  return out;
}

const EngineOptions& Engine::options() const { return impl_->options; }
ModelInfo Engine::model_info() const { return impl_->model; }

}  // namespace siamface
