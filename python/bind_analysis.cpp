// Face analysis (issue 32): age, gender, expression, liveness and head pose of every face.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "bind_common.hpp"
#include "siamface/analysis.hpp"
#include "siamface/identify.hpp"
#include "siamface/tracker.hpp"

namespace siamface::python {

namespace {

// None: every attribute; a str: a comma list; a list of str: those.
siamface::AttributeSet attributes_from(const py::object& attributes) {
  if (attributes.is_none()) return siamface::AttributeSet::all();
  if (py::isinstance<py::str>(attributes)) return siamface::AttributeSet::parse(attributes.cast<std::string>());
  std::string list;
  for (const py::handle item : attributes) {
    if (!py::isinstance<py::str>(item)) throw py::type_error("attributes must be strings, e.g. ['age', 'liveness']");
    list += (list.empty() ? "" : ",") + item.cast<std::string>();
  }
  if (list.empty()) throw py::value_error("attributes is empty: name at least one of age, gender, expression, liveness, pose");
  return siamface::AttributeSet::parse(list);
}

}  // namespace

void bind_analysis(py::module_& m) {
  py::class_<siamface::GenderEstimate>(m, "GenderEstimate")
      .def_readonly("value", &siamface::GenderEstimate::value, "'female' or 'male'")
      .def_readonly("probability", &siamface::GenderEstimate::probability, "of value, 0.5..1")
      .def("__repr__", [](const siamface::GenderEstimate& g) {
        return py::str("GenderEstimate(value={!r}, probability={:.3f})").format(g.value, g.probability);
      });

  py::class_<siamface::ExpressionEstimate>(m, "ExpressionEstimate")
      .def_readonly("value", &siamface::ExpressionEstimate::value, "the most probable expression")
      .def_property_readonly(
          "scores",
          [](const siamface::ExpressionEstimate& e) {
            py::dict scores;
            for (std::size_t k = 0; k < siamface::kExpressionClasses.size(); ++k) scores[siamface::kExpressionClasses[k]] = e.scores[k];
            return scores;
          },
          "probability of each of the 7 expressions (neutral, happy, sad, angry, fearful, disgusted, surprised)")
      .def("__repr__", [](const siamface::ExpressionEstimate& e) {
        return py::str("ExpressionEstimate(value={!r})").format(e.value);
      });

  py::class_<siamface::LivenessEstimate>(m, "LivenessEstimate")
      .def_property_readonly(
          "value", [](const siamface::LivenessEstimate& l) { return std::string(name_of(siamface::kLivenessVerdictNames, l.verdict)); },
          "'live' or 'spoof' (a photo or screen held up to the camera)")
      .def_property_readonly("live", [](const siamface::LivenessEstimate& l) { return l.verdict == siamface::LivenessVerdict::kLive; })
      .def_readonly("score", &siamface::LivenessEstimate::score, "probability of a live face, 0..1")
      .def_readonly("threshold", &siamface::LivenessEstimate::threshold, "the score at and above which a face is live")
      .def("__repr__", [](const siamface::LivenessEstimate& l) {
        return py::str("LivenessEstimate(value={!r}, score={:.3f})").format(name_of(siamface::kLivenessVerdictNames, l.verdict), l.score);
      });

  py::class_<siamface::HeadPose>(m, "HeadPose", "Head pose in degrees, from the 68 landmarks (a rough estimate).")
      .def_readonly("pitch", &siamface::HeadPose::pitch)
      .def_readonly("roll", &siamface::HeadPose::roll)
      .def_readonly("yaw", &siamface::HeadPose::yaw)
      .def("__repr__", [](const siamface::HeadPose& p) {
        return py::str("HeadPose(pitch={:.1f}, roll={:.1f}, yaw={:.1f})").format(p.pitch, p.roll, p.yaw);
      });

  py::class_<siamface::FaceAnalysis>(m, "FaceAnalysis",
                                     "One face's box, landmarks and quality, and the attributes asked for "
                                     "(None when not asked, or when the face was too small for the networks).")
      .def_readonly("face", &siamface::FaceAnalysis::face)
      .def_readonly("too_small", &siamface::FaceAnalysis::too_small)
      .def_readonly("age", &siamface::FaceAnalysis::age, "years")
      .def_readonly("gender", &siamface::FaceAnalysis::gender)
      .def_readonly("expression", &siamface::FaceAnalysis::expression)
      .def_readonly("liveness", &siamface::FaceAnalysis::liveness)
      .def_readonly("pose", &siamface::FaceAnalysis::pose)
      .def("__repr__", [](const siamface::FaceAnalysis& a) {
        return py::str("FaceAnalysis(box={}, age={}, gender={}, liveness={})")
            .format(py::cast(a.face.box), py::cast(a.age), py::cast(a.gender), py::cast(a.liveness));
      });

  // The liveness gate's verdict on an identified face (Gallery.identify(liveness=True)).
  py::reinterpret_borrow<py::class_<siamface::IdentifiedFace>>(m.attr("IdentifiedFace"))
      .def_readonly("liveness", &siamface::IdentifiedFace::liveness,
                    "with identify(liveness=True): the face's LivenessEstimate (None when too small to judge)");

  // With Tracker(liveness=True): a track's verdict over its frames (None until enough were judged).
  py::reinterpret_borrow<py::class_<siamface::TrackedFace>>(m.attr("TrackedFace"))
      .def_readonly("liveness", &siamface::TrackedFace::liveness);
  py::reinterpret_borrow<py::class_<siamface::TrackEvent>>(m.attr("TrackEvent"))
      .def_readonly("liveness", &siamface::TrackEvent::liveness);

  m.def(
      "analyze",
      [](const PyEngine& engine, const py::array& image, const py::object& attributes,
         std::optional<float> liveness_threshold, std::optional<float> min_score, int max_faces, float upsample,
         const std::string& border_pass) {
        const siamface::Image pixels = image_from_array(image);
        siamface::AnalyzeOptions options;
        options.attributes = attributes_from(attributes);
        options.liveness_threshold = liveness_threshold;
        options.pipeline = engine.with(detect_options(min_score, max_faces, upsample, border_pass));
        py::gil_scoped_release release;
        return siamface::analyze_faces(engine, pixels, options);
      },
      "engine"_a, "image"_a, "attributes"_a = py::none(), py::kw_only(), "liveness_threshold"_a = py::none(),
      "min_score"_a = py::none(), "max_faces"_a = 0, "upsample"_a = 1.0F, "border_pass"_a = kDefaultBorderPass,
      "Every face of an RGB image with the attributes asked for (None: all of age, gender, expression, "
      "liveness, pose): a list of FaceAnalysis. Each network runs only when its attribute is asked.");
}

}  // namespace siamface::python
