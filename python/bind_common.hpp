// What the binding files of siamface._siamface share (siamface_module.cpp calls each bind_*):
// the numpy conversions, the Python-side holders of Engine and Gallery, and the keyword rules.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "siamface/engine.hpp"
#include "siamface/errors.hpp"
#include "siamface/gallery.hpp"
#include "siamface/types.hpp"

namespace py = pybind11;

namespace siamface::python {

using namespace pybind11::literals;

// One per topic, called in this order (a type is registered before the signatures that name it).
void bind_errors(py::module_& m);     // siamface.Error and its translator
void bind_types(py::module_& m);      // the value types
void bind_functions(py::module_& m);  // images, distance, defaults
void bind_engine(py::module_& m);
void bind_gallery(py::module_& m);
void bind_tracker(py::module_& m);
void bind_analysis(py::module_& m);  // face analysis; after bind_types and bind_engine

// ---- images and embeddings ------------------------------------------------------------------

// RGB(A) or grey numpy array -> BGR Image. Any strides (slices, frame[..., ::-1]) are accepted.
Image image_from_array(const py::array& array);
py::array_t<std::uint8_t> array_from_image(const Image& image);
py::array_t<float> array_from_embedding(const Embedding& embedding);

// Any 1-D sequence of numbers (a numpy array of any float dtype, a list).
using EmbeddingArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

Embedding embedding_from_array(const EmbeddingArray& values);

// A str or os.PathLike as the file system's bytes (os.fsencode): non-UTF-8 names work too.
std::string fs_path(const py::handle& path);
// fs_path of a path that must exist; else FileNotFoundError naming it, as open() raises.
std::string existing_file(const py::handle& path);

// ---- Engine holder ---------------------------------------------------------------------------

// The C++ Engine holds only what it loads; the Python Engine also keeps the per-call choices
// given to its constructor (enhance, augment, tiny_fallback) and applies them to every call.
struct PyEngine : Engine {
  PyEngine(Engine engine, PipelineOptions defaults) : Engine(std::move(engine)), pipeline(std::move(defaults)) {}
  PipelineOptions pipeline;
  // The defaults with the detection keywords of one call (tiny_fallback stays the engine's).
  PipelineOptions with(DetectOptions detect) const {
    PipelineOptions options = pipeline;
    detect.tiny_fallback = pipeline.detect.tiny_fallback;
    options.detect = detect;
    return options;
  }
};

// ---- options from keyword arguments ---------------------------------------------------------

DetectOptions detect_options(std::optional<float> min_score, int max_faces, float upsample,
                             const std::string& border_pass);

// The library's default, so Python detects exactly as the CLI does.
extern const std::string kDefaultBorderPass;

#define SIAMFACE_DETECT_KWARGS                                                                 \
  py::kw_only(), "min_score"_a = py::none(), "max_faces"_a = 0, "upsample"_a = 1.0F,          \
      "border_pass"_a = kDefaultBorderPass

// The threshold to decide with (issue 31): a requested one only when it is stricter than
// `own` (the gallery's, else the default), or when `allow_looser`; else `own`, with a
// UserWarning. Needs the GIL.
float checked_threshold(std::optional<float> requested, float own, bool allow_looser);

// ---- Gallery holder ------------------------------------------------------------------------

// close() drops the Python object's reference; calls already running (GIL released) keep theirs.
struct GalleryHandle {
  std::shared_ptr<Gallery> gallery;

  std::shared_ptr<Gallery> get() const {
    if (!gallery) throw Error(ErrorCode::kInvalidArgument, "the gallery is closed");
    return gallery;
  }
};

// Engine.verify's answer.
struct Verification {
  float distance = 0.0F;
  float threshold = 0.0F;
  bool same = false;
  Face face_a;
  Face face_b;
};

}  // namespace siamface::python
