#include "siamface/tracker.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "siamface/errors.hpp"

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

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// One number for "how good is this view for recognition": bigger, sharper, more frontal.
float view_quality(const Face& face) {
  const FaceQuality& q = face.quality;
  return std::min(q.face_size_px, 200.0F) * std::sqrt(std::max(q.sharpness, 1.0F)) *
         (1.0F - std::min(std::abs(q.yaw), 0.9F));
}

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

constexpr int kThumbSide = 16;
using Thumbnail = std::array<float, kThumbSide * kThumbSide>;

// The box's luminance sampled on a 16x16 grid, zero mean and unit norm: a cheap "is this still
// the same picture" check between detections.
Thumbnail thumbnail(const Image& frame, const Box& box) {
  Thumbnail out{};
  float sum = 0.0F;
  for (int gy = 0; gy < kThumbSide; ++gy)
    for (int gx = 0; gx < kThumbSide; ++gx) {
      const int x = std::clamp(static_cast<int>(box.left + (gx + 0.5F) * box.width / kThumbSide), 0, frame.width - 1);
      const int y = std::clamp(static_cast<int>(box.top + (gy + 0.5F) * box.height / kThumbSide), 0, frame.height - 1);
      const auto* p = frame.bgr.data() + (static_cast<std::size_t>(y) * frame.width + x) * 3;
      const float luma = 0.114F * p[0] + 0.587F * p[1] + 0.299F * p[2];
      out[gy * kThumbSide + gx] = luma;
      sum += luma;
    }
  const float mean = sum / out.size();
  float norm = 0.0F;
  for (float& v : out) {
    v -= mean;
    norm += v * v;
  }
  norm = std::sqrt(norm);
  if (norm > 1e-3F)
    for (float& v : out) v /= norm;
  return out;
}

float correlation(const Thumbnail& a, const Thumbnail& b) {
  float dot = 0.0F;
  for (std::size_t i = 0; i < a.size(); ++i) dot += a[i] * b[i];
  return dot;
}

struct Vote {
  int count = 0;
  float distance_sum = 0.0F;
  float best_distance = std::numeric_limits<float>::infinity();
  float mean() const { return count ? distance_sum / count : 0.0F; }
};

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
  bool split = false;         // this round showed someone else: end it
  float embedded_area = 0.0F;
  float embedded_quality = 0.0F;

  std::map<std::string, Vote> votes;
  int total_votes = 0;
  float nearest_distance = std::numeric_limits<float>::infinity();  // to any identity, ever
  bool identified = false;
  std::string name = kUnknownPerson;
  float name_distance = 0.0F;

  float crop_quality = -1.0F;
  Image best_crop;
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

  bool needs_embedding(const Track& track, const Face& face) const {
    if (!track.has_embedding || track.total_votes < options.min_votes || track.changed_look) return true;
    if (track.rounds_since_embed >= options.verify_every) return true;
    if (face.box.area() > track.embedded_area * options.regrow_ratio) return true;
    return view_quality(face) > track.embedded_quality * options.quality_gain;
  }

  std::vector<Embedding> embed_faces(const Image& frame, const std::vector<const Face*>& faces) {
    const auto start = Clock::now();
    std::vector<Embedding> out;
    out.reserve(faces.size());
    for (const Face* face : faces) out.push_back(engine.embed(frame, *face, options.identify.pipeline.chip));
    stats.embeddings += static_cast<std::int64_t>(faces.size());
    stats.embed_ms += ms_since(start);
    return out;
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
      std::string name;
      if (face.decision.known) {
        name = face.decision.person;
      } else if (face.top.empty() ||
                 face.decision.distance > face.decision.threshold + options.unknown_confidence_margin) {
        name = kUnknownPerson;
      } else {
        continue;  // too close to call: no vote
      }
      Vote& vote = track.votes[name];
      const float distance = face.top.empty() ? 0.0F : face.decision.distance;
      ++vote.count;
      vote.distance_sum += distance;
      vote.best_distance = std::min(vote.best_distance, distance);
      ++track.total_votes;
    }
    stats.identify_ms += ms_since(start);
  }

  // Every live track takes its best-voted name that no track with a stronger claim holds;
  // "unknown" is never taken. Emits identified / identity_changed events.
  void resolve_names(std::vector<TrackEvent>& events) {
    struct Claim {
      std::size_t track;
      std::string name;
      int count;
      float mean;
    };
    std::vector<Claim> claims;
    for (std::size_t t = 0; t < tracks.size(); ++t)
      for (const auto& [name, vote] : tracks[t].votes) claims.push_back({t, name, vote.count, vote.mean()});
    std::sort(claims.begin(), claims.end(), [](const Claim& a, const Claim& b) {
      if (a.count != b.count) return a.count > b.count;
      return a.mean < b.mean;
    });
    std::vector<int> chosen(tracks.size(), -1);
    std::set<std::string> taken;
    for (std::size_t c = 0; c < claims.size(); ++c) {
      const Claim& claim = claims[c];
      if (chosen[claim.track] >= 0) continue;
      if (claim.name != kUnknownPerson && taken.count(claim.name)) continue;
      chosen[claim.track] = static_cast<int>(c);
      if (claim.name != kUnknownPerson) taken.insert(claim.name);
    }
    for (std::size_t t = 0; t < tracks.size(); ++t) {
      Track& track = tracks[t];
      if (track.total_votes == 0) continue;
      const std::string name = chosen[t] >= 0 ? claims[chosen[t]].name : std::string(kUnknownPerson);
      const float distance = chosen[t] >= 0 ? claims[chosen[t]].mean : track.nearest_distance;
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
    const std::vector<Face> faces = engine.detect(frame, options.identify.pipeline);
    stats.detect_ms += ms_since(start);
    ++stats.detect_frames;

    start = Clock::now();
    // Greedy association by IoU, best pairs first (few faces per frame: greedy equals
    // Hungarian in practice and is simpler to reason about).
    struct Pair {
      float iou;
      std::size_t track;
      std::size_t face;
    };
    std::vector<Pair> pairs;
    for (std::size_t t = 0; t < tracks.size(); ++t)
      for (std::size_t f = 0; f < faces.size(); ++f) {
        const float iou = intersection_over_union(tracks[t].box, faces[f].box);
        if (iou >= options.min_iou) pairs.push_back({iou, t, f});
      }
    std::sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) { return a.iou > b.iou; });
    std::vector<int> face_track(faces.size(), -1);
    std::vector<bool> track_matched(tracks.size(), false);
    for (const Pair& pair : pairs) {
      if (track_matched[pair.track] || face_track[pair.face] >= 0) continue;
      track_matched[pair.track] = true;
      face_track[pair.face] = static_cast<int>(pair.track);
    }
    for (Track& track : tracks) track.detected_now = false;
    std::vector<Thumbnail> thumbs(faces.size());
    for (std::size_t f = 0; f < faces.size(); ++f) {
      thumbs[f] = thumbnail(frame, faces[f].box);
      if (face_track[f] < 0) continue;
      Track& track = tracks[face_track[f]];
      track.changed_look = correlation(track.thumb, thumbs[f]) < options.min_thumbnail_correlation;
      ++track.rounds_since_embed;
    }
    stats.track_ms += ms_since(start);

    // New faces are embedded first: the embedding may re-attach them to a lost track.
    std::vector<const Face*> to_embed;
    std::vector<std::size_t> to_embed_face;
    for (std::size_t f = 0; f < faces.size(); ++f) {
      const int t = face_track[f];
      if (t < 0 || needs_embedding(tracks[t], faces[f])) {
        to_embed.push_back(&faces[f]);
        to_embed_face.push_back(f);
      }
    }
    const std::vector<Embedding> embeddings = embed_faces(frame, to_embed);

    start = Clock::now();
    std::vector<std::size_t> new_faces;  // indexes into to_embed
    // A matched face that embeds far from its track is someone else (a cut): split.
    for (std::size_t e = 0; e < to_embed.size(); ++e) {
      const int t = face_track[to_embed_face[e]];
      if (t >= 0 && tracks[t].has_embedding &&
          euclidean_distance(tracks[t].embedding, embeddings[e]) > options.split_distance) {
        tracks[t].split = true;
        face_track[to_embed_face[e]] = -1;
      }
    }
    for (std::size_t e = 0; e < to_embed.size(); ++e) {
      const std::size_t f = to_embed_face[e];
      if (face_track[f] >= 0) continue;
      // Re-identification: the nearest unmatched track by embedding.
      int best = -1;
      float best_distance = options.max_reid_distance;
      for (std::size_t t = 0; t < tracks.size(); ++t) {
        if (track_matched[t] || tracks[t].split || !tracks[t].has_embedding) continue;
        const float d = euclidean_distance(tracks[t].embedding, embeddings[e]);
        if (d < best_distance) {
          best_distance = d;
          best = static_cast<int>(t);
        }
      }
      if (best >= 0) {
        track_matched[best] = true;
        face_track[f] = best;
      } else {
        new_faces.push_back(e);
      }
    }
    for (std::size_t f = 0; f < faces.size(); ++f)
      if (face_track[f] >= 0) {
        update_from_detection(tracks[face_track[f]], faces[f], frame_index);
        tracks[face_track[f]].thumb = thumbs[f];
      }

    // Unmatched tracks: lost for one more round; end those lost too long.
    for (std::size_t t = 0; t < tracks.size();) {
      const bool lost = !tracks[t].split && !track_matched[t] && ++tracks[t].missed > options.max_missed;
      if (tracks[t].split || lost) {
        events.push_back(ended_event(tracks[t]));
        tracks.erase(tracks.begin() + static_cast<std::ptrdiff_t>(t));
        track_matched.erase(track_matched.begin() + static_cast<std::ptrdiff_t>(t));
        for (int& ft : face_track) {
          if (ft == static_cast<int>(t)) ft = -1;
          else if (ft > static_cast<int>(t)) --ft;
        }
        continue;
      }
      ++t;
    }

    // Store embeddings on their tracks (new tracks are created now) and collect the views to vote on.
    std::vector<std::size_t> embed_track(to_embed.size());
    for (std::size_t e : new_faces) {
      start_track(*to_embed[e], embeddings[e], thumbs[to_embed_face[e]], frame_index, timestamp_s, events);
      face_track[to_embed_face[e]] = static_cast<int>(tracks.size() - 1);
    }
    std::vector<Track*> voters;
    std::vector<FaceEmbedding> views;
    for (std::size_t e = 0; e < to_embed.size(); ++e) {
      const Face& face = *to_embed[e];
      Track& track = tracks[face_track[to_embed_face[e]]];
      track.has_embedding = true;
      track.embedding = embeddings[e];
      track.rounds_since_embed = 0;
      track.embedded_area = face.box.area();
      track.embedded_quality = view_quality(face);
      voters.push_back(&track);
      views.push_back({face, embeddings[e]});
    }
    if (options.keep_best_crop) {
      for (std::size_t f = 0; f < faces.size(); ++f) {
        Track& track = tracks[face_track[f]];
        const float quality = view_quality(faces[f]);
        if (quality > track.crop_quality) {
          track.crop_quality = quality;
          track.best_crop = crop_face(frame, faces[f].box);
        }
      }
    }
    stats.track_ms += ms_since(start);
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
