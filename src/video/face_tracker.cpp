#include "siamface/tracker.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "siamface/errors.hpp"
#include "util/elapsed.hpp"
#include "video/tracker_logic.hpp"

namespace siamface {

const char* to_string(TrackEventKind kind) {
  switch (kind) {
    case TrackEventKind::kAppeared: return "appeared";
    case TrackEventKind::kIdentified: return "identified";
    case TrackEventKind::kIdentityChanged: return "identity_changed";
    case TrackEventKind::kEnded: return "ended";
  }
  return "?";
}

namespace {

using tracking::Association;
using tracking::kNoTrack;
using tracking::Thumbnail;
using tracking::view_quality;
using Clock = std::chrono::steady_clock;

// The box grown by 25% a side, clipped to the frame, copied out.
Image crop_face(const Image& frame, const Box& box) {
  const float pad_x = box.width * 0.25F;
  const float pad_y = box.height * 0.25F;
  const int left = std::clamp(static_cast<int>(box.left - pad_x), 0, frame.width - 1);
  const int top = std::clamp(static_cast<int>(box.top - pad_y), 0, frame.height - 1);
  const int right = std::clamp(static_cast<int>(box.right() + pad_x), left + 1, frame.width);
  const int bottom = std::clamp(static_cast<int>(box.bottom() + pad_y), top + 1, frame.height);
  Image crop;
  crop.width = right - left;
  crop.height = bottom - top;
  crop.bgr.resize(static_cast<std::size_t>(crop.width) * crop.height * 3);
  for (int y = 0; y < crop.height; ++y) {
    const auto* src = frame.bgr.data() + (static_cast<std::size_t>(top + y) * frame.width + left) * 3;
    std::copy(src, src + static_cast<std::size_t>(crop.width) * 3,
              crop.bgr.data() + static_cast<std::size_t>(y) * crop.width * 3);
  }
  return crop;
}

struct Track {
  int id = 0;
  Box box;
  Point detected_center;
  Box detected_box;
  std::int64_t detected_frame = 0;
  float velocity_x = 0.0F;  // px per frame, from the last two detections
  float velocity_y = 0.0F;
  int missed = 0;
  bool detected_now = false;

  std::int64_t first_frame = 0;
  double first_timestamp_s = 0.0;
  double last_timestamp_s = 0.0;
  std::int64_t frame_count = 0;

  bool has_embedding = false;
  Embedding embedding{};
  int rounds_since_embed = 0;
  Thumbnail thumb{};
  bool changed_look = false;  // this round's thumbnail no longer matches the last one
  float embedded_area = 0.0F;
  float embedded_quality = 0.0F;

  tracking::VoteTally votes;
  int total_votes = 0;
  float nearest_distance = std::numeric_limits<float>::infinity();  // to any identity, ever
  bool identified = false;
  std::string name = kUnknownPerson;
  float name_distance = 0.0F;

  float crop_quality = -1.0F;
  Image best_crop;

  std::optional<LivenessVote> liveness;  // with the liveness check on

  std::optional<LivenessEstimate> liveness_verdict() const {
    return liveness ? liveness->verdict() : std::nullopt;
  }

  tracking::EmbeddingHistory embedding_history() const {
    return {has_embedding, total_votes, changed_look, rounds_since_embed, embedded_area, embedded_quality};
  }
};

}  // namespace

struct FaceTracker::Impl {
  Engine engine;
  const Gallery* gallery;
  TrackerOptions options;
  TrackerStats stats;
  std::vector<Track> tracks;
  int next_id = 1;
  std::int64_t frames_since_detect = std::numeric_limits<int>::max();
  std::int64_t last_frame = -1;
  double last_timestamp_s = 0.0;

  Impl(const Engine& e, const Gallery* g, const TrackerOptions& o) : engine(e), gallery(g), options(o) {}

  TrackEvent base_event(TrackEventKind kind, const Track& track) const {
    TrackEvent event;
    event.kind = kind;
    event.track_id = track.id;
    event.frame = last_frame;
    event.timestamp_s = last_timestamp_s;
    event.box = track.box;
    event.name = track.name;
    event.liveness = track.liveness_verdict();
    return event;
  }

  TrackEvent ended_event(Track& track) const {
    TrackEvent event = base_event(TrackEventKind::kEnded, track);
    event.first_timestamp_s = track.first_timestamp_s;
    event.last_timestamp_s = track.last_timestamp_s;
    event.frame_count = track.frame_count;
    const auto vote = track.votes.find(track.name);
    if (!track.has_embedding) {
      event.best_distance = -1.0F;
    } else if (track.name != kUnknownPerson && vote != track.votes.end()) {
      event.best_distance = vote->second.best_distance;
    } else {
      event.best_distance = std::isfinite(track.nearest_distance) ? track.nearest_distance : -1.0F;
    }
    event.best_crop = std::move(track.best_crop);
    return event;
  }

  void start_track(const Face& face, const Embedding& embedding, const Thumbnail& thumb, std::int64_t frame,
                   double timestamp_s, std::vector<TrackEvent>& events) {
    Track track;
    track.id = next_id++;
    track.box = face.box;
    track.detected_center = face.box.center();
    track.detected_box = face.box;
    track.detected_frame = frame;
    track.detected_now = true;
    track.first_frame = frame;
    track.first_timestamp_s = timestamp_s;
    track.last_timestamp_s = timestamp_s;
    track.has_embedding = true;
    track.embedding = embedding;
    track.thumb = thumb;
    track.embedded_area = face.box.area();
    track.embedded_quality = view_quality(face);
    if (options.identify.liveness.enabled) {
      track.liveness.emplace(options.identify.liveness.threshold.value_or(default_liveness_threshold()),
                             options.liveness_frames);
    }
    events.push_back(base_event(TrackEventKind::kAppeared, track));
    tracks.push_back(std::move(track));
    ++stats.tracks;
  }

  void update_from_detection(Track& track, const Face& face, std::int64_t frame) {
    if (track.missed == 0 && frame - track.detected_frame > 1) {
      ++stats.propagation_checks;
      stats.propagated_iou_sum += intersection_over_union(track.box, face.box);
      stats.kept_iou_sum += intersection_over_union(track.detected_box, face.box);
    }
    track.detected_box = face.box;
    const Point center = face.box.center();
    const float frames = static_cast<float>(std::max<std::int64_t>(1, frame - track.detected_frame));
    if (track.missed == 0) {
      track.velocity_x = (center.x - track.detected_center.x) / frames;
      track.velocity_y = (center.y - track.detected_center.y) / frames;
    } else {
      track.velocity_x = track.velocity_y = 0.0F;
    }
    track.box = face.box;
    track.detected_center = center;
    track.detected_frame = frame;
    track.missed = 0;
    track.detected_now = true;
  }

  // Detections that need an embedding this round: every unmatched one (the embedding may
  // re-attach it to a lost track, else it starts one) and the matched ones whose track asks.
  std::vector<std::size_t> faces_to_embed(const std::vector<Face>& faces, const std::vector<int>& face_track) const {
    std::vector<std::size_t> out;
    for (std::size_t f = 0; f < faces.size(); ++f) {
      const int t = face_track[f];
      if (t == kNoTrack || tracking::needs_embedding(tracks[t].embedding_history(), faces[f], options)) out.push_back(f);
    }
    return out;
  }

  std::vector<Embedding> embed_faces(const Image& frame, const std::vector<Face>& faces,
                                     const std::vector<std::size_t>& which) {
    const auto start = Clock::now();
    std::vector<Embedding> out;
    out.reserve(which.size());
    if (options.embedding_queue && !which.empty()) {
      std::vector<Face> chosen;
      for (std::size_t f : which) chosen.push_back(faces[f]);
      out = options.embedding_queue->embed(frame, chosen);
    } else {
      for (std::size_t f : which) out.push_back(engine.embed(frame, faces[f], options.identify.pipeline.chip));
    }
    stats.embeddings += static_cast<std::int64_t>(which.size());
    stats.embed_ms += ms_since(start);
    return out;
  }

  // Each face's thumbnail; a matched track notes whether its look changed and one more round.
  std::vector<Thumbnail> note_looks(const Image& frame, const std::vector<Face>& faces,
                                    const std::vector<int>& face_track) {
    for (Track& track : tracks) track.detected_now = false;
    std::vector<Thumbnail> thumbs(faces.size());
    for (std::size_t f = 0; f < faces.size(); ++f) {
      thumbs[f] = tracking::thumbnail(frame, faces[f].box);
      if (face_track[f] == kNoTrack) continue;
      Track& track = tracks[face_track[f]];
      track.changed_look = tracking::looks_changed(track.thumb, thumbs[f], options.min_thumbnail_correlation);
      ++track.rounds_since_embed;
    }
    return thumbs;
  }

  // Ends split tracks and unmatched ones past max_missed rounds (an unmatched track that stays
  // counts one more miss); returns the face-to-track indexes over the remaining tracks.
  std::vector<int> end_tracks(const tracking::Reassignment& round, std::vector<TrackEvent>& events) {
    std::vector<bool> ended(tracks.size(), false);
    std::vector<Track> kept;
    kept.reserve(tracks.size());
    for (std::size_t t = 0; t < tracks.size(); ++t) {
      const bool split = round.track_split[t];
      ended[t] = split || (!round.association.track_matched[t] && ++tracks[t].missed > options.max_missed);
      if (ended[t]) {
        events.push_back(ended_event(tracks[t]));
      } else {
        kept.push_back(std::move(tracks[t]));
      }
    }
    tracks = std::move(kept);
    return tracking::reindex_after_removal(round.association.face_track, ended);
  }

  void store_embedding(Track& track, const Face& face, const Embedding& embedding) {
    track.has_embedding = true;
    track.embedding = embedding;
    track.rounds_since_embed = 0;
    track.embedded_area = face.box.area();
    track.embedded_quality = view_quality(face);
  }

  // Every face has a track by now: keep its sharpest, largest view.
  void keep_best_crops(const Image& frame, const std::vector<Face>& faces, const std::vector<int>& face_track) {
    for (std::size_t f = 0; f < faces.size(); ++f) {
      Track& track = tracks[face_track[f]];
      const float quality = view_quality(faces[f]);
      if (quality > track.crop_quality) {
        track.crop_quality = quality;
        track.best_crop = crop_face(frame, faces[f].box);
      }
    }
  }

  // Adds one vote per embedded view, from decisions made together for the whole frame.
  void vote(const std::vector<Track*>& embedded, const std::vector<FaceEmbedding>& views) {
    if (embedded.empty()) return;
    const auto start = Clock::now();
    std::vector<IdentifiedFace> identified;
    // An empty gallery decides "unknown" as the else branch does; asking the index, not the
    // database, keeps a PostgreSQL gallery's outage from stopping the video.
    if (gallery != nullptr) {
      identified = identify_faces(*gallery, engine.model_info(), views, options.identify);
    } else {
      identified.resize(views.size());
    }
    for (std::size_t i = 0; i < embedded.size(); ++i) {
      Track& track = *embedded[i];
      const IdentifiedFace& face = identified[i];
      if (!face.top.empty()) track.nearest_distance = std::min(track.nearest_distance, face.top.front().distance);
      const std::optional<tracking::Ballot> ballot = tracking::ballot_for(face, options.unknown_confidence_margin);
      if (!ballot) continue;  // too close to call: no vote
      track.votes[ballot->name].add(ballot->distance);
      ++track.total_votes;
    }
    stats.identify_ms += ms_since(start);
  }

  // One liveness judgement per detected face of a track (the check on), added to its vote.
  void judge_liveness(const Image& frame, const std::vector<Face>& faces, const std::vector<int>& face_track) {
    if (!options.identify.liveness.enabled) return;
    const auto start = Clock::now();
    AnalyzeOptions analyze;
    analyze.attributes.liveness = true;
    analyze.pipeline = options.identify.pipeline;
    analyze.liveness_threshold = options.identify.liveness.threshold;
    for (std::size_t f = 0; f < faces.size(); ++f) {
      Track& track = tracks[face_track[f]];
      const std::optional<LivenessEstimate> estimate = analyze_face(engine, frame, faces[f], analyze).liveness;
      if (estimate && track.liveness) track.liveness->add(estimate->score);
    }
    stats.liveness_ms += ms_since(start);
  }

  // Names every live track by vote (tracking::choose_names); emits identified / identity_changed.
  // With the liveness check on, a track not judged live yet claims no name (an empty tally).
  void resolve_names(std::vector<TrackEvent>& events) {
    static const tracking::VoteTally kNoVotes;
    std::vector<tracking::LivenessGate> gates;
    std::vector<tracking::TrackVotes> ballots;
    ballots.reserve(tracks.size());
    for (const Track& track : tracks) {
      gates.push_back(tracking::liveness_gate(options.identify.liveness.enabled, track.liveness_verdict()));
      const bool open = gates.back() == tracking::LivenessGate::kOpen;
      ballots.push_back({open ? &track.votes : &kNoVotes, track.nearest_distance});
    }
    const std::vector<std::optional<tracking::NameChoice>> choices = tracking::choose_names(ballots);
    for (std::size_t t = 0; t < tracks.size(); ++t) {
      Track& track = tracks[t];
      std::optional<tracking::NameChoice> choice = choices[t];
      if (gates[t] == tracking::LivenessGate::kSpoof) {
        const float nearest = std::isfinite(track.nearest_distance) ? track.nearest_distance : 0.0F;
        choice = tracking::NameChoice{kUnknownPerson, nearest};
      }
      if (!choice) continue;  // no votes yet, or not judged live yet
      const std::string& name = choice->name;
      const float distance = choice->distance;
      if (!track.identified) {
        track.identified = true;
        track.name = name;
        track.name_distance = distance;
        TrackEvent event = base_event(TrackEventKind::kIdentified, track);
        event.distance = distance;
        events.push_back(std::move(event));
      } else if (name != track.name) {
        TrackEvent event = base_event(TrackEventKind::kIdentityChanged, track);
        event.previous_name = track.name;
        event.name = name;
        event.distance = distance;
        track.name = name;
        events.push_back(std::move(event));
      }
      track.name_distance = distance;
    }
  }

  void detect_round(const Image& frame, std::int64_t frame_index, double timestamp_s,
                    std::vector<TrackEvent>& events) {
    auto start = Clock::now();
    std::vector<Face> faces = engine.detect(frame, options.identify.pipeline);
    if (options.min_face_px > 0) {
      std::erase_if(faces, [&](const Face& f) { return std::min(f.box.width, f.box.height) < options.min_face_px; });
    }
    stats.detect_ms += ms_since(start);
    ++stats.detect_frames;

    start = Clock::now();
    std::vector<Box> track_boxes;
    for (const Track& track : tracks) track_boxes.push_back(track.box);
    std::vector<Box> face_boxes;
    for (const Face& face : faces) face_boxes.push_back(face.box);
    Association association = tracking::associate_by_iou(track_boxes, face_boxes, options.min_iou);
    const std::vector<Thumbnail> thumbs = note_looks(frame, faces, association.face_track);
    stats.track_ms += ms_since(start);

    const std::vector<std::size_t> view_face = faces_to_embed(faces, association.face_track);
    const std::vector<Embedding> embeddings = embed_faces(frame, faces, view_face);

    // Splits, re-identification, then the tracks that end and the ones that start.
    start = Clock::now();
    std::vector<bool> has_embedding;
    for (const Track& track : tracks) has_embedding.push_back(track.has_embedding);
    const tracking::Reassignment round = tracking::split_and_reidentify(
        std::move(association), view_face, has_embedding,
        [&](std::size_t view, std::size_t track) { return euclidean_distance(tracks[track].embedding, embeddings[view]); },
        options.split_distance, options.max_reid_distance);
    for (std::size_t f = 0; f < faces.size(); ++f)
      if (const int t = round.association.face_track[f]; t != kNoTrack) {
        update_from_detection(tracks[t], faces[f], frame_index);
        tracks[t].thumb = thumbs[f];
      }
    std::vector<int> face_track = end_tracks(round, events);
    for (std::size_t view : round.new_views) {
      const std::size_t f = view_face[view];
      start_track(faces[f], embeddings[view], thumbs[f], frame_index, timestamp_s, events);
      face_track[f] = static_cast<int>(tracks.size() - 1);
    }

    // Each embedded view now belongs to a track: store it there and vote with it.
    std::vector<Track*> voters;
    std::vector<FaceEmbedding> views;
    for (std::size_t view = 0; view < view_face.size(); ++view) {
      Track& track = tracks[face_track[view_face[view]]];
      store_embedding(track, faces[view_face[view]], embeddings[view]);
      voters.push_back(&track);
      views.push_back({faces[view_face[view]], embeddings[view]});
    }
    if (options.keep_best_crop) keep_best_crops(frame, faces, face_track);
    stats.track_ms += ms_since(start);
    judge_liveness(frame, faces, face_track);
    vote(voters, views);
    start = Clock::now();
    resolve_names(events);
    stats.track_ms += ms_since(start);
  }

  void propagate(const Image& frame) {
    for (Track& track : tracks) {
      track.detected_now = false;
      if (track.missed > 0) continue;
      track.box.left = std::clamp(track.box.left + track.velocity_x, -track.box.width / 2,
                                  frame.width - track.box.width / 2);
      track.box.top = std::clamp(track.box.top + track.velocity_y, -track.box.height / 2,
                                 frame.height - track.box.height / 2);
    }
  }
};

FaceTracker::FaceTracker(const Engine& engine, const Gallery* gallery, const TrackerOptions& options)
    : impl_(std::make_unique<Impl>(engine, gallery, options)) {
  if (options.detect_every < 1) throw Error(ErrorCode::kInvalidArgument, "tracker: detect_every must be >= 1");
  if (options.max_missed < 0) throw Error(ErrorCode::kInvalidArgument, "tracker: max_missed must be >= 0");
  if (options.liveness_frames < 1) throw Error(ErrorCode::kInvalidArgument, "tracker: liveness_frames must be >= 1");
  if (gallery != nullptr) {
    // Once, here, not on every frame: a video goes on through a PostgreSQL gallery's outage
    // (vote() asks only the in-memory index), so the saved threshold is read before it starts.
    IdentifyOptions& identify = impl_->options.identify;
    identify.threshold =
        resolve_threshold(*gallery, identify.threshold, identify.rule.threshold, identify.allow_looser_threshold);
    identify.allow_looser_threshold = true;  // resolved: used as given from now on
  }
}

FaceTracker::~FaceTracker() = default;
FaceTracker::FaceTracker(FaceTracker&&) noexcept = default;
FaceTracker& FaceTracker::operator=(FaceTracker&&) noexcept = default;

std::vector<TrackedFace> FaceTracker::process(const Image& frame, std::int64_t frame_index, double timestamp_s,
                                              std::vector<TrackEvent>& events) {
  Impl& s = *impl_;
  if (frame.empty()) throw Error(ErrorCode::kInvalidImage, "tracker: empty frame");
  if (frame_index <= s.last_frame) throw Error(ErrorCode::kInvalidArgument, "tracker: frame indexes must increase");
  s.last_frame = frame_index;
  s.last_timestamp_s = timestamp_s;
  ++s.stats.frames;

  const bool lost = std::any_of(s.tracks.begin(), s.tracks.end(), [](const Track& t) { return t.missed > 0; });
  if (s.frames_since_detect + 1 >= s.options.detect_every || lost) {
    s.detect_round(frame, frame_index, timestamp_s, events);
    s.frames_since_detect = 0;
  } else {
    const auto start = Clock::now();
    s.propagate(frame);
    ++s.frames_since_detect;
    s.stats.track_ms += ms_since(start);
  }

  std::vector<TrackedFace> out;
  for (Track& track : s.tracks) {
    if (track.missed > 0) continue;
    ++track.frame_count;
    track.last_timestamp_s = timestamp_s;
    TrackedFace face;
    face.track_id = track.id;
    face.box = track.box;
    face.detected = track.detected_now;
    face.identified = track.identified;
    face.name = track.name;
    face.known = track.name != kUnknownPerson;
    face.distance = track.identified ? track.name_distance
                                     : (std::isfinite(track.nearest_distance) ? track.nearest_distance : 0.0F);
    face.liveness = track.liveness_verdict();
    out.push_back(std::move(face));
  }
  return out;
}

void FaceTracker::finish(std::vector<TrackEvent>& events) {
  for (Track& track : impl_->tracks) events.push_back(impl_->ended_event(track));
  impl_->tracks.clear();
}

const TrackerStats& FaceTracker::stats() const { return impl_->stats; }
const TrackerOptions& FaceTracker::options() const { return impl_->options; }

}  // namespace siamface
