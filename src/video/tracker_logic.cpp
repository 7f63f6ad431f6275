#include "video/tracker_logic.hpp"

#include <algorithm>
#include <cmath>
#include <set>

namespace siamface::tracking {

Association associate_by_iou(const std::vector<Box>& track_boxes, const std::vector<Box>& face_boxes,
                             float min_iou) {
  struct Pair {
    float iou;
    std::size_t track;
    std::size_t face;
  };
  std::vector<Pair> pairs;
  for (std::size_t t = 0; t < track_boxes.size(); ++t)
    for (std::size_t f = 0; f < face_boxes.size(); ++f) {
      const float iou = intersection_over_union(track_boxes[t], face_boxes[f]);
      if (iou >= min_iou) pairs.push_back({iou, t, f});
    }
  std::sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) { return a.iou > b.iou; });
  Association out{std::vector<int>(face_boxes.size(), kNoTrack), std::vector<bool>(track_boxes.size(), false)};
  for (const Pair& pair : pairs) {
    if (out.track_matched[pair.track] || out.face_track[pair.face] != kNoTrack) continue;
    out.track_matched[pair.track] = true;
    out.face_track[pair.face] = static_cast<int>(pair.track);
  }
  return out;
}

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

bool looks_changed(const Thumbnail& before, const Thumbnail& now, float min_correlation) {
  return correlation(before, now) < min_correlation;
}

float view_quality(const Face& face) {
  const FaceQuality& q = face.quality;
  return std::min(q.face_size_px, 200.0F) * std::sqrt(std::max(q.sharpness, 1.0F)) *
         (1.0F - std::min(std::abs(q.yaw), 0.9F));
}

bool needs_embedding(const EmbeddingHistory& track, const Face& face, const TrackerOptions& options) {
  if (!track.has_embedding || track.total_votes < options.min_votes || track.changed_look) return true;
  if (track.rounds_since_embed >= options.verify_every) return true;
  if (face.box.area() > track.embedded_area * options.regrow_ratio) return true;
  return view_quality(face) > track.embedded_quality * options.quality_gain;
}

Reassignment split_and_reidentify(Association association, const std::vector<std::size_t>& view_face,
                                  const std::vector<bool>& track_has_embedding, const ViewTrackDistance& distance,
                                  float split_distance, float max_reid_distance) {
  Reassignment out{std::move(association), std::vector<bool>(track_has_embedding.size(), false), {}};
  std::vector<int>& face_track = out.association.face_track;
  std::vector<bool>& track_matched = out.association.track_matched;
  // Splits first, for every view, so a split track is never a re-identification candidate.
  for (std::size_t v = 0; v < view_face.size(); ++v) {
    const int t = face_track[view_face[v]];
    if (t != kNoTrack && track_has_embedding[t] && distance(v, t) > split_distance) {
      out.track_split[t] = true;
      face_track[view_face[v]] = kNoTrack;
    }
  }
  for (std::size_t v = 0; v < view_face.size(); ++v) {
    const std::size_t f = view_face[v];
    if (face_track[f] != kNoTrack) continue;
    int best = kNoTrack;
    float best_distance = max_reid_distance;
    for (std::size_t t = 0; t < track_has_embedding.size(); ++t) {
      if (track_matched[t] || out.track_split[t] || !track_has_embedding[t]) continue;
      const float d = distance(v, t);
      if (d < best_distance) {
        best_distance = d;
        best = static_cast<int>(t);
      }
    }
    if (best != kNoTrack) {
      track_matched[best] = true;
      face_track[f] = best;
    } else {
      out.new_views.push_back(v);
    }
  }
  return out;
}

std::vector<int> reindex_after_removal(std::vector<int> face_track, const std::vector<bool>& removed) {
  std::vector<int> new_index(removed.size(), kNoTrack);
  int next = 0;
  for (std::size_t t = 0; t < removed.size(); ++t)
    if (!removed[t]) new_index[t] = next++;
  for (int& t : face_track)
    if (t != kNoTrack) t = new_index[t];
  return face_track;
}

void Vote::add(float distance) {
  ++count;
  distance_sum += distance;
  best_distance = std::min(best_distance, distance);
}

std::optional<Ballot> ballot_for(const IdentifiedFace& face, float unknown_confidence_margin) {
  const float distance = face.top.empty() ? 0.0F : face.decision.distance;
  if (face.decision.known) return Ballot{face.decision.person, distance};
  if (face.top.empty() || face.decision.distance > face.decision.threshold + unknown_confidence_margin)
    return Ballot{kUnknownPerson, distance};
  return std::nullopt;
}

std::vector<std::optional<NameChoice>> choose_names(const std::vector<TrackVotes>& tracks) {
  struct Claim {
    std::size_t track;
    std::string name;
    int count;
    float mean;
  };
  std::vector<Claim> claims;
  for (std::size_t t = 0; t < tracks.size(); ++t)
    for (const auto& [name, vote] : *tracks[t].votes) claims.push_back({t, name, vote.count, vote.mean()});
  std::sort(claims.begin(), claims.end(), [](const Claim& a, const Claim& b) {
    if (a.count != b.count) return a.count > b.count;
    return a.mean < b.mean;
  });
  std::vector<std::optional<NameChoice>> chosen(tracks.size());
  std::set<std::string> taken;
  for (const Claim& claim : claims) {
    if (chosen[claim.track]) continue;
    const bool shared = claim.name == kUnknownPerson;
    if (!shared && taken.count(claim.name)) continue;
    chosen[claim.track] = NameChoice{claim.name, claim.mean};
    if (!shared) taken.insert(claim.name);
  }
  for (std::size_t t = 0; t < tracks.size(); ++t)
    if (!chosen[t] && !tracks[t].votes->empty()) chosen[t] = NameChoice{kUnknownPerson, tracks[t].nearest_distance};
  return chosen;
}

LivenessGate liveness_gate(bool check_enabled, const std::optional<LivenessEstimate>& verdict) {
  if (!check_enabled) return LivenessGate::kOpen;
  if (!verdict) return LivenessGate::kPending;
  return verdict->verdict == LivenessVerdict::kLive ? LivenessGate::kOpen : LivenessGate::kSpoof;
}

}  // namespace siamface::tracking
