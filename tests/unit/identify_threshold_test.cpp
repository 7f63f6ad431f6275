// The library resolves the threshold itself (issue 35): identify_faces and identify_image decide
// with the gallery's saved threshold unless the call asks for a stricter one, or for a looser
// one with allow_looser_threshold. On synthetic embeddings, no models.
#include <gtest/gtest.h>

#include "siamface/gallery.hpp"
#include "siamface/identify.hpp"
#include "unit/gallery_test_util.hpp"

namespace siamface {
namespace {

using test::make_face;
using test::TempDir;
using test::test_model;

class IdentifyThreshold : public ::testing::Test {
 protected:
  void SetUp() override {
    gallery_ = std::make_unique<Gallery>(Gallery::open(dir_.file("g.db")));
    const GalleryFace ann = make_face("ann", 1);
    gallery_->add_face(ann);
    probe_.embedding = ann.embedding;
    probe_.embedding[0] += 0.4F;  // 0.4 from ann: named at 0.6, unknown at 0.3
  }

  Decision decide(const IdentifyOptions& options) const {
    return identify_faces(*gallery_, test_model(), {probe_}, options).at(0).decision;
  }

  TempDir dir_;
  std::unique_ptr<Gallery> gallery_;
  FaceEmbedding probe_;
};

TEST_F(IdentifyThreshold, UnsetUsesTheRuleDefaultWhenTheGallerySavedNone) {
  const Decision decision = decide({});
  EXPECT_EQ(decision.person, "ann");
  EXPECT_FLOAT_EQ(decision.threshold, IdentifyOptions::default_decision_rule().threshold);
}

TEST_F(IdentifyThreshold, UnsetUsesTheGallerysSavedThreshold) {
  gallery_->set_setting(kThresholdSetting, format_distance_threshold(0.3F));
  const Decision decision = decide({});
  EXPECT_EQ(decision.person, kUnknownPerson);
  EXPECT_EQ(decision.reason, UnknownReason::kAboveThreshold);
  EXPECT_FLOAT_EQ(decision.threshold, 0.3F);
}

TEST_F(IdentifyThreshold, APerCallThresholdOnlyTightensUnlessLooserIsAllowed) {
  gallery_->set_setting(kThresholdSetting, format_distance_threshold(0.3F));
  IdentifyOptions options;
  options.threshold = 0.6F;  // looser than the gallery's: clamped to 0.3
  EXPECT_EQ(decide(options).person, kUnknownPerson);
  EXPECT_FLOAT_EQ(decide(options).threshold, 0.3F);
  options.allow_looser_threshold = true;
  EXPECT_EQ(decide(options).person, "ann");
  EXPECT_FLOAT_EQ(decide(options).threshold, 0.6F);

  gallery_->set_setting(kThresholdSetting, format_distance_threshold(0.6F));
  IdentifyOptions stricter;
  stricter.threshold = 0.35F;  // stricter than the gallery's: taken
  EXPECT_EQ(decide(stricter).person, kUnknownPerson);
  EXPECT_FLOAT_EQ(decide(stricter).threshold, 0.35F);
}

TEST_F(IdentifyThreshold, ACorruptSavedThresholdIsAGalleryError) {
  // Written behind the gallery's back (set_setting validates): an old or damaged file.
  test::exec_sql(dir_.file("g.db"), "INSERT OR REPLACE INTO settings(key, value) VALUES('threshold', 'abc');");
  try {
    decide({});
    FAIL() << "decided with an unreadable threshold";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kGallery);
    EXPECT_NE(std::string(e.what()).find("threshold"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace siamface
