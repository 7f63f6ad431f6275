// Users' machines run other locales. A threshold written and read back under a locale whose
// decimal separator is a comma (de_DE) must stay the same number: std::to_string and strtof
// follow LC_NUMERIC, the gallery's own format/parse do not.
#include <gtest/gtest.h>

#include <clocale>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/temp_dir_test.hpp"
#include "common/test_env.hpp"
#include "siamface/gallery.hpp"

namespace siamface {
namespace {

class GermanLocale : public test::TempDirTest {
 protected:
  void SetUp() override {
    test::TempDirTest::SetUp();
    // Debian ships the locale sources (package `locales`); compile de_DE into the temp folder
    // so the test needs no system-wide locale.
    SIAMFACE_REQUIRE_PATH(std::filesystem::path("/usr/share/i18n/locales/de_DE"), "locale source de_DE (package locales)");
    const std::string target = (temp_ / "de_DE.UTF-8").string();
    ASSERT_EQ(std::system(("localedef -i de_DE -f UTF-8 '" + target + "' >/dev/null 2>&1").c_str()), 0);
    ::setenv("LOCPATH", temp_.c_str(), 1);
    ASSERT_NE(std::setlocale(LC_ALL, "de_DE.UTF-8"), nullptr);
  }
  void TearDown() override {
    std::setlocale(LC_ALL, "C");
    ::unsetenv("LOCPATH");
    test::TempDirTest::TearDown();
  }
};

TEST_F(GermanLocale, ThresholdTextIsTheSameNumberUnderACommaLocale) {
  ASSERT_NE(std::to_string(0.5F).find(','), std::string::npos) << "the locale is not in effect";
  EXPECT_EQ(format_distance_threshold(0.55F), "0.55");
  EXPECT_FLOAT_EQ(parse_distance_threshold(format_distance_threshold(0.55F)), 0.55F);
  EXPECT_THROW(parse_distance_threshold("0,55"), Error);

  Gallery gallery = Gallery::open((temp_ / "g.db").string());
  gallery.set_setting(kThresholdSetting, format_distance_threshold(0.55F));
  ASSERT_TRUE(gallery.info().threshold.has_value());
  EXPECT_FLOAT_EQ(*gallery.info().threshold, 0.55F);
}

}  // namespace
}  // namespace siamface
