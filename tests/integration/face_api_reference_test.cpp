// Differential test: our C++ networks against face-api itself (@vladmandic/face-api 1.7.15 on
// tfjs 4.22.0, wasm backend) run by tests/reference/face_api_reference.mjs in Node.js.
//
// Every input is fed at exactly the network's input size (150 / 512 / 416 / 112), so neither
// side resizes or pads and any difference is the network's own. Node runs once, on one job
// holding every case, and its answer is cached in the build tree (see run_reference).
// Needs node on PATH and `npm ci --prefix tests/reference` (scripts/setup.sh does it).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "attributes/attribute_nets.hpp"
#include "common/test_env.hpp"
#include "detect/face_detector.hpp"
#include "embed/recognition_net.hpp"
#include "landmarks/landmark_net.hpp"
#include "siamface/analysis.hpp"
#include "util/sha256.hpp"

namespace siamface {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr float kEmbeddingTolerance = 1e-4F;  // max-abs per component
constexpr float kMinBoxIou = 0.99F;
constexpr float kScoreTolerance = 1e-3F;
constexpr float kLandmarkTolerancePx = 0.5F;
constexpr float kSsdMinScore = 0.3F;
constexpr float kTinyMinScore = 0.3F;
// The attribute nets (issue 32): age in years, probabilities absolute.
constexpr float kAgeToleranceYears = 0.05F;
constexpr float kProbabilityTolerance = 2e-3F;

fs::path reference_dir() { return fs::path(SIAMFACE_SOURCE_DIR) / "tests" / "reference"; }

// One network input, in BGR at exactly the network's input size.
struct Case {
  std::string id;
  std::string kind;  // embed | ssd | tiny | landmarks | landmarks_tiny | age_gender | expression
  cv::Mat bgr;
  float min_score = 0.0F;
};

cv::Mat read_bgr(const fs::path& path) {
  cv::Mat image = cv::imread(path.string(), cv::IMREAD_COLOR);
  if (image.empty()) throw std::runtime_error("cannot read " + path.string());
  return image;
}

// `roi` of `image` resized to side x side. The interpolation is irrelevant to the comparison
// (both sides get the same bytes); INTER_AREA just keeps downscaled faces natural.
cv::Mat crop_resized(const cv::Mat& image, const cv::Rect& roi, int side) {
  const cv::Rect clipped = roi & cv::Rect(0, 0, image.cols, image.rows);
  if (clipped != roi) throw std::runtime_error("crop outside the image");
  cv::Mat out;
  if (roi.width == side && roi.height == side) {
    out = image(roi).clone();
  } else {
    const int interpolation = roi.width > side ? cv::INTER_AREA : cv::INTER_LINEAR;
    cv::resize(image(roi), out, cv::Size(side, side), 0, 0, interpolation);
  }
  return out;
}

cv::Mat whole_resized(const cv::Mat& image, int side) {
  return crop_resized(image, cv::Rect(0, 0, image.cols, image.rows), side);
}

// The crops were picked by eye from face-api's own detections on the full photos: square
// regions holding whole faces (group photos) or square face regions (chips and landmark crops).
std::vector<Case> make_cases() {
  const fs::path data = test::testdata_dir();
  const fs::path images = data / "face-api.js" / "examples" / "images";
  const fs::path lfw = data / "lfw_dev" / "lfw-deepfunneled";
  const cv::Mat bbt1 = read_bgr(images / "bbt1.jpg");  // 1366x768, 4 faces
  const cv::Mat bbt2 = read_bgr(images / "bbt2.jpg");  // 675x469, 2 clear + 1 partial face
  const cv::Mat sample1 = read_bgr(test::models_dir() / "samples" / "sample1.jpg");  // 1920x1280, 3 faces
  const cv::Mat adel1 = read_bgr(lfw / "Adel_Al-Jubeir" / "Adel_Al-Jubeir_0001.jpg");     // 250x250
  const cv::Mat adel2 = read_bgr(lfw / "Adel_Al-Jubeir" / "Adel_Al-Jubeir_0002.jpg");
  const cv::Mat barbra1 = read_bgr(lfw / "Barbra_Streisand" / "Barbra_Streisand_0001.jpg");
  const cv::Mat amy1 = read_bgr(images / "amy" / "amy1.png");  // tight face crops
  const cv::Mat leonard1 = read_bgr(images / "leonard" / "leonard1.png");
  const cv::Mat penny1 = read_bgr(images / "penny" / "penny1.png");

  std::vector<Case> cases;
  // Recognition: 150x150 chips. LFW centre crops need no resize at all.
  const cv::Rect lfw_centre(50, 50, 150, 150);
  cases.push_back({"embed/adel1", "embed", crop_resized(adel1, lfw_centre, 150)});
  cases.push_back({"embed/adel2", "embed", crop_resized(adel2, lfw_centre, 150)});
  cases.push_back({"embed/barbra1", "embed", crop_resized(barbra1, lfw_centre, 150)});
  cases.push_back({"embed/bbt1_right_face", "embed", crop_resized(bbt1, {974, 63, 156, 156}, 150)});
  cases.push_back({"embed/amy1", "embed", whole_resized(amy1, 150)});

  // Detectors: square regions of group photos at the exact input size.
  const std::vector<std::pair<std::string, cv::Mat>> scenes = {
      {"bbt1_left", bbt1(cv::Rect(150, 0, 768, 768))},    // 3 whole faces
      {"bbt1_right", bbt1(cv::Rect(598, 0, 768, 768))},   // 2 whole faces
      {"bbt2", bbt2(cv::Rect(0, 0, 469, 469))},           // 2 faces + 1 cut by the left edge
      {"sample1", sample1(cv::Rect(400, 0, 1280, 1280))}  // 3 faces
  };
  for (const auto& [name, scene] : scenes) {
    cases.push_back({"ssd/" + name, "ssd", whole_resized(scene, 512), kSsdMinScore});
    cases.push_back({"tiny/" + name, "tiny", whole_resized(scene, 416), kTinyMinScore});
  }

  // Landmarks: 112x112 face crops, each through the full and the tiny net.
  const std::vector<std::pair<std::string, cv::Mat>> faces = {
      {"amy1", whole_resized(amy1, 112)},
      {"leonard1", whole_resized(leonard1, 112)},
      {"penny1", whole_resized(penny1, 112)},
      {"barbra1", crop_resized(barbra1, {65, 65, 120, 120}, 112)},
      {"bbt1_face", crop_resized(bbt1, {190, 117, 140, 140}, 112)},
      {"sample1_face", crop_resized(sample1, {383, 355, 240, 240}, 112)},
  };
  for (const auto& [name, face] : faces) {
    cases.push_back({"landmarks/" + name, "landmarks", face});
    cases.push_back({"landmarks_tiny/" + name, "landmarks_tiny", face});
    // Age, gender and expression see the same 112x112 crops (face-api's alignedRect crop is a
    // face box too; the crop itself is unit-tested in analysis_rules_test).
    cases.push_back({"age_gender/" + name, "age_gender", face});
    cases.push_back({"expression/" + name, "expression", face});
  }
  return cases;
}

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The cases and face-api's answers to them, computed once per process.
struct Reference {
  std::vector<Case> cases;
  std::map<std::string, json> results;  // by case id
  json versions;
  std::string backend;
  std::string error;  // non-empty: preparing or running the reference failed
};

std::string sha256_of(const std::string& text) {
  return sha256_hex(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

// Parses face-api's answer into `ref`; returns false (with ref.error set) when it is unusable.
bool parse_reference_output(const std::string& out, Reference& ref) {
  try {
    const json parsed = json::parse(out);
    ref.backend = parsed.at("backend").get<std::string>();
    ref.versions = parsed.at("versions");
    for (const json& r : parsed.at("results")) ref.results[r.at("id").get<std::string>()] = r;
  } catch (const std::exception& e) {
    ref.error = std::string("parsing the reference output: ") + e.what() + "\n" + out.substr(0, 500);
    return false;
  }
  for (const Case& c : ref.cases) {
    if (!ref.results.count(c.id)) ref.error += "no reference result for " + c.id + "\n";
  }
  return ref.error.empty();
}

// Runs Node on every case at once. ctest runs each TEST in its own process, so the answer is
// cached in the build tree under a SHA-256 of everything it depends on (the script, the lock
// file, the model files, every case's parameters and pixels): Node runs once per change.
Reference run_reference() {
  Reference ref;
  std::vector<cv::Mat> rgbs;
  json job = {{"cases", json::array()}};
  std::string fingerprint;
  try {
    ref.cases = make_cases();
    fingerprint += sha256_hex_of_file(reference_dir() / "face_api_reference.mjs");
    fingerprint += sha256_hex_of_file(reference_dir() / "package-lock.json");
    for (const char* model : {"face_recognition_model", "ssd_mobilenetv1_model", "tiny_face_detector_model",
                              "face_landmark_68_model", "face_landmark_68_tiny_model", kAgeGenderModel,
                              kExpressionModel}) {
      fingerprint += sha256_hex_of_file(test::models_dir() / (std::string(model) + ".bin"));
    }
    for (const Case& c : ref.cases) {
      cv::Mat rgb;
      cv::cvtColor(c.bgr, rgb, cv::COLOR_BGR2RGB);
      json entry = {{"id", c.id}, {"kind", c.kind}, {"width", rgb.cols}, {"height", rgb.rows}};
      if (c.kind == "ssd") entry["min_confidence"] = c.min_score;
      if (c.kind == "tiny") {
        entry["score_threshold"] = c.min_score;
        entry["input_size"] = 416;
      }
      fingerprint += entry.dump() + sha256_hex(std::span(rgb.data, rgb.total() * 3));
      job["cases"].push_back(entry);
      rgbs.push_back(rgb);
    }
  } catch (const std::exception& e) {
    ref.error = std::string("preparing inputs: ") + e.what();
    return ref;
  }
  const fs::path cache_dir = fs::path(SIAMFACE_BINARY_DIR) / "face_api_reference";
  const fs::path cache_path = cache_dir / (sha256_of(fingerprint) + ".json");
  if (fs::exists(cache_path)) {
    if (parse_reference_output(read_text(cache_path), ref)) return ref;
    ref.results.clear();  // unusable cache entry: run Node again
    ref.versions = json();
    ref.backend.clear();
    ref.error.clear();
  }

  std::string dir_template = (fs::temp_directory_path() / "siamface_face_api_ref_XXXXXX").string();
  if (mkdtemp(dir_template.data()) == nullptr) {
    ref.error = "mkdtemp failed for " + dir_template;
    return ref;
  }
  const fs::path work = dir_template;
  for (std::size_t i = 0; i < rgbs.size(); ++i) {
    const fs::path input = work / ("case" + std::to_string(i) + ".rgb");
    std::ofstream(input, std::ios::binary)
        .write(reinterpret_cast<const char*>(rgbs[i].data), static_cast<std::streamsize>(rgbs[i].total() * 3));
    job["cases"][i]["input"] = input.string();
  }
  const fs::path job_path = work / "job.json";
  std::ofstream(job_path) << job.dump();

  const fs::path out_path = work / "out.json";
  const fs::path err_path = work / "err.txt";
  const std::string command = "node " + shell_quote((reference_dir() / "face_api_reference.mjs").string()) +
                              " " + shell_quote(test::models_dir().string()) + " " + shell_quote(job_path.string()) +
                              " > " + shell_quote(out_path.string()) + " 2> " + shell_quote(err_path.string());
  const int status = std::system(command.c_str());
  const std::string out = read_text(out_path);
  const std::string err = read_text(err_path);
  if (status != 0) {
    ref.error = "`" + command + "` exited with status " + std::to_string(status) +
                " (is node on PATH?); stderr:\n" + err;
  } else if (parse_reference_output(out, ref)) {
    // Written whole, then renamed: a concurrent test process never reads half a file.
    std::error_code ignored;
    fs::create_directories(cache_dir, ignored);
    const fs::path partial = cache_path.string() + ".tmp" + std::to_string(getpid());
    std::ofstream(partial) << out;
    fs::rename(partial, cache_path, ignored);
  }
  // SIAMFACE_REFERENCE_KEEP=1 keeps the inputs, job and output for debugging.
  if (const char* keep = std::getenv("SIAMFACE_REFERENCE_KEEP"); keep && std::string(keep) == "1") {
    std::printf("face-api reference files kept in %s\n", work.c_str());
  } else {
    fs::remove_all(work);
  }
  return ref;
}

const Reference& reference() {
  static const Reference ref = run_reference();
  return ref;
}

#define SIAMFACE_REQUIRE_REFERENCE()                                                   \
  SIAMFACE_REQUIRE_TESTDATA("face-api.js/examples/images/bbt1.jpg");                   \
  SIAMFACE_REQUIRE_TESTDATA("lfw_dev/lfw-deepfunneled");                               \
  SIAMFACE_REQUIRE_MODELS();                                                           \
  SIAMFACE_REQUIRE_PATH(reference_dir() / "node_modules" / "@vladmandic" / "face-api", \
                        "face-api reference (npm ci --prefix tests/reference)");       \
  const Reference& ref = reference();                                                  \
  ASSERT_TRUE(ref.error.empty()) << ref.error

std::vector<const Case*> cases_of(const Reference& ref, const std::string& kind) {
  std::vector<const Case*> out;
  for (const Case& c : ref.cases) {
    if (c.kind == kind) out.push_back(&c);
  }
  return out;
}

// face-api's detections in input pixels, clipped to the image like ours (tiny's are not
// clipped by face-api; SSD's already are).
std::vector<RawDetection> reference_detections(const json& result, int width, int height) {
  std::vector<RawDetection> out;
  for (const json& d : result.at("detections")) {
    const float left = std::max(0.0F, d.at("x").get<float>());
    const float top = std::max(0.0F, d.at("y").get<float>());
    const float right = std::min(static_cast<float>(width), d.at("x").get<float>() + d.at("width").get<float>());
    const float bottom = std::min(static_cast<float>(height), d.at("y").get<float>() + d.at("height").get<float>());
    out.push_back({Box{left, top, right - left, bottom - top}, d.at("score").get<float>()});
  }
  return out;
}

std::string describe(const RawDetection& d) {
  std::ostringstream out;
  out << "[" << d.box.left << "," << d.box.top << " " << d.box.width << "x" << d.box.height << " score "
      << d.score << "]";
  return out.str();
}

// One-to-one matching: each reference detection takes the unmatched one of ours with the
// highest IoU. A detection left unmatched on either side is tolerated only when its score is
// within kScoreTolerance of the threshold (float noise may put it on either side).
void expect_same_detections(const std::string& id, const std::vector<RawDetection>& expected,
                            const std::vector<RawDetection>& actual, float min_score) {
  std::vector<bool> used(actual.size(), false);
  for (const RawDetection& e : expected) {
    int best = -1;
    float best_iou = 0.0F;
    for (std::size_t i = 0; i < actual.size(); ++i) {
      const float iou = intersection_over_union(e.box, actual[i].box);
      if (!used[i] && iou > best_iou) {
        best_iou = iou;
        best = static_cast<int>(i);
      }
    }
    if (best < 0 || best_iou < kMinBoxIou) {
      EXPECT_LT(e.score, min_score + kScoreTolerance)
          << id << ": face-api's " << describe(e) << " has no match in ours (best IoU " << best_iou << ")";
      continue;
    }
    used[static_cast<std::size_t>(best)] = true;
    std::printf("%s: face-api %s matched at IoU %.4f, score difference %.2g\n", id.c_str(), describe(e).c_str(),
                best_iou, std::abs(actual[static_cast<std::size_t>(best)].score - e.score));
    EXPECT_NEAR(actual[static_cast<std::size_t>(best)].score, e.score, kScoreTolerance)
        << id << ": face-api " << describe(e) << " vs ours " << describe(actual[static_cast<std::size_t>(best)]);
  }
  for (std::size_t i = 0; i < actual.size(); ++i) {
    if (!used[i]) {
      EXPECT_LT(actual[i].score, min_score + kScoreTolerance)
          << id << ": our " << describe(actual[i]) << " has no match in face-api's";
    }
  }
}

TEST(FaceApiReference, ReferenceItselfIsSane) {
  SIAMFACE_REQUIRE_REFERENCE();
  EXPECT_EQ(ref.versions.value("face-api", ""), "1.7.15");
  EXPECT_EQ(ref.versions.value("tfjs", ""), "4.22.0");
  EXPECT_EQ(ref.backend, "wasm");

  // The comparisons below are not vacuous: face-api finds the faces the crops were cut around...
  const std::map<std::string, std::size_t> min_faces = {
      {"bbt1_left", 3}, {"bbt1_right", 2}, {"bbt2", 2}, {"sample1", 3}};
  for (const auto& [scene, count] : min_faces) {
    EXPECT_GE(ref.results.at("ssd/" + scene).at("detections").size(), count) << scene;
    EXPECT_GE(ref.results.at("tiny/" + scene).at("detections").size(), count) << scene;
  }
  // ...its embeddings put the same person closer than different people...
  auto embedding = [&](const std::string& id) {
    Embedding e(kDlibEmbeddingSize, 0.0F);
    const json& values = ref.results.at(id).at("embedding");
    EXPECT_EQ(values.size(), static_cast<std::size_t>(kDlibEmbeddingSize));
    for (std::size_t i = 0; i < e.size() && i < values.size(); ++i) e[i] = values[i].get<float>();
    return e;
  };
  const float same = euclidean_distance(embedding("embed/adel1"), embedding("embed/adel2"));
  const float different = euclidean_distance(embedding("embed/adel1"), embedding("embed/barbra1"));
  EXPECT_LT(same, different);
  // ...and its landmarks lie on the face crop (tight crops may put the jaw a little outside)
  // with the nose tip (point 30) in its middle half.
  for (const Case* c : cases_of(ref, "landmarks")) {
    const json& points = ref.results.at(c->id).at("landmarks");
    ASSERT_EQ(points.size(), static_cast<std::size_t>(kLandmarkCount)) << c->id;
    for (const json& p : points) {
      for (int axis = 0; axis < 2; ++axis) {
        EXPECT_GT(p[axis].get<float>(), -11.2F) << c->id;
        EXPECT_LT(p[axis].get<float>(), 123.2F) << c->id;
      }
    }
    for (int axis = 0; axis < 2; ++axis) {
      EXPECT_GT(points[30][axis].get<float>(), 28.0F) << c->id;
      EXPECT_LT(points[30][axis].get<float>(), 84.0F) << c->id;
    }
  }
}

TEST(FaceApiReference, RecognitionEmbeddingsMatch) {
  SIAMFACE_REQUIRE_REFERENCE();
  const auto net = make_recognition_net(test::models_dir());
  const std::vector<const Case*> cases = cases_of(ref, "embed");
  std::vector<cv::Mat> chips;
  for (const Case* c : cases) chips.push_back(c->bgr);
  const std::vector<Embedding> ours = net->embed(chips);
  ASSERT_EQ(ours.size(), cases.size());
  for (std::size_t k = 0; k < cases.size(); ++k) {
    const json& expected = ref.results.at(cases[k]->id).at("embedding");
    ASSERT_EQ(expected.size(), static_cast<std::size_t>(kDlibEmbeddingSize)) << cases[k]->id;
    float max_abs = 0.0F;
    for (std::size_t i = 0; i < ours[k].size(); ++i) {
      max_abs = std::max(max_abs, std::abs(ours[k][i] - expected[i].get<float>()));
    }
    std::printf("%s: embedding max-abs difference %.3g\n", cases[k]->id.c_str(), max_abs);
    EXPECT_LE(max_abs, kEmbeddingTolerance) << cases[k]->id;
  }
}

void check_detector(const Reference& ref, const FaceDetector& detector, const std::string& kind) {
  const std::vector<const Case*> cases = cases_of(ref, kind);
  ASSERT_FALSE(cases.empty());
  for (const Case* c : cases) {
    const auto expected = reference_detections(ref.results.at(c->id), c->bgr.cols, c->bgr.rows);
    const auto actual = detector.detect(c->bgr, c->min_score);
    expect_same_detections(c->id, expected, actual, c->min_score);
  }
}

TEST(FaceApiReference, SsdMobilenetDetectionsMatch) {
  SIAMFACE_REQUIRE_REFERENCE();
  const auto detector = make_ssd_mobilenet_detector(test::models_dir());
  check_detector(ref, *detector, "ssd");
}

TEST(FaceApiReference, TinyFaceDetectorDetectionsMatch) {
  SIAMFACE_REQUIRE_REFERENCE();
  const auto detector = make_tiny_face_detector(test::models_dir());
  check_detector(ref, *detector, "tiny");
}

// On a 112x112 crop with the box covering it, predict() must be the bare net: face-api's
// pipeline slices the box out of the image (extractFaceTensors: the whole crop), pads it to a
// square (already square) and resizes to 112 only when the size differs (it does not), and
// FaceLandmark68NetBase.postProcess maps the outputs by (out * 112 - 0) / 112 * crop size,
// i.e. into the crop's pixels unchanged.
void check_landmarks(const Reference& ref, LandmarkKind kind, const std::string& case_kind) {
  const auto net = make_landmark_net(test::models_dir(), kind);
  const std::vector<const Case*> cases = cases_of(ref, case_kind);
  ASSERT_FALSE(cases.empty());
  for (const Case* c : cases) {
    const json& expected = ref.results.at(c->id).at("landmarks");
    ASSERT_EQ(expected.size(), static_cast<std::size_t>(kLandmarkCount)) << c->id;
    const Landmarks ours = net->predict(c->bgr, Box{0.0F, 0.0F, 112.0F, 112.0F});
    float max_err = 0.0F;
    for (std::size_t i = 0; i < ours.size(); ++i) {
      max_err = std::max({max_err, std::abs(ours[i].x - expected[i][0].get<float>()),
                          std::abs(ours[i].y - expected[i][1].get<float>())});
    }
    std::printf("%s: landmark max difference %.3g px\n", c->id.c_str(), max_err);
    EXPECT_LE(max_err, kLandmarkTolerancePx) << c->id;
  }
}

TEST(FaceApiReference, Landmark68Matches) {
  SIAMFACE_REQUIRE_REFERENCE();
  check_landmarks(ref, LandmarkKind::kFull, "landmarks");
}

TEST(FaceApiReference, AgeAndGenderMatch) {
  SIAMFACE_REQUIRE_REFERENCE();
  const auto net = make_age_gender_net(test::models_dir());
  const std::vector<const Case*> cases = cases_of(ref, "age_gender");
  ASSERT_FALSE(cases.empty());
  for (const Case* c : cases) {
    const json& expected = ref.results.at(c->id);
    const AgeGenderOutput ours = net->predict_input(c->bgr);
    const float male = expected.at("gender") == "male" ? expected.at("gender_probability").get<float>()
                                                       : 1.0F - expected.at("gender_probability").get<float>();
    std::printf("%s: face-api age %.3f male %.4f, ours %.3f %.4f\n", c->id.c_str(), expected.at("age").get<float>(),
                male, ours.age_years, ours.male_probability);
    // Not vacuous: adults' faces, aged as adults.
    EXPECT_GT(expected.at("age").get<float>(), 15.0F) << c->id;
    EXPECT_LT(expected.at("age").get<float>(), 80.0F) << c->id;
    EXPECT_NEAR(ours.age_years, expected.at("age").get<float>(), kAgeToleranceYears) << c->id;
    EXPECT_NEAR(ours.male_probability, male, kProbabilityTolerance) << c->id;
  }
}

TEST(FaceApiReference, ExpressionsMatch) {
  SIAMFACE_REQUIRE_REFERENCE();
  const auto net = make_expression_net(test::models_dir());
  const std::vector<const Case*> cases = cases_of(ref, "expression");
  ASSERT_FALSE(cases.empty());
  for (const Case* c : cases) {
    const json& expected = ref.results.at(c->id).at("expressions");
    ASSERT_EQ(expected.size(), 7U) << c->id;
    const ExpressionOutput ours = net->predict_input(c->bgr);
    float sum = 0.0F;
    for (std::size_t k = 0; k < 7; ++k) {
      sum += expected[k].get<float>();
      EXPECT_NEAR(ours[k], expected[k].get<float>(), kProbabilityTolerance) << c->id << " " << kExpressionClasses[k];
    }
    EXPECT_NEAR(sum, 1.0F, 1e-4F) << c->id;
  }
}

TEST(FaceApiReference, Landmark68TinyMatches) {
  SIAMFACE_REQUIRE_REFERENCE();
  check_landmarks(ref, LandmarkKind::kTiny, "landmarks_tiny");
}

}  // namespace
}  // namespace siamface
