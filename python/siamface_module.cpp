// siamface._siamface: the library's public API for Python (docs/python.md).
//
// Images cross the boundary as numpy uint8 arrays in RGB order (H x W x 3; H x W grey and
// H x W x 4 RGBA are accepted too), as PIL, imageio and face_recognition hand them out; they are
// copied into siamface::Image (BGR) while the GIL is held, then every inference call runs with
// the GIL released, so Python threads run detection and embedding in parallel. Embeddings are
// float32 arrays. siamface::Error becomes siamface.Error (with .kind) in one translator
// (bind_errors.cpp). This file holds the conversions every binding file shares
// (bind_common.hpp) and the module's entry point; each topic has its own bind_*.cpp.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <system_error>
#include <optional>
#include <string>
#include <vector>

#include "bind_common.hpp"
#include "siamface/engine.hpp"
#include "siamface/errors.hpp"
#include "siamface/identify.hpp"
#include "siamface/types.hpp"

namespace siamface::python {

// ---- images and embeddings ------------------------------------------------------------------

siamface::Image image_from_array(const py::array& array) {
  // Wrong pixels are a ValueError (issue 33): the argument is an array, its values are wrong.
  if (!py::isinstance<py::array_t<std::uint8_t>>(array)) {
    const std::string dtype = py::str(array.dtype()).cast<std::string>();
    std::string hint;
    if (dtype == "uint16") hint = " (a 16-bit image: convert with (image >> 8).astype(numpy.uint8))";
    else if (dtype.rfind("float", 0) == 0) hint = " (floats in 0..1: convert with (image * 255).round().astype(numpy.uint8))";
    throw py::value_error("an image must be a numpy uint8 array (H x W x 3 RGB, H x W grey or H x W x 4 RGBA), got dtype " +
                          dtype + hint);
  }
  const auto pixels = py::reinterpret_borrow<py::array_t<std::uint8_t>>(array);
  const py::ssize_t dims = pixels.ndim();
  const py::ssize_t channels = dims == 3 ? pixels.shape(2) : 1;
  if (!(dims == 2 || (dims == 3 && (channels == 1 || channels == 3 || channels == 4)))) {
    throw py::value_error("an image must have shape (H, W), (H, W, 3) or (H, W, 4); got " +
                          py::str(py::tuple(py::cast(std::vector<py::ssize_t>(pixels.shape(), pixels.shape() + dims))))
                              .cast<std::string>());
  }
  if (pixels.shape(0) == 0 || pixels.shape(1) == 0) {
    throw py::value_error("an image must not be empty; got shape " +
                          py::str(py::tuple(py::cast(std::vector<py::ssize_t>(pixels.shape(), pixels.shape() + dims))))
                              .cast<std::string>());
  }
  siamface::Image image;
  image.width = static_cast<int>(pixels.shape(1));
  image.height = static_cast<int>(pixels.shape(0));
  image.bgr.resize(static_cast<std::size_t>(image.width) * image.height * 3);
  const auto* base = static_cast<const std::uint8_t*>(pixels.data());
  const py::ssize_t row_stride = pixels.strides(0);
  const py::ssize_t col_stride = pixels.strides(1);
  const py::ssize_t channel_stride = dims == 3 ? pixels.strides(2) : 0;
  std::uint8_t* out = image.bgr.data();
  for (int y = 0; y < image.height; ++y) {
    const std::uint8_t* row = base + y * row_stride;
    for (int x = 0; x < image.width; ++x, out += 3) {
      const std::uint8_t* pixel = row + x * col_stride;
      if (channels >= 3) {
        out[0] = pixel[2 * channel_stride];
        out[1] = pixel[channel_stride];
        out[2] = pixel[0];
      } else {
        out[0] = out[1] = out[2] = pixel[0];
      }
    }
  }
  return image;
}

py::array_t<std::uint8_t> array_from_image(const siamface::Image& image) {
  py::array_t<std::uint8_t> array({image.height, image.width, 3});
  std::uint8_t* out = array.mutable_data();
  const std::uint8_t* in = image.bgr.data();
  for (std::size_t i = 0; i < image.bgr.size(); i += 3) {
    out[i] = in[i + 2];
    out[i + 1] = in[i + 1];
    out[i + 2] = in[i];
  }
  return array;
}

py::array_t<float> array_from_embedding(const siamface::Embedding& embedding) {
  py::array_t<float> array(static_cast<py::ssize_t>(embedding.size()));
  std::copy(embedding.begin(), embedding.end(), array.mutable_data());
  return array;
}

siamface::Embedding embedding_from_array(const EmbeddingArray& values) {
  if (values.ndim() != 1) throw py::value_error("an embedding must be a 1-D array of numbers");
  return {values.data(), values.data() + values.size()};
}

std::string fs_path(const py::handle& path) {
  return py::bytes(py::module_::import("os").attr("fsencode")(path)).cast<std::string>();
}

std::string existing_file(const py::handle& path) {
  std::string file = fs_path(path);
  std::error_code error;
  if (!std::filesystem::exists(file, error)) {
    // As open() raises it: FileNotFoundError(errno, message, filename).
    const py::object raised = py::module_::import("builtins").attr("FileNotFoundError")(
        ENOENT, "No such file or directory", py::module_::import("os").attr("fsdecode")(path));
    PyErr_SetObject(PyExc_FileNotFoundError, raised.ptr());
    throw py::error_already_set();
  }
  return file;
}

// ---- options from keyword arguments ---------------------------------------------------------

siamface::DetectOptions detect_options(std::optional<float> min_score, int max_faces, float upsample,
                                       const std::string& border_pass) {
  siamface::DetectOptions options;
  if (min_score) options.min_score = *min_score;
  if (max_faces < 0) throw Error(ErrorCode::kInvalidArgument, "max_faces must be >= 0");
  options.max_faces = max_faces;
  if (!(upsample >= 0)) throw Error(ErrorCode::kInvalidArgument, "upsample must be >= 0 (0: automatic, 1: off)");
  options.upsample = upsample;
  options.border_pass = siamface::parse_border_pass(border_pass);
  return options;
}

const std::string kDefaultBorderPass = siamface::to_string(siamface::DetectOptions{}.border_pass);

float checked_threshold(std::optional<float> requested, float own, bool allow_looser) {
  const float decided = siamface::decision_threshold(requested, own, allow_looser);
  if (requested && decided != *requested) {
    const std::string message = "threshold " + siamface::format_distance_threshold(*requested) +
                                " is looser than the gallery's " + siamface::format_distance_threshold(own) +
                                "; deciding with " + siamface::format_distance_threshold(decided) +
                                " (pass allow_looser_threshold=True to use it)";
    if (PyErr_WarnEx(PyExc_UserWarning, message.c_str(), 1) != 0) throw py::error_already_set();
  }
  return decided;
}

}  // namespace siamface::python

PYBIND11_MODULE(_siamface, m) {
  m.doc() = "siamface native module; use the `siamface` package (docs/python.md)";
  m.attr("__version__") = SIAMFACE_VERSION;
  // The pybind11 this module was built with: before 2.12 it reads NumPy 2's arrays wrongly,
  // without an error (siamface/__init__.py refuses that pair at import).
  m.attr("_pybind11_version") = py::make_tuple(PYBIND11_VERSION_MAJOR, PYBIND11_VERSION_MINOR);
  siamface::python::bind_errors(m);
  siamface::python::bind_types(m);
  siamface::python::bind_functions(m);
  siamface::python::bind_engine(m);
  siamface::python::bind_gallery(m);
  siamface::python::bind_tracker(m);
  siamface::python::bind_analysis(m);
}
