// The face pipeline: image -> detect -> landmarks -> align -> embed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "siamface/enhance.hpp"
#include "siamface/types.hpp"

namespace siamface {

enum class DetectorKind { kSsd, kTiny, kHaar };
enum class LandmarkKind { kFull, kTiny };

// Test-time augmentation of embeddings: the embedding of a face is the mean over several chips
// of it. kFlip adds the mirrored chip; kFlipRotate adds chips rotated by +-3 degrees and their
// mirrors (6 chips). Measured on LFW in the README ("Accuracy"); costs 2x / 6x the embed time.
enum class EmbedAugmentation { kNone, kFlip, kFlipRotate };

const char* to_string(EmbedAugmentation augmentation);
EmbedAugmentation parse_embed_augmentation(const std::string& name);  // "none" | "flip" | "flip-rotate"; throws Error
const char* to_string(DetectorKind kind);
const char* to_string(LandmarkKind kind);
DetectorKind parse_detector_kind(const std::string& name);  // "ssd" | "tiny" | "haar"; throws Error
LandmarkKind parse_landmark_kind(const std::string& name);  // "full" | "tiny"; throws Error

// Where models live: $SIAMFACE_MODELS, else $XDG_CACHE_HOME/siamface/models, else
// ~/.cache/siamface/models. scripts/setup.sh installs them there.
std::string default_models_dir();

struct EngineOptions {
  std::string models_dir = default_models_dir();
  DetectorKind detector = DetectorKind::kSsd;
  LandmarkKind landmarks = LandmarkKind::kFull;
  bool verify_checksums = true;  // SHA-256 of every model file against the pinned release
  // When the detector finds nothing (border retry included), ask the tiny face detector too:
  // SSD misses some frontal faces the tiny detector finds (14 of the 19 LFW images SSD
  // missed), while on non-face photos the tiny detector stays silent. Ignored for kTiny.
  bool tiny_fallback = true;
  // Landmark refinement, measured on LFW (README "Accuracy"): the landmark net sees the
  // detection box enlarged by this factor around its centre (more context, steadier jaw and
  // brow points), and, with landmark_flip, also the mirrored face; the two sets are averaged.
  float landmark_box_scale = 1.2F;
  bool landmark_flip = true;
  // Applied to every chip that align/embed/analyze make (README "Poor and small faces").
  // Under `automatic`, detect() also brightens a dark photo before detection and landmarks
  // (quality is still measured on the original pixels).
  Enhancement enhancement{};
  // For faces smaller than the chip. Bicubic measured best on small faces and even on clean
  // LFW (README "Poor and small faces").
  ChipSampling small_face_chip = ChipSampling::kBicubic;
  EmbedAugmentation augmentation = EmbedAugmentation::kNone;
};

enum class BorderPass { kOff, kWhenEmpty, kAlways, kAuto };
inline constexpr int kBorderPassAlwaysMaxSide = 1024;

struct DetectOptions {
  float min_score = -1.0F;  // < 0: the detector's own default (ssd 0.5, tiny 0.5, haar 0)
  int max_faces = 0;        // 0: no limit; otherwise keep the highest-scoring faces
  // A second detector pass on the image framed by a grey border of half its size. The
  // detectors were trained on faces with context, so a face filling a tight crop (enrolment
  // photos, LFW-style crops) is often missed. kWhenEmpty runs it only when the first pass
  // found nothing; kAlways also when it found someone else (a bystander at the edge of a
  // crop), merging both passes, at the cost of a second detection; kAuto is kAlways for
  // images up to kBorderPassAlwaysMaxSide px on their longer side (crops, thumbnails, where
  // it lifted LFW from 98.55% to 99.00%) and kWhenEmpty for larger photos, whose throughput
  // it would halve (README "Accuracy", "Speed").
  BorderPass border_pass = BorderPass::kAuto;
  // Small faces: > 1 lets the detector see the image this many times larger (one pass over
  // the image upsampled when small, otherwise overlapping tiles, merged with the whole-image
  // pass); 0 picks the factor from the image size; 1 is off.
  float upsample = 1.0F;
};

struct FaceEmbedding {
  Face face;
  Embedding embedding{};
};

// Identifies the weights that produced an embedding; galleries refuse to mix them.
struct ModelInfo {
  std::string name;            // "dlib_face_recognition_resnet_model_v1 (face-api port)"
  std::string version;         // "@vladmandic/face-api@1.7.15"
  std::string weights_sha256;  // of the recognition weights file
};

// Owns the loaded models. Copies share them.
// Thread safety: every const method is safe to call from many threads at once; models are
// immutable and each call borrows its own scratch state (an inference session) from a pool.
class Engine {
 public:
  // Loads and validates every model the options name. Throws Error(kModelMissing /
  // kModelCorrupt) naming the file or tensor at fault and how to fix it.
  static Engine open(const EngineOptions& options = {});

  std::vector<Face> detect(const Image& image, const DetectOptions& options = {}) const;

  // The 150x150 dlib-style chip for a face (similarity transform from its landmarks).
  Image align(const Image& image, const Face& face) const;

  Embedding embed_chip(const Image& chip) const;
  Embedding embed(const Image& image, const Face& face) const;

  // detect + align + embed for every face.
  std::vector<FaceEmbedding> analyze(const Image& image, const DetectOptions& options = {}) const;

  const EngineOptions& options() const;
  ModelInfo model_info() const;

  struct Impl;

 private:
  explicit Engine(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

}  // namespace siamface

namespace siamface {

// Which face a one-face operation (verify, enrollment, LFW pairs) takes from a photo.
enum class FaceChoice {
  kLargest,        // the biggest box
  kNearestCenter,  // the box centre nearest the image centre (LFW photos often hold bystanders)
};

// Index into `faces` of the chosen face, or -1 when `faces` is empty.
int choose_face(const std::vector<Face>& faces, int image_width, int image_height, FaceChoice choice);

// Threads that one inference call may use inside OpenCV (process-wide). Callers that run
// many calls in parallel themselves should set 1. 0 restores OpenCV's default.
void set_intra_op_threads(int threads);

}  // namespace siamface
