// Module functions: image files and bytes, the embedding distance, the default locations.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

#include "bind_common.hpp"
#include "siamface/engine.hpp"
#include "siamface/gallery.hpp"
#include "siamface/image.hpp"
#include "siamface/types.hpp"

namespace siamface::python {

void bind_functions(py::module_& m) {
  m.def(
      "load_image",
      [](const py::object& path_like, std::int64_t max_pixels, bool exif_orientation) {
        const std::string path = existing_file(path_like);
        siamface::DecodeOptions options{max_pixels, exif_orientation};
        siamface::Image image;
        {
          py::gil_scoped_release release;
          image = siamface::load_image(path, options);
        }
        return array_from_image(image);
      },
      "path"_a, py::kw_only(), "max_pixels"_a = siamface::DecodeOptions{}.max_pixels, "exif_orientation"_a = true,
      "Decodes a photo file (JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC/HEIF, AVIF, PBM/PGM/PPM) into an "
      "(H, W, 3) uint8 RGB array; EXIF orientation applied; the pixel limit is checked from the header.");
  m.def(
      "decode_image",
      [](const py::bytes& data, std::int64_t max_pixels, bool exif_orientation) {
        const std::string bytes = data;  // copied under the GIL; decoded without it
        siamface::DecodeOptions options{max_pixels, exif_orientation};
        siamface::Image image;
        {
          py::gil_scoped_release release;
          image = siamface::decode_image(
              {reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, options);
        }
        return array_from_image(image);
      },
      "data"_a, py::kw_only(), "max_pixels"_a = siamface::DecodeOptions{}.max_pixels, "exif_orientation"_a = true,
      "decode_image(data: bytes) -> (H, W, 3) uint8 RGB array; as load_image, from encoded bytes.");
  m.def(
      "save_image",
      [](const py::array& image, const py::object& path_like) {
        const std::string path = fs_path(path_like);
        const siamface::Image pixels = image_from_array(image);
        py::gil_scoped_release release;
        siamface::save_image(pixels, path);
      },
      "image"_a, "path"_a, "Writes an RGB array by the file extension (.jpg, .png, ...).");

  m.def(
      "distance",
      [](const EmbeddingArray& a, const EmbeddingArray& b) {
        return siamface::euclidean_distance(embedding_from_array(a), embedding_from_array(b));
      },
      "a"_a, "b"_a, "Euclidean distance between two embeddings of one recognizer (smaller is closer).");
  m.def("default_models_dir", &siamface::default_models_dir);
  m.def("default_gallery_path", &siamface::default_gallery_path);
  m.def("set_intra_op_threads", &siamface::set_intra_op_threads, "threads"_a,
        "Threads one inference call may use inside OpenCV (process-wide); 1 when you run many calls in "
        "parallel threads yourself; 0 restores the default.");
}

}  // namespace siamface::python
