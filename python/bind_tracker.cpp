// siamface.Tracker: faces followed through video frames, as `siamface watch`.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "bind_common.hpp"
#include "siamface/engine.hpp"
#include "siamface/gallery.hpp"
#include "siamface/identify.hpp"
#include "siamface/tracker.hpp"

namespace siamface::python {

namespace {

// Tracker: one video from one thread in C++; the mutex makes concurrent Python calls wait.
struct TrackerHandle {
  TrackerHandle(const PyEngine& engine, std::shared_ptr<siamface::Gallery> gallery)
      : engine(engine), gallery(std::move(gallery)) {}
  siamface::Engine engine;  // the tracker references these: they live as long as it does
  std::shared_ptr<siamface::Gallery> gallery;
  std::unique_ptr<siamface::FaceTracker> tracker;
  std::mutex mutex;
};

}  // namespace

void bind_tracker(py::module_& m) {
  py::class_<TrackerHandle>(m, "Tracker", R"doc(
Follows faces through video frames (as `siamface watch`): detects every detect_every frames,
tracks in between, embeds only when that can change a track's identity, names each track by vote.

Thread safety: one tracker follows one video; calls from several threads are serialised.
)doc")
      .def(py::init([](const PyEngine& engine, const GalleryHandle* gallery, int detect_every,
                       std::optional<float> threshold, bool allow_looser_threshold, std::optional<float> margin,
                       bool liveness, std::optional<float> liveness_threshold) {
             if (liveness_threshold && !liveness) {
               throw py::value_error("liveness_threshold needs liveness=True (the liveness check is off by default)");
             }
             auto handle = std::make_unique<TrackerHandle>(engine, gallery ? gallery->get() : nullptr);
             siamface::TrackerOptions options;
             options.detect_every = detect_every;
             // FaceTracker resolves the threshold against the gallery; read here for the warning only.
             if (threshold) {
               const float own = handle->gallery
                                     ? siamface::gallery_threshold(*handle->gallery, options.identify.rule.threshold)
                                     : options.identify.rule.threshold;
               (void)checked_threshold(threshold, own, allow_looser_threshold);
             }
             options.identify.threshold = threshold;
             options.identify.allow_looser_threshold = allow_looser_threshold;
             if (margin) options.identify.rule.margin = *margin;
             options.identify.pipeline = engine.pipeline;
             options.identify.liveness.enabled = liveness;
             options.identify.liveness.threshold = liveness_threshold;
             handle->tracker =
                 std::make_unique<siamface::FaceTracker>(handle->engine, handle->gallery.get(), options);
             return handle;
           }),
           "engine"_a, "gallery"_a = py::none(), py::kw_only(), "detect_every"_a = 5, "threshold"_a = py::none(),
           "allow_looser_threshold"_a = false, "margin"_a = py::none(), "liveness"_a = false,
           "liveness_threshold"_a = py::none())
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
                        "identify_ms"_a = s.identify_ms, "track_ms"_a = s.track_ms, "liveness_ms"_a = s.liveness_ms);
      });
}

}  // namespace siamface::python
