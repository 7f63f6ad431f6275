// siamface.Engine: detect, align, embed, analyze and verify with the GIL released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bind_common.hpp"
#include "siamface/engine.hpp"
#include "siamface/errors.hpp"
#include "siamface/decision.hpp"
#include "siamface/identify.hpp"
#include "siamface/types.hpp"

namespace siamface::python {

void bind_engine(py::module_& m) {
  py::class_<PyEngine>(m, "Engine", R"doc(
The face pipeline: detect -> landmarks -> align -> embed. Loads and checks every model on
construction (siamface.Error kind model_missing / model_corrupt says which file and how to fix it).

Thread safety: every method may be called from many Python threads at once on one Engine; the
GIL is released while it computes, so threads run in parallel. Copies share the loaded models.
)doc")
      .def(py::init([](const py::object& models_dir, const std::string& recognizer,
                       const std::string& detector, const std::string& landmarks, const std::string& enhance,
                       const std::string& augment, bool verify_checksums, bool tiny_fallback) {
             siamface::ModelOptions options;
             if (!models_dir.is_none()) options.models_dir = fs_path(models_dir);
             options.recognizer = siamface::parse_recognizer(recognizer);
             options.detector = siamface::parse_detector_kind(detector);
             options.landmarks = siamface::parse_landmark_kind(landmarks);
             options.verify_checksums = verify_checksums;
             siamface::PipelineOptions pipeline;
             pipeline.chip.enhancement = siamface::parse_enhancement(enhance);
             pipeline.chip.augmentation = siamface::parse_embed_augmentation(augment);
             pipeline.detect.tiny_fallback = tiny_fallback;
             py::gil_scoped_release release;
             return PyEngine(siamface::Engine::open(options), pipeline);
           }),
           "models_dir"_a = py::none(), py::kw_only(), "recognizer"_a = "dlib", "detector"_a = siamface::to_string(siamface::ModelOptions{}.detector),
           "landmarks"_a = "full", "enhance"_a = "off", "augment"_a = "none", "verify_checksums"_a = true,
           "tiny_fallback"_a = true,
           "models_dir: default $SIAMFACE_MODELS or ~/.cache/siamface/models; recognizer: dlib (128-d), mfn "
           "(512-d) or fused (640-d); detector: ssd, rfb, tiny or haar; landmarks: full or tiny; enhance: off, auto "
           "or steps like 'gamma+clahe'; augment: none, flip or flip-rotate.")
      .def(
          "detect",
          [](const PyEngine& engine, const py::array& image, std::optional<float> min_score, int max_faces,
             float upsample, const std::string& border_pass) {
            const siamface::Image pixels = image_from_array(image);
            const auto options = engine.with(detect_options(min_score, max_faces, upsample, border_pass));
            py::gil_scoped_release release;
            return engine.detect(pixels, options);
          },
          "image"_a, SIAMFACE_DETECT_KWARGS,
          "Faces in an RGB image, best score first. upsample: >1 lets the detector see the image that many "
          "times larger (small faces), 0 picks it from the image size, 1 is off.")
      .def(
          "face_at",
          [](const PyEngine& engine, const py::array& image, const siamface::Box& box) {
            const siamface::Image pixels = image_from_array(image);
            py::gil_scoped_release release;
            return engine.face_at(pixels, box, engine.pipeline);
          },
          "image"_a, "box"_a, "Landmarks and quality for a face box found elsewhere (score 0).")
      .def(
          "align",
          [](const PyEngine& engine, const py::array& image, const siamface::Face& face) {
            const siamface::Image pixels = image_from_array(image);
            siamface::Image chip;
            {
              py::gil_scoped_release release;
              chip = engine.align(pixels, face, engine.pipeline.chip);
            }
            return array_from_image(chip);
          },
          "image"_a, "face"_a, "The 150x150 RGB face chip the dlib recognizer sees.")
      .def(
          "embed",
          [](const PyEngine& engine, const py::array& image, const siamface::Face& face,
             std::optional<std::string> augment) {
            const siamface::Image pixels = image_from_array(image);
            siamface::Embedding embedding;
            {
              py::gil_scoped_release release;
              if (!augment) {
                embedding = engine.embed(pixels, face, engine.pipeline.chip);
              } else {
                siamface::ChipOptions chip = engine.pipeline.chip;
                chip.augmentation = siamface::parse_embed_augmentation(*augment);
                const auto views = engine.embed_views(pixels, face, chip);
                embedding.assign(views.front().size(), 0.0F);
                for (const auto& view : views)
                  for (std::size_t k = 0; k < embedding.size(); ++k) embedding[k] += view[k];
                for (float& v : embedding) v /= static_cast<float>(views.size());
              }
            }
            return array_from_embedding(embedding);
          },
          "image"_a, "face"_a, py::kw_only(), "augment"_a = py::none(),
          "The face's embedding (float32, embedding_size values). augment (none, flip, flip-rotate) overrides the "
          "engine's test-time augmentation for this call.")
      .def(
          "analyze",
          [](const PyEngine& engine, const py::array& image, std::optional<float> min_score, int max_faces,
             float upsample, const std::string& border_pass) {
            const siamface::Image pixels = image_from_array(image);
            const auto options = engine.with(detect_options(min_score, max_faces, upsample, border_pass));
            py::gil_scoped_release release;
            return engine.analyze(pixels, options);
          },
          "image"_a, SIAMFACE_DETECT_KWARGS, "detect + align + embed for every face: a list of FaceEmbedding.")
      .def(
          "verify",
          [](const PyEngine& engine, const py::array& image_a, const py::array& image_b,
             std::optional<float> requested, bool allow_looser_threshold) {
            const float threshold = checked_threshold(
                requested, siamface::IdentifyOptions::default_decision_rule().threshold, allow_looser_threshold);
            const siamface::Image a = image_from_array(image_a);
            const siamface::Image b = image_from_array(image_b);
            py::gil_scoped_release release;
            Verification result;
            const auto largest = [&](const siamface::Image& image, const char* which) {
              const auto faces = engine.detect(image, engine.pipeline);
              const int chosen = engine.choose_subject(image, faces, siamface::FaceChoice::kLargest, engine.pipeline);
              if (chosen < 0) throw Error(ErrorCode::kNoFace, std::string("no face found in ") + which);
              return faces[chosen];
            };
            result.face_a = largest(a, "image_a");
            result.face_b = largest(b, "image_b");
            result.distance =
                siamface::euclidean_distance(engine.embed(a, result.face_a, engine.pipeline.chip),
                                             engine.embed(b, result.face_b, engine.pipeline.chip));
            result.threshold = threshold;
            result.same = result.distance < threshold;
            return result;
          },
          "image_a"_a, "image_b"_a, py::kw_only(), "threshold"_a = py::none(), "allow_looser_threshold"_a = false,
          "Same person? Compares the largest face of each image; truthy when the distance is under the threshold "
          "(0.6; a stricter one if given: a looser one needs allow_looser_threshold=True).")
      .def_property_readonly("embedding_size", &siamface::Engine::embedding_size)
      .def_property_readonly("recognizer",
                             [](const PyEngine& e) { return siamface::to_string(e.options().recognizer); })
      .def_property_readonly("models_dir", [](const PyEngine& e) { return e.options().models_dir; })
      .def_property_readonly("model_info", &siamface::Engine::model_info);
}

}  // namespace siamface::python
