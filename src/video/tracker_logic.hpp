// The pure decisions of FaceTracker (src/video/face_tracker.cpp): which detection continues which
// track, when a face's picture changed (a cut), when a face needs a new embedding, when a track
// shows someone else or a lost one comes back, and which name each track carries by vote.
// No models and no OpenCV: boxes, thumbnails, distances and decisions in, indexes and names out,
// so tests/unit/tracker_logic_test.cpp checks them with synthetic inputs.
// Thread safety: pure functions (Vote::add mutates only its own object).
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "siamface/identify.hpp"
#include "siamface/tracker.hpp"
#include "siamface/types.hpp"

namespace siamface::tracking {

inline constexpr int kNoTrack = -1;

// ---- Association -------------------------------------------------------------------------

struct Association {
  std::vector<int> face_track;      // per detection: the index of the track it continues, or kNoTrack
  std::vector<bool> track_matched;  // per track: some detection continues it
};

// Greedy by IoU, best pairs first; a pair below `min_iou` never matches. With few faces per
// frame greedy equals Hungarian in practice and is simpler to reason about.
Association associate_by_iou(const std::vector<Box>& track_boxes, const std::vector<Box>& face_boxes,
                             float min_iou);

// ---- Cut detection -----------------------------------------------------------------------

inline constexpr int kThumbSide = 16;
using Thumbnail = std::array<float, kThumbSide * kThumbSide>;

// The box's luminance sampled on a 16x16 grid, zero mean and unit norm (all zeros for a flat
// patch): a cheap "is this still the same picture" check between detections.
Thumbnail thumbnail(const Image& frame, const Box& box);

// Dot product of two thumbnails: 1 for the same picture (under any brightness or contrast
// change), near 0 for unrelated ones.
float correlation(const Thumbnail& a, const Thumbnail& b);

// A scene cut or an occlusion: the face's thumbnail no longer correlates with the track's last one.
bool looks_changed(const Thumbnail& before, const Thumbnail& now, float min_correlation);

// ---- Embedding choice --------------------------------------------------------------------

// One number for "how good is this view for recognition": bigger, sharper, more frontal.
float view_quality(const Face& face);

// What needs_embedding knows of a matched track.
struct EmbeddingHistory {
  bool has_embedding = false;
  int total_votes = 0;
  bool changed_look = false;    // this round's thumbnail no longer matches the last one
  int rounds_since_embed = 0;   // detection rounds since the last embedding, this one included
  float embedded_area = 0.0F;   // box area of the last embedded view
  float embedded_quality = 0.0F;  // view_quality of the last embedded view
};

// Whether a matched face must be embedded this round: too few votes, a changed look, a periodic
// check, or a clearly larger or better view than the one last embedded.
bool needs_embedding(const EmbeddingHistory& track, const Face& face, const TrackerOptions& options);

// ---- Splits and re-identification --------------------------------------------------------

// Distance between the embedding of view `view` (this round) and track `track`'s last embedding.
using ViewTrackDistance = std::function<float(std::size_t view, std::size_t track)>;

struct Reassignment {
  Association association;         // after splits and re-attachments
  std::vector<bool> track_split;   // per track: its face embedded as someone else; end the track
  std::vector<std::size_t> new_views;  // views (indexes into view_face) that start new tracks
};

// Applied to this round's embedded views (`view_face[v]`: the detection view v embeds):
// 1. a view matched by IoU to a track with an embedding farther than `split_distance` is someone
//    else (a cut): the track is split and the view is unmatched;
// 2. every unmatched view re-attaches to the nearest track that is unmatched, not split and has an
//    embedding, if nearer than `max_reid_distance`; else it starts a new track.
// `distance` is only asked about tracks with an embedding.
Reassignment split_and_reidentify(Association association, const std::vector<std::size_t>& view_face,
                                  const std::vector<bool>& track_has_embedding, const ViewTrackDistance& distance,
                                  float split_distance, float max_reid_distance);

// Face-to-track indexes once the tracks marked in `removed` are erased: a face on a removed
// track gets kNoTrack, the others follow their track's new index.
std::vector<int> reindex_after_removal(std::vector<int> face_track, const std::vector<bool>& removed);

// ---- Identity by vote --------------------------------------------------------------------

struct Vote {
  int count = 0;
  float distance_sum = 0.0F;
  float best_distance = std::numeric_limits<float>::infinity();

  float mean() const { return count ? distance_sum / count : 0.0F; }
  void add(float distance);
};

using VoteTally = std::map<std::string, Vote>;  // name (or kUnknownPerson) -> its votes

struct Ballot {
  std::string name;
  float distance = 0.0F;
};

// One frame's decision as a vote: a known name; kUnknownPerson when the gallery had nothing or
// the nearest identity is at least `unknown_confidence_margin` above the threshold (distance 0
// when there was nothing to compare); nullopt when it is too close to call.
std::optional<Ballot> ballot_for(const IdentifiedFace& face, float unknown_confidence_margin);

struct NameChoice {
  std::string name;
  float distance = 0.0F;  // mean distance of the winning votes; nearest_distance for a fallback "unknown"
};

struct TrackVotes {
  const VoteTally* votes = nullptr;  // never null
  float nearest_distance = std::numeric_limits<float>::infinity();  // to any identity, ever
};

// Per track (same order): its best-voted name that no track with a stronger claim (more votes,
// then a smaller mean distance) holds. kUnknownPerson may be shared; a track whose every name
// went to stronger claims is kUnknownPerson at its nearest_distance. nullopt: no votes yet.
std::vector<std::optional<NameChoice>> choose_names(const std::vector<TrackVotes>& tracks);

// ---- Liveness ----------------------------------------------------------------------------

enum class LivenessGate {
  kOpen,     // the track may carry the name its votes give
  kPending,  // the check is on and too few frames were judged: no name yet
  kSpoof,    // judged a spoof: no name
};

// With the check off every track is open; on, a track is open only once its LivenessVote's
// verdict (nullopt until enough frames) says live.
LivenessGate liveness_gate(bool check_enabled, const std::optional<LivenessEstimate>& verdict);

}  // namespace siamface::tracking
