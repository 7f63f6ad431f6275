// The tracker's pure decisions (src/video/tracker_logic.hpp) on synthetic boxes, pictures,
// distances and decisions: association, cut detection, embedding choice, splits and
// re-identification, and identity voting. No models.
#include "video/tracker_logic.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <utility>

namespace siamface::tracking {
namespace {

Box box_at(float left, float top, float side = 50.0F) { return {left, top, side, side}; }

// ---- Association -------------------------------------------------------------------------

TEST(AssociateByIou, TwoCrossingFacesKeepTheirTracksWhateverTheDetectionOrder) {
  // A walks right, B walks left, mid-crossing: each new detection overlaps both tracks (IoU 0.56
  // with the other one, 0.79 with its own).
  const std::vector<Box> tracks = {box_at(100, 100), box_at(120, 100)};
  const std::vector<Box> faces = {box_at(114, 100), box_at(106, 100)};  // B's detection comes first
  ASSERT_GT(intersection_over_union(tracks[0], faces[0]), 0.3F) << "the crossing case: each face overlaps both tracks";
  ASSERT_GT(intersection_over_union(tracks[1], faces[1]), 0.3F);
  const Association a = associate_by_iou(tracks, faces, 0.3F);
  EXPECT_EQ(a.face_track, (std::vector<int>{1, 0}));
  EXPECT_EQ(a.track_matched, (std::vector<bool>{true, true}));
}

TEST(AssociateByIou, AFaceThatLeftLeavesItsTrackUnmatched) {
  const std::vector<Box> tracks = {box_at(10, 10), box_at(300, 10)};
  const Association a = associate_by_iou(tracks, {box_at(305, 12)}, 0.3F);
  EXPECT_EQ(a.face_track, (std::vector<int>{1}));
  EXPECT_EQ(a.track_matched, (std::vector<bool>{false, true}));
}

TEST(AssociateByIou, ANewFaceEnteringMatchesNoTrack) {
  const std::vector<Box> tracks = {box_at(10, 10)};
  const Association a = associate_by_iou(tracks, {box_at(400, 200), box_at(12, 10)}, 0.3F);
  EXPECT_EQ(a.face_track, (std::vector<int>{kNoTrack, 0}));
  EXPECT_EQ(a.track_matched, (std::vector<bool>{true}));
}

TEST(AssociateByIou, ABoxOverlappingTwoTracksGoesToTheBetterOneOnly) {
  const std::vector<Box> tracks = {box_at(100, 100), box_at(130, 100)};
  const Box between = box_at(110, 100);  // IoU 0.67 with track 0, 0.43 with track 1
  ASSERT_GT(intersection_over_union(tracks[1], between), 0.3F);
  const Association a = associate_by_iou(tracks, {between}, 0.3F);
  EXPECT_EQ(a.face_track, (std::vector<int>{0}));
  EXPECT_EQ(a.track_matched, (std::vector<bool>{true, false}));
}

TEST(AssociateByIou, PairsBelowMinIouNeverMatch) {
  const std::vector<Box> tracks = {box_at(100, 100)};
  const Box shifted = box_at(130, 100);  // IoU 0.25
  EXPECT_EQ(associate_by_iou(tracks, {shifted}, 0.3F).face_track, (std::vector<int>{kNoTrack}));
  EXPECT_EQ(associate_by_iou(tracks, {shifted}, 0.2F).face_track, (std::vector<int>{0}));
  EXPECT_TRUE(associate_by_iou({}, {shifted}, 0.3F).track_matched.empty());
  EXPECT_TRUE(associate_by_iou(tracks, {}, 0.3F).face_track.empty());
}

// ---- Cut detection -----------------------------------------------------------------------

// A 320x240 grey picture: luma(x, y) from `pattern`, optionally scaled and offset (lighting).
template <typename Pattern>
Image picture(Pattern pattern, float gain = 1.0F, float offset = 0.0F) {
  Image image;
  image.width = 320;
  image.height = 240;
  image.bgr.resize(static_cast<std::size_t>(image.width) * image.height * 3);
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < image.width; ++x) {
      const float v = std::clamp(offset + gain * pattern(static_cast<float>(x), static_cast<float>(y)), 0.0F, 255.0F);
      auto* p = image.bgr.data() + (static_cast<std::size_t>(y) * image.width + x) * 3;
      p[0] = p[1] = p[2] = static_cast<std::uint8_t>(v);
    }
  return image;
}

float scene_a(float x, float y) { return 128.0F + 60.0F * std::sin(x / 12.0F) * std::cos(y / 17.0F); }
float scene_b(float x, float y) { return 128.0F + 60.0F * std::sin((x + 2.0F * y) / 5.0F); }

TEST(CutDetection, ASmallPanIsNotACutButASceneChangeIs) {
  const Box face = box_at(120, 80, 80);
  const Thumbnail before = thumbnail(picture(scene_a), face);
  const Thumbnail panned = thumbnail(picture([](float x, float y) { return scene_a(x + 4.0F, y + 2.0F); }), face);
  const Thumbnail cut = thumbnail(picture(scene_b), face);
  EXPECT_GT(correlation(before, panned), 0.8F);
  EXPECT_LT(std::abs(correlation(before, cut)), 0.3F);
  EXPECT_FALSE(looks_changed(before, panned, 0.5F));
  EXPECT_TRUE(looks_changed(before, cut, 0.5F));
}

TEST(CutDetection, ALightingChangeIsNotACut) {
  const Box face = box_at(120, 80, 80);
  const Thumbnail before = thumbnail(picture(scene_a), face);
  const Thumbnail darker = thumbnail(picture(scene_a, 0.6F, -20.0F), face);
  EXPECT_NEAR(correlation(before, before), 1.0F, 1e-4F);
  EXPECT_GT(correlation(before, darker), 0.98F);
  EXPECT_FALSE(looks_changed(before, darker, 0.5F));
}

TEST(CutDetection, AFlatPatchCorrelatesWithNothing) {
  const Box face = box_at(120, 80, 80);
  const Thumbnail flat = thumbnail(picture([](float, float) { return 90.0F; }), face);
  for (float v : flat) EXPECT_NEAR(v, 0.0F, 1e-4F);
  EXPECT_TRUE(looks_changed(thumbnail(picture(scene_a), face), flat, 0.5F));
}

// ---- Embedding choice --------------------------------------------------------------------

Face face_of(float side, float sharpness = 100.0F, float yaw = 0.0F) {
  Face face;
  face.box = box_at(0, 0, side);
  face.quality.face_size_px = side;
  face.quality.sharpness = sharpness;
  face.quality.yaw = yaw;
  return face;
}

TEST(NeedsEmbedding, OnlyWhenTheTrackCanLearnSomething) {
  const TrackerOptions options;  // min_votes 3, verify_every 6, regrow 1.4, quality gain 1.25
  const Face face = face_of(100);
  EmbeddingHistory settled{true, 3, false, 1, face.box.area(), view_quality(face)};
  EXPECT_FALSE(needs_embedding(settled, face, options));

  EmbeddingHistory h = settled;
  h.has_embedding = false;
  EXPECT_TRUE(needs_embedding(h, face, options)) << "never embedded";
  h = settled;
  h.total_votes = 2;
  EXPECT_TRUE(needs_embedding(h, face, options)) << "fewer than min_votes";
  h = settled;
  h.changed_look = true;
  EXPECT_TRUE(needs_embedding(h, face, options)) << "a cut";
  h = settled;
  h.rounds_since_embed = 6;
  EXPECT_TRUE(needs_embedding(h, face, options)) << "the periodic check";
  EXPECT_TRUE(needs_embedding(settled, face_of(120), options)) << "area grew 1.44x";
  EXPECT_FALSE(needs_embedding(settled, face_of(110), options)) << "area grew 1.21x only";
  EXPECT_TRUE(needs_embedding(settled, face_of(100, 200), options)) << "sharper: quality x1.41";
  EXPECT_FALSE(needs_embedding(settled, face_of(100, 100, 0.5F), options)) << "turned away: worse view";
}

// ---- Splits and re-identification --------------------------------------------------------

// Synthetic distances: table[view][track]; asking about a track without an embedding fails.
ViewTrackDistance distances(std::vector<std::vector<float>> table, std::vector<bool> has_embedding) {
  return [table = std::move(table), has_embedding = std::move(has_embedding)](std::size_t view, std::size_t track) {
    EXPECT_TRUE(has_embedding.at(track)) << "asked about track " << track << " which has no embedding";
    return table.at(view).at(track);
  };
}

TEST(SplitAndReidentify, AMatchedFaceThatEmbedsAsSomeoneElseSplitsItsTrack) {
  // Two tracks matched by IoU; after a cut, face 0 embeds 0.9 from track 0's last embedding.
  const Association iou{{0, 1}, {true, true}};
  const std::vector<bool> has = {true, true};
  const Reassignment r = split_and_reidentify(iou, {0, 1}, has, distances({{0.9F, 1.0F}, {1.0F, 0.2F}}, has), 0.6F, 0.5F);
  EXPECT_EQ(r.track_split, (std::vector<bool>{true, false}));
  EXPECT_EQ(r.association.face_track, (std::vector<int>{kNoTrack, 1}));
  EXPECT_EQ(r.new_views, (std::vector<std::size_t>{0}));
}

TEST(SplitAndReidentify, AFaceAtSplitDistanceOrNearerStaysOnItsTrack) {
  const Association iou{{0}, {true}};
  const Reassignment r = split_and_reidentify(iou, {0}, {true}, distances({{0.6F}}, {true}), 0.6F, 0.5F);
  EXPECT_EQ(r.track_split, (std::vector<bool>{false}));
  EXPECT_EQ(r.association.face_track, (std::vector<int>{0}));
  EXPECT_TRUE(r.new_views.empty());
}

TEST(SplitAndReidentify, AnUnmatchedFaceReattachesToTheNearestLostTrack) {
  // Tracks 0 and 2 are lost; track 1 is matched by face 0 (not embedded this round). Face 1 is new
  // by IoU and embeds 0.3 from track 2, 0.4 from track 0 and 0.1 from the matched track 1.
  const Association iou{{1, kNoTrack}, {false, true, false}};
  const std::vector<bool> has = {true, true, true};
  const Reassignment r =
      split_and_reidentify(iou, {1}, has, distances({{0.4F, 0.1F, 0.3F}}, has), 0.6F, 0.5F);
  EXPECT_EQ(r.association.face_track, (std::vector<int>{1, 2}));
  EXPECT_EQ(r.association.track_matched, (std::vector<bool>{false, true, true}));
  EXPECT_EQ(r.track_split, (std::vector<bool>{false, false, false}));
  EXPECT_TRUE(r.new_views.empty());
}

TEST(SplitAndReidentify, AFaceFarFromEveryLostTrackStartsANewOne) {
  // Track 1 has no embedding yet: it is never a candidate (and its distance is never asked).
  const Association iou{{kNoTrack, kNoTrack}, {false, false}};
  const std::vector<bool> has = {true, false};
  const Reassignment r =
      split_and_reidentify(iou, {0, 1}, has, distances({{0.5F, 0.0F}, {0.45F, 0.0F}}, has), 0.6F, 0.5F);
  EXPECT_EQ(r.association.face_track, (std::vector<int>{kNoTrack, 0})) << "0.5 is not nearer than 0.5; 0.45 is";
  EXPECT_EQ(r.new_views, (std::vector<std::size_t>{0}));
}

TEST(SplitAndReidentify, ASplitTrackIsNotReattachedAndEachTrackTakesOneFace) {
  // Face 0 split track 0 (a cut); face 1, new, is near track 0's old embedding and near lost track 1;
  // face 2, new, is near track 1 too.
  const Association iou{{0, kNoTrack, kNoTrack}, {true, false}};
  const std::vector<bool> has = {true, true};
  const Reassignment r = split_and_reidentify(iou, {0, 1, 2}, has,
                                              distances({{0.8F, 0.9F}, {0.1F, 0.3F}, {0.9F, 0.2F}}, has), 0.6F, 0.5F);
  EXPECT_EQ(r.track_split, (std::vector<bool>{true, false}));
  EXPECT_EQ(r.association.face_track, (std::vector<int>{kNoTrack, 1, kNoTrack}))
      << "face 1 comes first and takes track 1; face 2 finds it taken";
  EXPECT_EQ(r.new_views, (std::vector<std::size_t>{0, 2}));
}

TEST(ReindexAfterRemoval, FacesFollowTheirTracksAndLoseRemovedOnes) {
  EXPECT_EQ(reindex_after_removal({3, kNoTrack, 1, 0, 2}, {false, true, false, false}),
            (std::vector<int>{2, kNoTrack, kNoTrack, 0, 1}));
}

// ---- Identity by vote --------------------------------------------------------------------

IdentifiedFace decided(const std::string& person, float distance, bool known, float threshold = 0.6F) {
  IdentifiedFace face;
  face.decision.person = known ? person : kUnknownPerson;
  face.decision.known = known;
  face.decision.distance = distance;
  face.decision.threshold = threshold;
  face.top = {{person, distance, "face-1"}};
  return face;
}

TEST(BallotFor, ClearDecisionsVoteAndCloseCallsAbstain) {
  const auto known = ballot_for(decided("ann", 0.4F, true), 0.05F);
  ASSERT_TRUE(known);
  EXPECT_EQ(known->name, "ann");
  EXPECT_FLOAT_EQ(known->distance, 0.4F);

  const auto stranger = ballot_for(decided("ann", 0.7F, false), 0.05F);
  ASSERT_TRUE(stranger);
  EXPECT_EQ(stranger->name, kUnknownPerson);
  EXPECT_FLOAT_EQ(stranger->distance, 0.7F);

  EXPECT_FALSE(ballot_for(decided("ann", 0.63F, false), 0.05F)) << "0.63 is within 0.05 of the threshold";

  const auto empty_gallery = ballot_for(IdentifiedFace{}, 0.05F);
  ASSERT_TRUE(empty_gallery);
  EXPECT_EQ(empty_gallery->name, kUnknownPerson);
  EXPECT_FLOAT_EQ(empty_gallery->distance, 0.0F);
}

VoteTally tally(const std::vector<std::pair<std::string, float>>& ballots) {
  VoteTally votes;
  for (const auto& [name, distance] : ballots) votes[name].add(distance);
  return votes;
}

std::optional<NameChoice> choose_one(const VoteTally& votes, float nearest_distance = 0.3F) {
  return choose_names({{&votes, nearest_distance}}).front();
}

TEST(Vote, CountsMeanAndBest) {
  const VoteTally votes = tally({{"ann", 0.4F}, {"ann", 0.2F}, {"ann", 0.3F}});
  const Vote& ann = votes.at("ann");
  EXPECT_EQ(ann.count, 3);
  EXPECT_FLOAT_EQ(ann.mean(), 0.3F);
  EXPECT_FLOAT_EQ(ann.best_distance, 0.2F);
  EXPECT_FLOAT_EQ(Vote{}.mean(), 0.0F);
}

TEST(ChooseNames, TheMajorityNameWinsEvenAtAWorseDistance) {
  const auto choice = choose_one(tally({{"ann", 0.5F}, {"bob", 0.2F}, {"ann", 0.5F}, {"ann", 0.4F}}));
  ASSERT_TRUE(choice);
  EXPECT_EQ(choice->name, "ann");
  EXPECT_NEAR(choice->distance, (0.5F + 0.5F + 0.4F) / 3, 1e-6F);
}

TEST(ChooseNames, ASingleWrongFrameDoesNotFlipANamedTrack) {
  VoteTally votes = tally({{"ann", 0.4F}, {"ann", 0.4F}, {"ann", 0.4F}});
  ASSERT_EQ(choose_one(votes)->name, "ann");
  votes["bob"].add(0.1F);  // one frame, very confidently someone else
  EXPECT_EQ(choose_one(votes)->name, "ann");
  for (int i = 0; i < 2; ++i) votes["bob"].add(0.1F);
  EXPECT_EQ(choose_one(votes)->name, "bob") << "three bob votes at 0.1 beat three ann votes at 0.4 on distance";
}

TEST(ChooseNames, TiedCountsGoToTheSmallerMeanDistanceNamedOrUnknown) {
  // With a gallery, a clear "unknown" vote lies above the threshold: a named tie wins.
  const auto named = choose_one(tally({{kUnknownPerson, 0.7F}, {"ann", 0.45F}, {kUnknownPerson, 0.7F}, {"ann", 0.5F}}));
  EXPECT_EQ(named->name, "ann");
  EXPECT_NEAR(named->distance, 0.475F, 1e-6F);
  // On an empty gallery unknown votes carry distance 0 and win every tie.
  const auto unknown = choose_one(tally({{kUnknownPerson, 0.0F}, {"ann", 0.45F}}));
  EXPECT_EQ(unknown->name, kUnknownPerson);
  EXPECT_FLOAT_EQ(unknown->distance, 0.0F);
}

TEST(ChooseNames, TwoTracksNeverShareANameButMayShareUnknown) {
  const VoteTally strong = tally({{"ann", 0.3F}, {"ann", 0.3F}, {"ann", 0.3F}});
  const VoteTally weak = tally({{"ann", 0.2F}, {"ann", 0.2F}, {"bob", 0.5F}});
  const VoteTally only_ann = tally({{"ann", 0.1F}});
  const VoteTally stranger_1 = tally({{kUnknownPerson, 0.8F}});
  const VoteTally stranger_2 = tally({{kUnknownPerson, 0.9F}});
  const VoteTally none;
  const auto choices = choose_names(
      {{&weak, 0.2F}, {&strong, 0.3F}, {&only_ann, 0.15F}, {&stranger_1, 0.8F}, {&stranger_2, 0.9F}, {&none, 0.4F}});
  ASSERT_EQ(choices.size(), 6U);
  EXPECT_EQ(choices[1]->name, "ann") << "three votes beat two";
  EXPECT_EQ(choices[0]->name, "bob") << "the weaker claim falls back to its next name";
  EXPECT_FLOAT_EQ(choices[0]->distance, 0.5F);
  EXPECT_EQ(choices[2]->name, kUnknownPerson) << "its only name is taken: unknown at its nearest distance";
  EXPECT_FLOAT_EQ(choices[2]->distance, 0.15F);
  EXPECT_EQ(choices[3]->name, kUnknownPerson);
  EXPECT_EQ(choices[4]->name, kUnknownPerson);
  EXPECT_FLOAT_EQ(choices[4]->distance, 0.9F);
  EXPECT_FALSE(choices[5]) << "no votes yet: no name";
}

}  // namespace
}  // namespace siamface::tracking
