// The face pipeline: image -> detect -> landmarks -> align -> embed.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "siamface/enhance.hpp"
#include "siamface/model_info.hpp"
#include "siamface/types.hpp"

namespace siamface {

enum class DetectorKind { kSsd, kTiny, kHaar };

// Which network turns a face into an embedding (docs/validation.md has the measurements):
//  kDlib:          dlib's ResNet (face-api port), 128 values.
//  kMobileFaceNet: a MobileFaceNet-class ONNX network on 112x112 ArcFace chips, 512 values
//                  (length 0.5, so that its same-person threshold lies near dlib's 0.6 too).
//  kFused:         both, as one 640-value embedding [0.5 * dlib, 0.433 * mfn]: its squared
//                  distance is 0.25 * d_dlib^2 + 0.1875 * d_mfn^2, a weighted sum chosen by
//                  cross-validation on LFW, scaled so that its threshold stays near dlib's 0.6.
// Galleries record the recognizer (ModelInfo) and refuse to mix them (`siamface reindex`).
enum class Recognizer { kDlib, kMobileFaceNet, kFused };

const char* to_string(Recognizer recognizer);
Recognizer parse_recognizer(const std::string& name);  // "dlib" | "mfn" | "fused"; throws Error
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
  Recognizer recognizer = Recognizer::kDlib;
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
  // A face that only the border pass finds, beside faces the first pass found, must score at
  // least this. Off (0) by default: at 0.8 it cost LFW 0.14 points and changed nothing on the
  // other sets (docs/validation.md); for photo sets where the framed pass finds "faces" on
  // clothes below the real one (score about 0.7), which kFaceChoiceScoreGap already keeps
  // from being chosen.
  float border_only_min_score = 0.0F;
  // Small faces: > 1 lets the detector see the image this many times larger (one pass over
  // the image upsampled when small, otherwise overlapping tiles, merged with the whole-image
  // pass); 0 picks the factor from the image size; 1 is off.
  float upsample = 1.0F;
};

struct FaceEmbedding {
  Face face;
  Embedding embedding{};
};

// How align/embed cut and average the chips of one face (EngineOptions holds the defaults).
struct ChipOptions {
  ChipSampling small_face_sampling = ChipSampling::kBicubic;
  Enhancement enhancement{};
  EmbedAugmentation augmentation = EmbedAugmentation::kNone;
};

// The recognizer that produced a gallery's embeddings (from Engine::model_info() as stored),
// or nullopt for a model this build does not know.
std::optional<Recognizer> recognizer_of(const ModelInfo& model);

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

  // dlib's ResNet on a 150x150 chip from align(); throws Error(kInvalidArgument) unless the
  // recognizer is kDlib (the others need the whole image for their own chips).
  Embedding embed_chip(const Image& chip) const;
  Embedding embed(const Image& image, const Face& face) const;
  // One embedding per augmentation view (chip, mirror, rotations: see EmbedAugmentation), cut
  // per `chip`; embed() is their mean with the engine's options. For evaluation tools.
  std::vector<Embedding> embed_views(const Image& image, const Face& face, const ChipOptions& chip) const;
  // Values per embedding: 128, 512 or 640 (EngineOptions::recognizer).
  std::size_t embedding_size() const;

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

// kLargest considers only faces scoring within this of the best-scoring face: a larger box of
// low confidence (a pattern on clothes below a portrait's face) must not beat a clear face.
// kNearestCenter (LFW's convention for crops) does not: there the central face of a tight crop
// often scores well below a bystander's, and gating it cost LFW 0.1 points.
inline constexpr float kFaceChoiceScoreGap = 0.2F;

// Index into `faces` of the chosen face, or -1 when `faces` is empty.
int choose_face(const std::vector<Face>& faces, int image_width, int image_height, FaceChoice choice);

// Threads that one inference call may use inside OpenCV (process-wide). Callers that run
// many calls in parallel themselves should set 1. 0 restores OpenCV's default.
void set_intra_op_threads(int threads);

}  // namespace siamface
