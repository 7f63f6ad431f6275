// siamface._siamface: the library's public API for Python (docs/python.md).
//
// Images cross the boundary as numpy uint8 arrays in RGB order (H x W x 3; H x W grey and
// H x W x 4 RGBA are accepted too), as PIL, imageio and face_recognition hand them out; they are
// copied into siamface::Image (BGR) while the GIL is held, then every inference call runs with
// the GIL released, so Python threads run detection and embedding in parallel. Embeddings are
// float32 arrays. siamface::Error becomes siamface.Error (with .kind) in one translator below.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "siamface/engine.hpp"
#include "siamface/errors.hpp"
#include "siamface/gallery.hpp"
#include "siamface/identify.hpp"
#include "siamface/image.hpp"
#include "siamface/recognizer.hpp"
#include "siamface/tracker.hpp"
#include "siamface/types.hpp"

namespace py = pybind11;
using namespace pybind11::literals;

namespace {

using siamface::Error;
using siamface::ErrorCode;

// ---- images and embeddings ------------------------------------------------------------------

// RGB(A) or grey numpy array -> BGR Image. Any strides (slices, frame[..., ::-1]) are accepted.
siamface::Image image_from_array(const py::array& array) {
  if (!py::isinstance<py::array_t<std::uint8_t>>(array)) {
    throw py::type_error("an image must be a numpy uint8 array (H x W x 3 RGB, H x W grey or H x W x 4 RGBA), got dtype " +
                         py::str(array.dtype()).cast<std::string>());
  }
  const auto pixels = py::reinterpret_borrow<py::array_t<std::uint8_t>>(array);
  const py::ssize_t dims = pixels.ndim();
  const py::ssize_t channels = dims == 3 ? pixels.shape(2) : 1;
  if (!(dims == 2 || (dims == 3 && (channels == 1 || channels == 3 || channels == 4)))) {
    throw py::value_error("an image must have shape (H, W), (H, W, 3) or (H, W, 4); got " +
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

// Any 1-D sequence of numbers (a numpy array of any float dtype, a list).
using EmbeddingArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

siamface::Embedding embedding_from_array(const EmbeddingArray& values) {
  if (values.ndim() != 1) throw py::value_error("an embedding must be a 1-D array of numbers");
  return {values.data(), values.data() + values.size()};
}

py::array_t<float> landmarks_array(const siamface::Landmarks& landmarks) {
  py::array_t<float> array({siamface::kLandmarkCount, 2});
  auto view = array.mutable_unchecked<2>();
  for (int i = 0; i < siamface::kLandmarkCount; ++i) {
    view(i, 0) = landmarks[i].x;
    view(i, 1) = landmarks[i].y;
  }
  return array;
}

void set_landmarks(siamface::Face& face, const py::array& array) {
  const auto points = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(array);
  if (!points || points.ndim() != 2 || points.shape(0) != siamface::kLandmarkCount || points.shape(1) != 2) {
    throw py::value_error("landmarks must be a (68, 2) array of x, y");
  }
  auto view = points.unchecked<2>();
  for (int i = 0; i < siamface::kLandmarkCount; ++i) face.landmarks[i] = {view(i, 0), view(i, 1)};
}

// A str or os.PathLike as the file system's bytes (os.fsencode): non-UTF-8 names work too.
std::string fs_path(const py::handle& path) {
  return py::bytes(py::module_::import("os").attr("fsencode")(path)).cast<std::string>();
}

// ---- Engine holder ---------------------------------------------------------------------------

// The C++ Engine holds only what it loads; the Python Engine also keeps the per-call choices
// given to its constructor (enhance, augment, tiny_fallback) and applies them to every call.
struct PyEngine : siamface::Engine {
  PyEngine(siamface::Engine engine, siamface::PipelineOptions defaults)
      : siamface::Engine(std::move(engine)), pipeline(std::move(defaults)) {}
  siamface::PipelineOptions pipeline;
  // The defaults with the detection keywords of one call (tiny_fallback stays the engine's).
  siamface::PipelineOptions with(siamface::DetectOptions detect) const {
    siamface::PipelineOptions options = pipeline;
    detect.tiny_fallback = pipeline.detect.tiny_fallback;
    options.detect = detect;
    return options;
  }
};

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

// The library's default, so Python detects exactly as the CLI does.
const std::string kDefaultBorderPass = siamface::to_string(siamface::DetectOptions{}.border_pass);

#define SIAMFACE_DETECT_KWARGS                                                                 \
  py::kw_only(), "min_score"_a = py::none(), "max_faces"_a = 0, "upsample"_a = 1.0F,          \
      "border_pass"_a = kDefaultBorderPass

// The threshold to decide with (issue 31): a requested one only when it is stricter than
// `own` (the gallery's, else the default), or when `allow_looser`; else `own`, with a
// UserWarning. Needs the GIL.
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

siamface::IdentifyOptions identify_options(std::size_t top_k, float threshold, std::optional<float> margin,
                                           const std::string& distance, const siamface::PipelineOptions& pipeline) {
  siamface::IdentifyOptions options;
  options.top_k = top_k;
  options.rule.threshold = threshold;
  if (margin) options.rule.margin = *margin;
  options.distance = siamface::parse_identity_distance(distance);
  options.pipeline = pipeline;
  return options;
}

// ---- Gallery holder ------------------------------------------------------------------------

// close() drops the Python object's reference; calls already running (GIL released) keep theirs.
struct GalleryHandle {
  std::shared_ptr<siamface::Gallery> gallery;

  std::shared_ptr<siamface::Gallery> get() const {
    if (!gallery) throw Error(ErrorCode::kInvalidArgument, "the gallery is closed");
    return gallery;
  }
};

py::dict gallery_info_dict(const siamface::GalleryInfo& info) {
  py::dict d;
  d["path"] = info.path;
  d["schema_version"] = info.schema_version;
  d["model"] = info.model ? py::cast(*info.model) : py::none();
  d["person_count"] = info.person_count;
  d["face_count"] = info.face_count;
  d["threshold"] = info.threshold ? py::cast(*info.threshold) : py::none();
  d["file_bytes"] = info.file_bytes;
  return d;
}

// Tracker: one video from one thread in C++; the mutex makes concurrent Python calls wait.
struct TrackerHandle {
  TrackerHandle(const PyEngine& engine, std::shared_ptr<siamface::Gallery> gallery)
      : engine(engine), gallery(std::move(gallery)) {}
  siamface::Engine engine;  // the tracker references these: they live as long as it does
  std::shared_ptr<siamface::Gallery> gallery;
  std::unique_ptr<siamface::FaceTracker> tracker;
  std::mutex mutex;
};

std::string sha256_of_pixels(const siamface::Image& image) {
  // hashlib under the GIL: the library's SHA-256 is internal, and this runs once per add.
  py::object digest = py::module_::import("hashlib").attr("sha256")(
      py::bytes(reinterpret_cast<const char*>(image.bgr.data()), image.bgr.size()));
  return digest.attr("hexdigest")().cast<std::string>();
}

const siamface::Face& only_face(const std::vector<siamface::Face>& faces, const char* what) {
  if (faces.empty()) throw Error(ErrorCode::kNoFace, std::string("no face found in ") + what);
  if (faces.size() > 1) {
    throw Error(ErrorCode::kInvalidArgument, std::string(what) + " holds " + std::to_string(faces.size()) +
                                                 " faces; pass the one to use as face=");
  }
  return faces.front();
}

struct Verification {
  float distance = 0.0F;
  float threshold = 0.0F;
  bool same = false;
  siamface::Face face_a;
  siamface::Face face_b;
};

}  // namespace

PYBIND11_MODULE(_siamface, m) {
  m.doc() = "siamface native module; use the `siamface` package (docs/python.md)";
  m.attr("__version__") = SIAMFACE_VERSION;

  // One boundary for errors: siamface::Error -> siamface.Error(message) with .kind ("no_face", ...).
  // The type lives as long as the process: a static py::object would be released after the
  // interpreter is gone.
  static const py::handle error_type = py::exception<Error>(m, "Error", PyExc_Exception).release();
  error_type.attr("__doc__") = "Raised by siamface; .kind names the error (invalid_image, no_face, model_missing, ...)";
  py::register_exception_translator([](std::exception_ptr thrown) {
    try {
      if (thrown) std::rethrow_exception(thrown);
    } catch (const Error& e) {
      // Messages quote file names, which need not be UTF-8.
      const std::string message = e.what();
      const auto text = py::reinterpret_steal<py::object>(
          PyUnicode_DecodeUTF8(message.data(), static_cast<py::ssize_t>(message.size()), "replace"));
      py::object instance = error_type(text);
      instance.attr("kind") = siamface::to_string(e.code());
      PyErr_SetObject(error_type.ptr(), instance.ptr());
    }
  });

  // ---- value types ----
  py::class_<siamface::Box>(m, "Box", "Axis-aligned box in image pixels (left, top, width, height).")
      .def(py::init([](float left, float top, float width, float height) {
             return siamface::Box{left, top, width, height};
           }),
           "left"_a, "top"_a, "width"_a, "height"_a)
      .def_readwrite("left", &siamface::Box::left)
      .def_readwrite("top", &siamface::Box::top)
      .def_readwrite("width", &siamface::Box::width)
      .def_readwrite("height", &siamface::Box::height)
      .def_property_readonly("right", &siamface::Box::right)
      .def_property_readonly("bottom", &siamface::Box::bottom)
      .def("__repr__", [](const siamface::Box& b) {
        return py::str("Box(left={:.1f}, top={:.1f}, width={:.1f}, height={:.1f})")
            .format(b.left, b.top, b.width, b.height);
      });

  py::class_<siamface::FaceQuality>(m, "FaceQuality")
      .def_readonly("face_size_px", &siamface::FaceQuality::face_size_px)
      .def_readonly("brightness", &siamface::FaceQuality::brightness)
      .def_readonly("contrast", &siamface::FaceQuality::contrast)
      .def_readonly("sharpness", &siamface::FaceQuality::sharpness)
      .def_readonly("noise", &siamface::FaceQuality::noise)
      .def_readonly("yaw", &siamface::FaceQuality::yaw)
      .def_readonly("grayscale", &siamface::FaceQuality::grayscale);

  py::class_<siamface::Face>(m, "Face",
                             "A detected face: box, detector score, 68 landmarks (dlib / iBUG 300-W order, "
                             "x, y in image pixels) and quality measures.")
      .def(py::init<>())
      .def_readwrite("box", &siamface::Face::box)
      .def_readwrite("score", &siamface::Face::score)
      .def_property(
          "landmarks", [](const siamface::Face& f) { return landmarks_array(f.landmarks); }, &set_landmarks,
          "(68, 2) float32 array of x, y (a copy; assign a new array to change them)")
      .def_readonly("quality", &siamface::Face::quality)
      .def("__repr__", [](const siamface::Face& f) {
        return py::str("Face(box={}, score={:.3f})").format(py::cast(f.box), f.score);
      });

  py::class_<siamface::FaceEmbedding>(m, "FaceEmbedding")
      .def_readonly("face", &siamface::FaceEmbedding::face)
      .def_property_readonly("embedding",
                             [](const siamface::FaceEmbedding& f) { return array_from_embedding(f.embedding); });

  py::class_<siamface::ModelInfo>(m, "ModelInfo")
      .def_readonly("name", &siamface::ModelInfo::name)
      .def_readonly("version", &siamface::ModelInfo::version)
      .def_readonly("weights_sha256", &siamface::ModelInfo::weights_sha256)
      .def("__eq__", [](const siamface::ModelInfo& a, const siamface::ModelInfo& b) {
        return a.name == b.name && a.version == b.version && a.weights_sha256 == b.weights_sha256;
      })
      .def("__repr__", [](const siamface::ModelInfo& i) {
        return py::str("ModelInfo(name={!r}, version={!r})").format(i.name, i.version);
      });

  py::class_<siamface::IdentityMatch>(m, "IdentityMatch")
      .def_readonly("person", &siamface::IdentityMatch::person)
      .def_readonly("distance", &siamface::IdentityMatch::distance)
      .def_readonly("face_id", &siamface::IdentityMatch::face_id)
      .def("__repr__", [](const siamface::IdentityMatch& i) {
        return py::str("IdentityMatch(person={!r}, distance={:.4f})").format(i.person, i.distance);
      });

  py::class_<siamface::Decision>(m, "Decision")
      .def_readonly("person", &siamface::Decision::person)
      .def_readonly("distance", &siamface::Decision::distance)
      .def_readonly("threshold", &siamface::Decision::threshold)
      .def_readonly("known", &siamface::Decision::known)
      .def_property_readonly("reason",
                             [](const siamface::Decision& d) { return std::string(siamface::to_string(d.reason)); },
                             "Why the face is unknown: above_threshold, negative_example, networks_disagree, "
                             "ambiguous (see runner_up), name_taken, empty_gallery; 'none' when known")
      .def_readonly("runner_up", &siamface::Decision::runner_up);

  py::class_<siamface::IdentifiedFace>(m, "IdentifiedFace")
      .def_readonly("face", &siamface::IdentifiedFace::face)
      .def_property_readonly("embedding",
                             [](const siamface::IdentifiedFace& f) { return array_from_embedding(f.embedding); })
      .def_readonly("decision", &siamface::IdentifiedFace::decision)
      .def_readonly("top", &siamface::IdentifiedFace::top)
      .def_property_readonly("name", [](const siamface::IdentifiedFace& f) { return f.decision.person; },
                             "the decided name, or 'unknown'")
      .def_property_readonly("distance", [](const siamface::IdentifiedFace& f) { return f.decision.distance; })
      .def("__repr__", [](const siamface::IdentifiedFace& f) {
        return py::str("IdentifiedFace(name={!r}, distance={:.4f}, box={})")
            .format(f.decision.person, f.decision.distance, py::cast(f.face.box));
      });

  py::class_<siamface::GalleryFace>(m, "GalleryFace")
      .def_readonly("id", &siamface::GalleryFace::id)
      .def_readonly("person", &siamface::GalleryFace::person)
      .def_readonly("source_path", &siamface::GalleryFace::source_path)
      .def_readonly("image_sha256", &siamface::GalleryFace::image_sha256)
      .def_readonly("face", &siamface::GalleryFace::face)
      .def_property_readonly("embedding",
                             [](const siamface::GalleryFace& f) { return array_from_embedding(f.embedding); })
      .def_readonly("model", &siamface::GalleryFace::model)
      .def_readonly("created_unix_ms", &siamface::GalleryFace::created_unix_ms);

  py::class_<siamface::AddOutcome>(m, "AddOutcome")
      .def_property_readonly("status",
                             [](const siamface::AddOutcome& o) {
                               return o.status == siamface::AddStatus::kAdded ? "added" : "duplicate";
                             })
      .def_readonly("face_id", &siamface::AddOutcome::face_id);

  py::class_<siamface::EnrollResult>(m, "EnrollResult")
      .def_readonly("source_path", &siamface::EnrollResult::source_path)
      .def_property_readonly("status", [](const siamface::EnrollResult& r) { return siamface::to_string(r.status); },
                             "enrolled, duplicate, skipped or failed")
      .def_readonly("reason", &siamface::EnrollResult::reason)
      .def_readonly("face_id", &siamface::EnrollResult::face_id)
      .def("__repr__", [](const siamface::EnrollResult& r) {
        return py::str("EnrollResult({!r}, status={!r}, reason={!r})")
            .format(r.source_path, siamface::to_string(r.status), r.reason);
      });

  py::class_<Verification>(m, "Verification")
      .def_readonly("distance", &Verification::distance)
      .def_readonly("threshold", &Verification::threshold)
      .def_readonly("same", &Verification::same)
      .def_readonly("face_a", &Verification::face_a)
      .def_readonly("face_b", &Verification::face_b)
      .def("__bool__", [](const Verification& v) { return v.same; })
      .def("__repr__", [](const Verification& v) {
        return py::str("Verification(same={}, distance={:.4f}, threshold={:.3f})").format(v.same, v.distance, v.threshold);
      });

  py::class_<siamface::TrackedFace>(m, "TrackedFace")
      .def_readonly("track_id", &siamface::TrackedFace::track_id)
      .def_readonly("box", &siamface::TrackedFace::box)
      .def_readonly("detected", &siamface::TrackedFace::detected)
      .def_readonly("name", &siamface::TrackedFace::name)
      .def_readonly("known", &siamface::TrackedFace::known)
      .def_readonly("identified", &siamface::TrackedFace::identified)
      .def_readonly("distance", &siamface::TrackedFace::distance);

  py::class_<siamface::TrackEvent>(m, "TrackEvent")
      .def_property_readonly("kind", [](const siamface::TrackEvent& e) { return siamface::to_string(e.kind); },
                             "appeared, identified, identity_changed or ended")
      .def_readonly("track_id", &siamface::TrackEvent::track_id)
      .def_readonly("frame", &siamface::TrackEvent::frame)
      .def_readonly("timestamp_s", &siamface::TrackEvent::timestamp_s)
      .def_readonly("box", &siamface::TrackEvent::box)
      .def_readonly("name", &siamface::TrackEvent::name)
      .def_readonly("previous_name", &siamface::TrackEvent::previous_name)
      .def_readonly("distance", &siamface::TrackEvent::distance)
      .def_readonly("first_timestamp_s", &siamface::TrackEvent::first_timestamp_s)
      .def_readonly("last_timestamp_s", &siamface::TrackEvent::last_timestamp_s)
      .def_readonly("frame_count", &siamface::TrackEvent::frame_count)
      .def_readonly("best_distance", &siamface::TrackEvent::best_distance)
      .def("__repr__", [](const siamface::TrackEvent& e) {
        return py::str("TrackEvent({!r}, track_id={}, frame={}, name={!r})")
            .format(siamface::to_string(e.kind), e.track_id, e.frame, e.name);
      });

  // ---- images ----
  m.def(
      "load_image",
      [](const py::object& path_like, std::int64_t max_pixels, bool exif_orientation) {
        const std::string path = fs_path(path_like);
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

  // ---- Engine ----
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

  // ---- Gallery ----
  py::class_<GalleryHandle>(m, "Gallery", R"doc(
The gallery: every enrolled face in one SQLite file, searched exactly in memory.

Thread safety: every method may be called from many threads at once (the C++ Gallery serialises
its SQLite connection and lets searches run concurrently); several processes may share one file.
The GIL is released while it works.
)doc")
      .def(py::init([](const py::object& path, bool create, bool read_only, int busy_timeout_ms) {
             siamface::GalleryOptions options;
             options.create = create && !read_only;
             options.read_only = read_only;
             options.busy_timeout_ms = busy_timeout_ms;
             const std::string file = path.is_none() ? siamface::default_gallery_path() : fs_path(path);
             py::gil_scoped_release release;
             return GalleryHandle{std::make_shared<siamface::Gallery>(siamface::Gallery::open(file, options))};
           }),
           "path"_a = py::none(), py::kw_only(), "create"_a = true, "read_only"_a = false,
           "busy_timeout_ms"_a = 5000,
           "Opens (creating unless create=False or read_only=True) the gallery; path defaults to "
           "$SIAMFACE_GALLERY or ~/.local/share/siamface/gallery.db.")
      .def_property_readonly("path", [](const GalleryHandle& g) { return g.get()->path(); })
      .def("close", [](GalleryHandle& g) { g.gallery.reset(); }, "Closes the file (running calls finish first).")
      .def("__enter__", [](GalleryHandle& g) -> GalleryHandle& { return g; }, py::return_value_policy::reference)
      .def("__exit__", [](GalleryHandle& g, const py::args&) { g.gallery.reset(); })
      .def("__len__", [](const GalleryHandle& g) {
        auto gallery = g.get();
        py::gil_scoped_release release;
        return gallery->face_count();
      })
      .def(
          "people",
          [](const GalleryHandle& g) {
            auto gallery = g.get();
            std::vector<siamface::PersonSummary> people;
            {
              py::gil_scoped_release release;
              people = gallery->people();
            }
            py::dict out;
            for (const auto& p : people) out[py::str(p.person)] = p.face_count;
            return out;
          },
          "{person: face count}, by name.")
      .def(
          "faces_of",
          [](const GalleryHandle& g, const std::string& person) {
            auto gallery = g.get();
            py::gil_scoped_release release;
            return gallery->faces_of(person);
          },
          "person"_a)
      .def(
          "face",
          [](const GalleryHandle& g, const std::string& face_id) {
            auto gallery = g.get();
            py::gil_scoped_release release;
            return gallery->face(face_id);
          },
          "face_id"_a, "The stored face with this id, or None.")
      .def(
          "enroll",
          [](const GalleryHandle& g, const PyEngine& engine, const std::string& person,
             const py::object& paths, bool take_largest, float min_face_px, float min_sharpness, float max_yaw) {
            std::vector<std::string> files;
            if (py::isinstance<py::str>(paths) || py::isinstance<py::bytes>(paths) || py::hasattr(paths, "__fspath__")) {
              files.push_back(fs_path(paths));
            } else {
              for (const py::handle& p : paths) {
                files.push_back(fs_path(p));
              }
            }
            auto gallery = g.get();
            py::gil_scoped_release release;
            siamface::check_person_name(person);
            siamface::EnrollOptions options;
            options.take_largest = take_largest;
            options.gate = {min_face_px, min_sharpness, max_yaw};
            options.pipeline = engine.pipeline;
            std::vector<siamface::EnrollResult> batch;
            for (const auto& file : files) batch.push_back(siamface::prepare_enrollment(engine, person, file, options));
            siamface::commit_enrollments(*gallery, batch);
            for (auto& result : batch) result.face.reset();
            return batch;
          },
          "engine"_a, "person"_a, "paths"_a, py::kw_only(), "take_largest"_a = false, "min_face_px"_a = 40.0F,
          "min_sharpness"_a = 15.0F, "max_yaw"_a = 0.6F,
          "Enrolls photo files (one path or a list) of one person in one transaction, as `siamface enroll`: each "
          "photo must hold exactly one face (take_largest: the largest) passing the quality gate; the others "
          "are skipped with the reason. Returns one EnrollResult per photo.")
      .def(
          "add",
          [](const GalleryHandle& g, const PyEngine& engine, const std::string& person, const py::array& image,
             std::optional<siamface::Face> face, const std::string& source_path) {
            const siamface::Image pixels = image_from_array(image);
            const std::string sha256 = sha256_of_pixels(pixels);
            auto gallery = g.get();
            py::gil_scoped_release release;
            siamface::check_person_name(person);
            siamface::GalleryFace record;
            record.person = person;
            record.source_path = source_path;
            record.image_sha256 = sha256;
            record.face = face ? *face : only_face(engine.detect(pixels, engine.pipeline), "the image");
            record.embedding = engine.embed(pixels, record.face, engine.pipeline.chip);
            record.model = engine.model_info();
            return gallery->add_face(record);
          },
          "engine"_a, "person"_a, "image"_a, py::kw_only(), "face"_a = py::none(), "source_path"_a = "",
          "Adds one face of an RGB image under `person` (the image's only face unless face= is given). The "
          "same pixels added twice for one person are reported as a duplicate.")
      .def(
          "remove_person",
          [](const GalleryHandle& g, const std::string& person) {
            auto gallery = g.get();
            py::gil_scoped_release release;
            return gallery->remove_person(person);
          },
          "person"_a, "Removes every face of `person`; returns how many (Error kind not_found when none).")
      .def(
          "remove_face",
          [](const GalleryHandle& g, const std::string& face_id) {
            auto gallery = g.get();
            py::gil_scoped_release release;
            gallery->remove_face(face_id);
          },
          "face_id"_a)
      .def(
          "rename_person",
          [](const GalleryHandle& g, const std::string& from, const std::string& to) {
            auto gallery = g.get();
            py::gil_scoped_release release;
            siamface::check_person_name(to);
            return gallery->rename_person(from, to);
          },
          "old"_a, "new"_a)
      .def(
          "remove_all",
          [](const GalleryHandle& g) {
            auto gallery = g.get();
            py::gil_scoped_release release;
            return gallery->remove_all();
          })
      .def(
          "info", [](const GalleryHandle& g) { return gallery_info_dict(g.get()->info()); },
          "path, schema_version, model, person_count, face_count, threshold, file_bytes")
      .def_property(
          "threshold",
          [](const GalleryHandle& g) -> std::optional<float> {
            const auto value = g.get()->setting(siamface::kThresholdSetting);
            if (!value) return std::nullopt;
            return std::stof(*value);
          },
          [](const GalleryHandle& g, std::optional<float> threshold) {
            auto gallery = g.get();
            if (threshold) {
              gallery->set_setting(siamface::kThresholdSetting, std::to_string(*threshold));
            } else {
              gallery->erase_setting(siamface::kThresholdSetting);
            }
          },
          "The gallery's saved threshold (None: the library default); identify() uses it unless given one.")
      .def(
          "export_jsonl",
          [](const GalleryHandle& g, const py::object& path_like) {
            const std::string file = fs_path(path_like);
            auto gallery = g.get();
            py::gil_scoped_release release;
            return gallery->export_jsonl(file);
          },
          "file"_a)
      .def(
          "import_jsonl",
          [](const GalleryHandle& g, const py::object& path_like) {
            const std::string file = fs_path(path_like);
            auto gallery = g.get();
            py::gil_scoped_release release;
            const auto result = gallery->import_jsonl(file);
            return py::make_tuple(result.added, result.duplicates);
          },
          "file"_a, "Returns (added, duplicates).")
      .def(
          "search",
          [](const GalleryHandle& g, const PyEngine& engine, const EmbeddingArray& embedding, std::size_t k,
             const std::string& distance) {
            const siamface::Embedding query = embedding_from_array(embedding);
            auto gallery = g.get();
            py::gil_scoped_release release;
            return gallery->search(query, engine.model_info(), k, siamface::parse_identity_distance(distance));
          },
          "engine"_a, "embedding"_a, py::kw_only(), "k"_a = 3, "distance"_a = "min",
          "Top-k identities nearest to an embedding made by `engine` (distance: min or mean).")
      .def(
          "identify",
          [](const GalleryHandle& g, const PyEngine& engine, const py::array& image, std::size_t top_k,
             std::optional<float> threshold, bool allow_looser_threshold, std::optional<float> margin,
             const std::string& distance, std::optional<float> min_score, int max_faces, float upsample,
             const std::string& border_pass) {
            const siamface::Image pixels = image_from_array(image);
            auto gallery = g.get();
            const float decide_with = checked_threshold(
                threshold,
                siamface::gallery_threshold(*gallery, siamface::IdentifyOptions::default_decision_rule().threshold),
                allow_looser_threshold);
            py::gil_scoped_release release;
            const auto options = identify_options(top_k, decide_with, margin, distance,
                                                  engine.with(detect_options(min_score, max_faces, upsample, border_pass)));
            return siamface::identify_image(engine, *gallery, pixels, options);
          },
          "engine"_a, "image"_a, py::kw_only(), "top_k"_a = 3, "threshold"_a = py::none(),
          "allow_looser_threshold"_a = false, "margin"_a = py::none(), "distance"_a = "min", "min_score"_a = py::none(), "max_faces"_a = 0, "upsample"_a = 1.0F,
          "border_pass"_a = kDefaultBorderPass,
          "Names every face of an RGB image, as `siamface identify`: the nearest identity under the threshold "
          "(the gallery's, else 0.6; a stricter one if given: a looser one needs allow_looser_threshold=True) "
          "and the margin (0.05) ahead of the next, one name per face, else 'unknown'.");

  // ---- Tracker ----
  py::class_<TrackerHandle>(m, "Tracker", R"doc(
Follows faces through video frames (as `siamface watch`): detects every detect_every frames,
tracks in between, embeds only when that can change a track's identity, names each track by vote.

Thread safety: one tracker follows one video; calls from several threads are serialised.
)doc")
      .def(py::init([](const PyEngine& engine, const GalleryHandle* gallery, int detect_every,
                       std::optional<float> threshold, bool allow_looser_threshold, std::optional<float> margin) {
             auto handle = std::make_unique<TrackerHandle>(engine, gallery ? gallery->get() : nullptr);
             siamface::TrackerOptions options;
             options.detect_every = detect_every;
             const float own = handle->gallery
                                   ? siamface::gallery_threshold(*handle->gallery, options.identify.rule.threshold)
                                   : options.identify.rule.threshold;
             options.identify.rule.threshold = checked_threshold(threshold, own, allow_looser_threshold);
             if (margin) options.identify.rule.margin = *margin;
             options.identify.pipeline = engine.pipeline;
             handle->tracker =
                 std::make_unique<siamface::FaceTracker>(handle->engine, handle->gallery.get(), options);
             return handle;
           }),
           "engine"_a, "gallery"_a = py::none(), py::kw_only(), "detect_every"_a = 5, "threshold"_a = py::none(),
           "allow_looser_threshold"_a = false, "margin"_a = py::none())
      .def(
          "process",
          [](TrackerHandle& t, const py::array& frame, std::int64_t frame_index, double timestamp_s) {
            const siamface::Image pixels = image_from_array(frame);
            std::vector<siamface::TrackEvent> events;
            std::vector<siamface::TrackedFace> faces;
            {
              py::gil_scoped_release release;
              std::lock_guard lock(t.mutex);
              faces = t.tracker->process(pixels, frame_index, timestamp_s, events);
            }
            return py::make_tuple(faces, events);
          },
          "frame"_a, "frame_index"_a, "timestamp_s"_a,
          "Processes the next RGB frame (indexes must increase): returns (tracked faces, events).")
      .def(
          "finish",
          [](TrackerHandle& t) {
            std::vector<siamface::TrackEvent> events;
            py::gil_scoped_release release;
            std::lock_guard lock(t.mutex);
            t.tracker->finish(events);
            return events;
          },
          "Ends every live track (end of the video); returns their `ended` events.")
      .def_property_readonly("stats", [](TrackerHandle& t) {
        std::lock_guard lock(t.mutex);
        const siamface::TrackerStats& s = t.tracker->stats();
        return py::dict("frames"_a = s.frames, "detect_frames"_a = s.detect_frames, "embeddings"_a = s.embeddings,
                        "tracks"_a = s.tracks, "detect_ms"_a = s.detect_ms, "embed_ms"_a = s.embed_ms,
                        "identify_ms"_a = s.identify_ms, "track_ms"_a = s.track_ms);
      });
}
