// The value types the API hands out and takes: boxes, faces, matches, decisions, gallery rows,
// tracker output.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "bind_common.hpp"
#include "siamface/engine.hpp"
#include "siamface/gallery.hpp"
#include "siamface/decision.hpp"
#include "siamface/tracker.hpp"
#include "siamface/types.hpp"

namespace siamface::python {

namespace {

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

}  // namespace

void bind_types(py::module_& m) {
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
                             "ambiguous (see runner_up), name_taken, empty_gallery, spoof and liveness_unchecked (the liveness check); "
                             "'none' when known")
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
}

}  // namespace siamface::python
