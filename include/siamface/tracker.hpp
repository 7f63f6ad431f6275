// Face tracking over video frames: detect every N frames, follow faces in between, embed a
// track only when that can change its identity, and name each track by a vote.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "siamface/analysis.hpp"
#include "siamface/engine.hpp"
#include "siamface/gallery.hpp"
#include "siamface/identify.hpp"
#include "siamface/types.hpp"

namespace siamface {

class EmbeddingQueue;

struct TrackerOptions {
  int detect_every = 5;            // full detection on every Nth frame (1: every frame)
  float min_iou = 0.3F;            // box overlap that associates a detection with a track
  float max_reid_distance = 0.5F;  // embedding distance that re-attaches a detection to a lost track
  int max_missed = 3;              // detection rounds without a match before a track ends
  float regrow_ratio = 1.4F;       // re-embed when the box area grew by this factor
  float quality_gain = 1.25F;      // re-embed when the quality score rose by this factor
  int min_votes = 3;               // embed on every detection round until a track has this many
  int verify_every = 6;            // and re-embed every this many detection rounds anyway
  // A matched face whose 16x16 grey thumbnail correlates less than this with the track's last
  // one (a scene cut, an occlusion) is re-embedded at once.
  float min_thumbnail_correlation = 0.5F;
  // A re-embedded face this far from its track's last embedding is someone else: the track
  // ends and a new one starts.
  float split_distance = 0.6F;
  // A frame counts in the vote only when it is clear: known below the threshold, or unknown
  // with its nearest identity at least this far above it.
  float unknown_confidence_margin = 0.05F;
  bool keep_best_crop = false;     // keep each track's best-quality face crop (for --unknown-dir)
  float min_face_px = 0.0F;        // detections whose shorter side is smaller are ignored (0: none)
  // With identify.liveness on, a track's liveness is judged on each detection round by a
  // LivenessVote over this many frames at least; the track carries no name before it is judged
  // live, and none while judged a spoof.
  int liveness_frames = 3;
  IdentifyOptions identify;        // threshold (resolved against the gallery once, by the constructor), margin, ...
  // Trackers of several videos on their own threads may share one queue, which embeds their
  // faces together; null: each tracker embeds on its own thread.
  std::shared_ptr<EmbeddingQueue> embedding_queue;
};

enum class TrackEventKind { kAppeared, kIdentified, kIdentityChanged, kEnded };
const char* to_string(TrackEventKind kind);  // "appeared" | "identified" | "identity_changed" | "ended"

struct TrackEvent {
  TrackEventKind kind = TrackEventKind::kAppeared;
  int track_id = 0;
  std::int64_t frame = 0;       // frame index the event happened on
  double timestamp_s = 0.0;     // of that frame
  Box box;                      // last known box
  std::string name;             // identified / changed / ended: the track's voted name
  std::string previous_name;    // identity_changed: the name before
  float distance = 0.0F;        // identified / changed: mean distance of the winning votes
  // With the liveness check on: the track's verdict so far (identified, changed and ended; a
  // spoof track's identified event names kUnknownPerson).
  std::optional<LivenessEstimate> liveness;
  // ended only:
  double first_timestamp_s = 0.0;
  double last_timestamp_s = 0.0;
  std::int64_t frame_count = 0;  // frames the track was visible (detected or propagated)
  float best_distance = 0.0F;    // smallest distance to the voted identity (or nearest one); -1: never embedded
  Image best_crop;               // with keep_best_crop: the sharpest, largest view of the face
};

// One face as the tracker sees it in the current frame.
struct TrackedFace {
  int track_id = 0;
  Box box;
  bool detected = false;       // from this frame's detection (else propagated)
  std::string name = kUnknownPerson;  // after one-name-per-frame resolution
  bool known = false;
  bool identified = false;     // has at least one vote yet (or, with the liveness check, a verdict of spoof)
  float distance = 0.0F;
  std::optional<LivenessEstimate> liveness;  // with the liveness check on, once enough frames were judged
};

struct TrackerStats {
  std::int64_t frames = 0;
  std::int64_t detect_frames = 0;
  std::int64_t embeddings = 0;
  std::int64_t tracks = 0;
  double detect_ms = 0.0;     // detection + landmarks + quality
  double embed_ms = 0.0;      // align + embed
  double identify_ms = 0.0;   // gallery search + decisions
  double track_ms = 0.0;      // association, voting, propagation
  double liveness_ms = 0.0;   // the liveness check (identify.liveness on)
  // How well boxes were carried between detections: at each re-detection of a track, the IoU of
  // the propagated (constant-velocity) box and of the plain last detected box with the new one.
  std::int64_t propagation_checks = 0;
  double propagated_iou_sum = 0.0;
  double kept_iou_sum = 0.0;
};

// Thread safety: none; one tracker follows one video from one thread. The Engine and Gallery it
// references are thread-safe and must outlive it.
class FaceTracker {
 public:
  // `gallery` may be null: every face is then unknown.
  FaceTracker(const Engine& engine, const Gallery* gallery, const TrackerOptions& options = {});
  ~FaceTracker();
  FaceTracker(FaceTracker&&) noexcept;
  FaceTracker& operator=(FaceTracker&&) noexcept;

  // Processes the next frame; appends what happened to `events`. Frame indexes must increase.
  std::vector<TrackedFace> process(const Image& frame, std::int64_t frame_index, double timestamp_s,
                                   std::vector<TrackEvent>& events);
  // Ends every live track (end of video).
  void finish(std::vector<TrackEvent>& events);

  const TrackerStats& stats() const;
  const TrackerOptions& options() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Embeds the faces of several trackers together (watch's cameras): each caller hands in the
// faces of its frame and waits; a worker thread takes every request waiting and embeds them in
// one Engine::embed_many call (batches cost less per face), at most `max_faces` faces a call.
// Embeddings are the ones Engine::embed gives, to float rounding.
// Thread safety: embed() and stats() may be called from many threads at once; destroy the
// queue only after its callers have returned.
class EmbeddingQueue {
 public:
  // Run on a caller's thread just before it waits for its embeddings and just after: a caller
  // that holds a share of the cores (watch's gate) gives it back meanwhile, so that other
  // callers can reach the queue and join the batch.
  struct WaitHooks {
    std::function<void()> before_wait;
    std::function<void()> after_wait;
  };
  EmbeddingQueue(const Engine& engine, const ChipOptions& chip, std::size_t max_faces = 16, WaitHooks hooks = {});
  ~EmbeddingQueue();
  EmbeddingQueue(const EmbeddingQueue&) = delete;
  EmbeddingQueue& operator=(const EmbeddingQueue&) = delete;

  // One embedding per face of `image`, in order; blocks until they are computed. Throws what
  // the engine throws.
  std::vector<Embedding> embed(const Image& image, const std::vector<Face>& faces);

  struct Stats {
    std::int64_t calls = 0;     // network calls (batches)
    std::int64_t requests = 0;  // embed() calls served
    std::int64_t faces = 0;
    double embed_ms = 0.0;      // time in the network calls
  };
  Stats stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace siamface
