// siamface.Gallery: enrol, manage and search the enrolled faces; identify with its threshold.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bind_common.hpp"
#include "siamface/engine.hpp"
#include "siamface/errors.hpp"
#include "siamface/gallery.hpp"
#include "siamface/decision.hpp"
#include "siamface/identify.hpp"
#include "siamface/types.hpp"

namespace siamface::python {

namespace {

siamface::IdentifyOptions identify_options(std::size_t top_k, std::optional<float> threshold, bool allow_looser_threshold,
                                           std::optional<float> margin, const std::string& distance,
                                           const siamface::PipelineOptions& pipeline, bool liveness = false,
                                           std::optional<float> liveness_threshold = std::nullopt) {
  siamface::IdentifyOptions options;
  if (liveness_threshold && !liveness) {
    throw py::value_error("liveness_threshold needs liveness=True (the liveness check is off by default)");
  }
  options.liveness.enabled = liveness;
  options.liveness.threshold = liveness_threshold;
  options.top_k = top_k;
  options.threshold = threshold;  // identify_image resolves it against the gallery's
  options.allow_looser_threshold = allow_looser_threshold;
  if (margin) options.rule.margin = *margin;
  options.distance = siamface::parse_identity_distance(distance);
  options.pipeline = pipeline;
  return options;
}

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

}  // namespace

void bind_gallery(py::module_& m) {
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
            if (files.empty()) throw py::value_error("enroll needs at least one photo; the list of paths is empty");
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
            // Read as identify() and the CLI read it (gallery_threshold); it never answers NaN for
            // a saved threshold, so NaN stands for "none saved".
            const float saved = siamface::gallery_threshold(*g.get(), std::numeric_limits<float>::quiet_NaN());
            if (std::isnan(saved)) return std::nullopt;
            return saved;
          },
          [](const GalleryHandle& g, std::optional<float> threshold) {
            auto gallery = g.get();
            if (threshold) {
              // Written as `siamface gallery set-threshold` writes it, whatever the locale.
              gallery->set_setting(siamface::kThresholdSetting, siamface::format_distance_threshold(*threshold));
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
             const std::string& border_pass, bool liveness, std::optional<float> liveness_threshold) {
            const siamface::Image pixels = image_from_array(image);
            auto gallery = g.get();
            // The gallery's threshold is read here for the warning only, under the GIL.
            if (threshold) {
              (void)checked_threshold(
                  threshold,
                  siamface::gallery_threshold(*gallery, siamface::IdentifyOptions::default_decision_rule().threshold),
                  allow_looser_threshold);
            }
            const auto options = identify_options(top_k, threshold, allow_looser_threshold, margin, distance,
                                                  engine.with(detect_options(min_score, max_faces, upsample, border_pass)),
                                                  liveness, liveness_threshold);
            py::gil_scoped_release release;
            return siamface::identify_image(engine, *gallery, pixels, options);
          },
          "engine"_a, "image"_a, py::kw_only(), "top_k"_a = 3, "threshold"_a = py::none(),
          "allow_looser_threshold"_a = false, "margin"_a = py::none(), "distance"_a = "min", "min_score"_a = py::none(), "max_faces"_a = 0, "upsample"_a = 1.0F,
          "border_pass"_a = kDefaultBorderPass, "liveness"_a = false, "liveness_threshold"_a = py::none(),
          "Names every face of an RGB image, as `siamface identify`: the nearest identity under the threshold "
          "(the gallery's, else 0.6; a stricter one if given: a looser one needs allow_looser_threshold=True) "
          "and the margin (0.05) ahead of the next, one name per face, else 'unknown'. liveness=True: a face "
          "judged a spoof (a photo or screen held up) is never named (decision.reason 'spoof'; docs/analysis.md).");
}

}  // namespace siamface::python
