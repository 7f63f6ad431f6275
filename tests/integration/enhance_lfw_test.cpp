// Enhancement on real photos: `auto` leaves a clean photo alone. (The degraded pair that
// `auto` rescues is still to be picked by measurement: issue 7 is open.)
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "common/test_env.hpp"
#include "degrade/degrade.hpp"
#include "align/face_chip.hpp"
#include "enhance/enhance.hpp"
#include "image/cv_image.hpp"
#include "siamface/engine.hpp"
#include "siamface/image.hpp"

namespace siamface {
namespace {

constexpr float kThreshold = 0.6F;  // the default decision threshold

std::string dev_image(const std::string& relative) {
  return (test::testdata_dir() / "lfw_dev" / "lfw-deepfunneled" / relative).string();
}

Engine open_engine(const Enhancement& enhancement) {
  EngineOptions options;
  options.enhancement = enhancement;
  return Engine::open(options);
}

TEST(EnhanceLfwTest, AutoLeavesCleanWellExposedPhotoAlone) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("lfw_dev/lfw-deepfunneled");
  const Engine plain = open_engine({});
  const Engine automatic = open_engine(parse_enhancement("auto"));
  const Image image = load_image(dev_image("Barbra_Streisand/Barbra_Streisand_0001.jpg"));
  const std::vector<Face> faces = plain.detect(image);
  ASSERT_FALSE(faces.empty());
  const cv::Mat chip = extract_face_chip(as_mat(image), faces[0].landmarks);
  EXPECT_FALSE(auto_enhancement(measure_chip_quality(chip, faces[0].box.width)).any());
  const Image a = plain.align(image, faces[0]);
  const Image b = automatic.align(image, faces[0]);
  EXPECT_EQ(a.bgr, b.bgr);
  EXPECT_EQ(plain.embed(image, faces[0]), automatic.embed(image, faces[0]));
}

}  // namespace
}  // namespace siamface
