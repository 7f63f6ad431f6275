// The face pipeline: image -> detect -> landmarks -> align -> embed. Its options:
// siamface/options.hpp.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "siamface/model_info.hpp"
#include "siamface/options.hpp"
#include "siamface/types.hpp"

namespace siamface {

struct FaceEmbedding {
  Face face;
  Embedding embedding{};
};

// The recognizer that produced a gallery's embeddings (from Engine::model_info() as stored),
// or nullopt for a model this build does not know.
std::optional<Recognizer> recognizer_of(const ModelInfo& model);
// The dlib weights of a gallery's model (kDlib, kFused), or nullopt (kMobileFaceNet, unknown).
std::optional<DlibWeights> dlib_weights_of(const ModelInfo& model);

// Owns the loaded models. Copies share them.
// Thread safety: every const method is safe to call from many threads at once; models are
// immutable and each call borrows its own scratch state (an inference session) from a pool.
class Engine {
 public:
  // Loads and validates every model the options name. Throws Error(kModelMissing /
  // kModelCorrupt) naming the file or tensor at fault and how to fix it.
  static Engine open(const ModelOptions& options = {});

  // Throws Error(kInvalidArgument) for options out of range (landmarks.box_scale).
  std::vector<Face> detect(const Image& image, const PipelineOptions& options = {}) const;
  std::vector<Face> detect(const Image& image, const DetectOptions& detect) const;  // other parts default
  // Landmarks and quality for a face box found elsewhere (another detector, a stored box), as
  // detect() computes them for its own boxes; the score is 0. Throws Error(kInvalidImage) for
  // an empty image, Error(kInvalidArgument) for a box that is empty or outside the image.
  Face face_at(const Image& image, const Box& box, const PipelineOptions& options = {}) const;

  // Indices into `faces` (detect()'s output for `image`, same options) of the faces a one-face
  // call (enroll, verify, register, compare) may take. With the RFB detector and more than one
  // face, the SSD looks at the image too and only the faces it also finds (IoU >=
  // kSubjectConfirmationIou) stay, or all when it finds none of them: RFB finds real bystanders,
  // half-hidden faces and patterns on clothes that the SSD passes over, and a size rule would
  // take them (docs/speed.md, "RFB as the default"). Otherwise every face, without a second
  // pass. identify and detect still report every face.
  std::vector<int> subject_candidates(const Image& image, const std::vector<Face>& faces,
                                      const PipelineOptions& options = {}) const;
  // The index into `faces` of the face a one-face call takes, or -1 when `faces` is empty:
  // choose_face among subject_candidates.
  int choose_subject(const Image& image, const std::vector<Face>& faces, FaceChoice choice,
                     const PipelineOptions& options = {}) const;

  // The 150x150 dlib-style chip for a face (similarity transform from its landmarks).
  Image align(const Image& image, const Face& face, const ChipOptions& chip = {}) const;

  // dlib's ResNet on a 150x150 chip from align(); throws Error(kInvalidArgument) unless the
  // recognizer is kDlib (the others need the whole image for their own chips).
  Embedding embed_chip(const Image& chip) const;
  Embedding embed(const Image& image, const Face& face, const ChipOptions& chip = {}) const;
  // embed() for faces of several images at once (one per camera of `watch`): each network runs
  // once over all their chips, since batches cost less per face than single calls. `images[i]`
  // holds `faces[i]`; the result is in the order of `faces`.
  std::vector<Embedding> embed_many(const std::vector<const Image*>& images, const std::vector<Face>& faces,
                                    const ChipOptions& chip = {}) const;
  // One embedding per augmentation view (chip, mirror, rotations: see EmbedAugmentation), cut
  // per `chip`; embed() is their mean. For evaluation tools.
  std::vector<Embedding> embed_views(const Image& image, const Face& face, const ChipOptions& chip) const;
  // Values per embedding: 128, 512 or 640 (ModelOptions::recognizer).
  std::size_t embedding_size() const;

  // detect + align + embed for every face.
  std::vector<FaceEmbedding> analyze(const Image& image, const PipelineOptions& options = {}) const;
  std::vector<FaceEmbedding> analyze(const Image& image, const DetectOptions& detect) const;  // other parts default

  const ModelOptions& options() const;
  ModelInfo model_info() const;

  struct Impl;

 private:
  explicit Engine(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

}  // namespace siamface

namespace siamface {

// kLargest considers only faces scoring within this of the best-scoring face: a larger box of
// low confidence (a pattern on clothes below a portrait's face) must not beat a clear face.
// kNearestCenter (LFW's convention for crops) does not: there the central face of a tight crop
// often scores well below a bystander's, and gating it cost LFW 0.1 points.
inline constexpr float kFaceChoiceScoreGap = 0.2F;

// Engine::subject_candidates: the overlap at which an SSD box confirms a face, the one that
// counts two boxes as one face elsewhere too (fast_detector_study_bench, the tracker).
inline constexpr float kSubjectConfirmationIou = 0.3F;

// Index into `faces` of the chosen face, or -1 when `faces` is empty.
int choose_face(const std::vector<Face>& faces, int image_width, int image_height, FaceChoice choice);

// Threads that one inference call may use inside OpenCV (process-wide). Callers that run
// many calls in parallel themselves should set 1. 0 restores OpenCV's default.
void set_intra_op_threads(int threads);

}  // namespace siamface
