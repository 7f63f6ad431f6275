// Helpers shared by the gallery tests: temporary gallery paths and synthetic faces.
#pragma once

#include <sqlite3.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <random>
#include <string>

#include "siamface/errors.hpp"
#include "siamface/gallery.hpp"
#include "util/sha256.hpp"

namespace siamface::test {

// The code (and message) of the Error that `f` throws; a test failure when it throws none.
inline ErrorCode code_of(const std::function<void()>& f, std::string* message = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.code();
  }
  ADD_FAILURE() << "expected an Error";
  return ErrorCode::kInternal;
}

// The message of the Error that `f` throws (and its code); empty and a test failure when none.
inline std::string message_of(const std::function<void()>& f, ErrorCode* code = nullptr) {
  std::string message;
  const ErrorCode thrown = code_of(f, &message);
  if (code) *code = thrown;
  return message;
}

// Runs SQL on a gallery file behind the library's back (to build old schemas or damage rows).
inline void exec_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  const std::string message = error ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << message;
}

inline ModelInfo test_model(const std::string& tag = "a") {
  return {"test-recognizer", "1.0." + tag, sha256_hex(std::span<const std::uint8_t>(
                                               reinterpret_cast<const std::uint8_t*>(tag.data()),
                                               tag.size()))};
}

inline std::string sha_of(const std::string& text) {
  return sha256_hex(std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

// A face whose every field depends on `person` and `seed`, so round trips can be checked field by field.
inline GalleryFace make_face(const std::string& person, int seed, const ModelInfo& model = test_model()) {
  std::uint32_t h = 2166136261U;  // FNV-1a of the person: different people, different faces
  for (unsigned char c : person) h = (h ^ c) * 16777619U;
  std::mt19937 rng(h ^ (static_cast<unsigned>(seed) * 7919U + 17U));
  std::uniform_real_distribution<float> u(0.0F, 1.0F);
  GalleryFace f;
  f.person = person;
  f.source_path = "/photos/" + person + "/" + std::to_string(seed) + ".jpg";
  f.image_sha256 = sha_of(person + "#" + std::to_string(seed));
  f.face.box = {u(rng) * 100, u(rng) * 100, 50 + u(rng) * 100, 60 + u(rng) * 100};
  f.face.score = u(rng);
  for (auto& p : f.face.landmarks) p = {u(rng) * 640, u(rng) * 480};
  f.face.quality = {u(rng) * 200, u(rng) * 255, u(rng) * 80, u(rng) * 1000, u(rng) * 5,
                    u(rng) * 2 - 1, seed % 2 == 0};
  f.embedding.resize(kDlibEmbeddingSize);
  for (float& v : f.embedding) v = (u(rng) - 0.5F) * 0.4F;
  f.model = model;
  return f;
}

// A fresh directory under the system temp dir, removed at destruction.
class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("siamface_gallery_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  static int& counter() {
    static int n = 0;
    return n;
  }
  std::filesystem::path path_;
};

inline void expect_same_face(const GalleryFace& a, const GalleryFace& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.person, b.person);
  EXPECT_EQ(a.source_path, b.source_path);
  EXPECT_EQ(a.image_sha256, b.image_sha256);
  EXPECT_EQ(a.face.box.left, b.face.box.left);
  EXPECT_EQ(a.face.box.top, b.face.box.top);
  EXPECT_EQ(a.face.box.width, b.face.box.width);
  EXPECT_EQ(a.face.box.height, b.face.box.height);
  EXPECT_EQ(a.face.score, b.face.score);
  for (int i = 0; i < kLandmarkCount; ++i) {
    EXPECT_EQ(a.face.landmarks[i].x, b.face.landmarks[i].x);
    EXPECT_EQ(a.face.landmarks[i].y, b.face.landmarks[i].y);
  }
  const auto& qa = a.face.quality;
  const auto& qb = b.face.quality;
  EXPECT_EQ(qa.face_size_px, qb.face_size_px);
  EXPECT_EQ(qa.brightness, qb.brightness);
  EXPECT_EQ(qa.contrast, qb.contrast);
  EXPECT_EQ(qa.sharpness, qb.sharpness);
  EXPECT_EQ(qa.noise, qb.noise);
  EXPECT_EQ(qa.yaw, qb.yaw);
  EXPECT_EQ(qa.grayscale, qb.grayscale);
  EXPECT_EQ(a.embedding, b.embedding);  // bit-exact
  EXPECT_EQ(a.model.name, b.model.name);
  EXPECT_EQ(a.model.version, b.model.version);
  EXPECT_EQ(a.model.weights_sha256, b.model.weights_sha256);
  EXPECT_EQ(a.created_unix_ms, b.created_unix_ms);
}

}  // namespace siamface::test
