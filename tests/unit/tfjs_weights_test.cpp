// The TF.js weights loader on synthetic manifests and shards, and the TF -> OpenCV layout
// converters.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "model/dnn_graph.hpp"
#include "model/tfjs_weights.hpp"
#include "siamface/errors.hpp"

namespace siamface {
namespace {

namespace fs = std::filesystem;

template <typename T>
std::string bytes_of(const std::vector<T>& values) {
  std::string out(values.size() * sizeof(T), '\0');
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

// Expects `fn` to throw Error with `code` and a message containing every one of `needles`.
template <typename Fn>
void expect_error(Fn&& fn, ErrorCode code, const std::vector<std::string>& needles) {
  try {
    fn();
    ADD_FAILURE() << "expected Error(" << to_string(code) << ")";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const std::string& needle : needles) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
          << "message '" << e.what() << "' does not mention '" << needle << "'";
    }
  }
}

// A temp directory removed at scope exit.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = fs::temp_directory_path() /
            ("siamface_tfjs_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  void write(const std::string& name, const std::string& bytes) const {
    std::ofstream(path_ / name, std::ios::binary | std::ios::trunc) << bytes;
  }

 private:
  fs::path path_;
};

// One group, one shard "m.bin": a [2,2] float32, a [3] uint8-quantized, a [2] uint16-quantized
// and a [2] int32 tensor.
const char* const kManifest = R"([{
  "paths": ["m.bin"],
  "weights": [
    {"name": "f", "shape": [2, 2], "dtype": "float32"},
    {"name": "q8", "shape": [3], "dtype": "float32", "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1.0}},
    {"name": "q16", "shape": [2], "dtype": "float32", "quantization": {"dtype": "uint16", "scale": 0.25, "min": 2.0}},
    {"name": "i", "shape": [2], "dtype": "int32"}
  ]
}])";

std::string shard_bytes() {
  std::string bytes = bytes_of(std::vector<float>{1.5F, -2.0F, 3.25F, 0.0F});
  bytes += bytes_of(std::vector<std::uint8_t>{0, 3, 255});
  bytes += bytes_of(std::vector<std::uint16_t>{4, 60000});
  bytes += bytes_of(std::vector<std::int32_t>{-7, 123456});
  return bytes;
}

std::vector<TensorSpec> specs() {
  return {{"f", {2, 2}},
          {"q8", {3}},
          {"q16", {2}},
          {"i", {2}, TensorDType::kInt32}};
}

WeightMap parse(const std::string& manifest, const std::string& bytes,
                const std::vector<TensorSpec>& expected = specs()) {
  return WeightMap::parse(manifest, "test-manifest.json", {{"m.bin", bytes}}, expected);
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(WeightMap, DecodesEveryDtype) {
  const WeightMap map = parse(kManifest, shard_bytes());
  EXPECT_EQ(map.size(), 4U);

  const WeightTensor& f = map.at("f");
  EXPECT_EQ(f.dtype, TensorDType::kFloat32);
  EXPECT_EQ(f.shape, (std::vector<int>{2, 2}));
  EXPECT_EQ(f.values, (std::vector<float>{1.5F, -2.0F, 3.25F, 0.0F}));

  // q * scale + min
  const WeightTensor& q8 = map.at("q8");
  ASSERT_EQ(q8.values.size(), 3U);
  EXPECT_FLOAT_EQ(q8.values[0], -1.0F);
  EXPECT_FLOAT_EQ(q8.values[1], 0.5F);
  EXPECT_FLOAT_EQ(q8.values[2], 126.5F);

  const WeightTensor& q16 = map.at("q16");
  ASSERT_EQ(q16.values.size(), 2U);
  EXPECT_FLOAT_EQ(q16.values[0], 3.0F);
  EXPECT_FLOAT_EQ(q16.values[1], 15002.0F);

  const WeightTensor& i = map.at("i");
  EXPECT_EQ(i.dtype, TensorDType::kInt32);
  EXPECT_EQ(i.ints, (std::vector<std::int32_t>{-7, 123456}));
  EXPECT_TRUE(i.values.empty());
  EXPECT_EQ(i.element_count(), 2U);
}

TEST(WeightMap, NoExpectationsAcceptsAnyTensors) {
  const WeightMap map = parse(kManifest, shard_bytes(), {});
  EXPECT_EQ(map.size(), 4U);
  EXPECT_TRUE(map.contains("q16"));
  EXPECT_FALSE(map.contains("nope"));
  expect_error([&] { map.at("nope"); }, ErrorCode::kModelCorrupt, {"nope"});
}

TEST(WeightMap, ConcatenatesShardsOfOneGroupAndReadsSeveralGroups) {
  const std::string manifest = R"([
    {"paths": ["a.bin", "b.bin"], "weights": [{"name": "x", "shape": [3], "dtype": "float32"}]},
    {"paths": ["c.bin"], "weights": [{"name": "y", "shape": [1], "dtype": "int32"}]}
  ])";
  const std::string x = bytes_of(std::vector<float>{1.0F, 2.0F, 3.0F});
  // The tensor straddles the shard boundary, as TF.js shards do.
  const WeightMap map = WeightMap::parse(
      manifest, "m.json", {{"a.bin", x.substr(0, 5)}, {"b.bin", x.substr(5)}, {"c.bin", bytes_of(std::vector<std::int32_t>{9})}},
      {{"x", {3}}, {"y", {1}, TensorDType::kInt32}});
  EXPECT_EQ(map.at("x").values, (std::vector<float>{1.0F, 2.0F, 3.0F}));
  EXPECT_EQ(map.at("y").ints, (std::vector<std::int32_t>{9}));
}

TEST(WeightMap, TruncatedShardIsCorrupt) {
  const std::string bytes = shard_bytes();
  expect_error([&] { parse(kManifest, bytes.substr(0, bytes.size() - 1)); }, ErrorCode::kModelCorrupt,
               {"test-manifest.json", "'i'"});
  expect_error([&] { parse(kManifest, ""); }, ErrorCode::kModelCorrupt, {"'f'"});
}

TEST(WeightMap, ExtraShardBytesAreCorrupt) {
  expect_error([&] { parse(kManifest, shard_bytes() + "x"); }, ErrorCode::kModelCorrupt,
               {"test-manifest.json", "bytes"});
}

TEST(WeightMap, ShardAbsentFromParseInputIsCorrupt) {
  expect_error([&] { WeightMap::parse(kManifest, "test-manifest.json", {}, specs()); }, ErrorCode::kModelCorrupt,
               {"m.bin"});
}

TEST(WeightMap, InvalidJsonIsCorrupt) {
  expect_error([&] { parse("[{\"paths\": [", shard_bytes()); }, ErrorCode::kModelCorrupt,
               {"test-manifest.json", "JSON"});
  expect_error([&] { parse("{}", shard_bytes()); }, ErrorCode::kModelCorrupt, {"test-manifest.json"});
  expect_error([&] { parse(R"([{"paths": ["m.bin"]}])", shard_bytes()); }, ErrorCode::kModelCorrupt,
               {"weights"});
  expect_error([&] { parse(replaced(kManifest, R"("shape": [3])", R"("shape": [-3])"), shard_bytes()); },
               ErrorCode::kModelCorrupt, {"'q8'"});
  expect_error([&] { parse(replaced(kManifest, R"("shape": [3])", R"("shape": "3")"), shard_bytes()); },
               ErrorCode::kModelCorrupt, {"'q8'"});
}

TEST(WeightMap, UnknownDtypeIsCorruptAndNamed) {
  expect_error([&] { parse(replaced(kManifest, R"("int32"})", R"("bool"})"), shard_bytes()); },
               ErrorCode::kModelCorrupt, {"'i'", "bool"});
  expect_error(
      [&] { parse(replaced(kManifest, R"({"dtype": "uint16")", R"({"dtype": "float16")"), shard_bytes()); },
      ErrorCode::kModelCorrupt, {"'q16'", "float16"});
}

TEST(WeightMap, WrongShapeNamesTheTensor) {
  // Same element count, so only the shape check can object.
  std::vector<TensorSpec> expected = specs();
  expected[0].shape = {4, 1};
  expect_error([&] { parse(kManifest, shard_bytes(), expected); }, ErrorCode::kModelCorrupt,
               {"test-manifest.json", "'f'", "[2,2]", "[4,1]"});
  expected = specs();
  expected[2].shape = {2, 1};
  expect_error([&] { parse(kManifest, shard_bytes(), expected); }, ErrorCode::kModelCorrupt, {"'q16'"});
}

TEST(WeightMap, WrongDtypeNamesTheTensor) {
  std::vector<TensorSpec> expected = specs();
  expected[3].dtype = TensorDType::kFloat32;
  expect_error([&] { parse(kManifest, shard_bytes(), expected); }, ErrorCode::kModelCorrupt, {"'i'", "dtype"});
}

TEST(WeightMap, MissingTensorIsCorrupt) {
  std::vector<TensorSpec> expected = specs();
  expected.push_back({"absent/filters", {1}});
  expect_error([&] { parse(kManifest, shard_bytes(), expected); }, ErrorCode::kModelCorrupt,
               {"'absent/filters'", "missing"});
}

TEST(WeightMap, UnexpectedTensorIsCorrupt) {
  std::vector<TensorSpec> expected = specs();
  expected.erase(expected.begin() + 1);  // drop q8
  expect_error([&] { parse(kManifest, shard_bytes(), expected); }, ErrorCode::kModelCorrupt,
               {"unexpected", "'q8'"});
}

TEST(WeightMap, DuplicateTensorIsCorrupt) {
  const std::string manifest = replaced(kManifest, R"("name": "q16")", R"("name": "q8")");
  expect_error([&] { parse(manifest, shard_bytes(), {}); }, ErrorCode::kModelCorrupt, {"'q8'", "twice"});
}

// Found by fuzz/tfjs_weights_fuzz.cpp: a tensor with a zero-sized dimension memcpy'd 0 bytes
// to an empty vector's null data(), which is undefined. It parses, holding no values.
TEST(WeightMap, ZeroSizedTensorParsesEmpty) {
  const std::string manifest =
      R"([{"paths":["m.bin"],"weights":[{"name":"z","shape":[0,3],"dtype":"float32"},)"
      R"({"name":"zi","shape":[4,0],"dtype":"int32"},{"name":"a","shape":[],"dtype":"float32"}]}])";
  const WeightMap map = parse(manifest, bytes_of(std::vector<float>{1.5F}), {});
  EXPECT_EQ(map.at("z").element_count(), 0U);
  EXPECT_TRUE(map.at("z").values.empty());
  EXPECT_TRUE(map.at("zi").ints.empty());
  EXPECT_EQ(map.at("a").values, std::vector<float>{1.5F});
}

// Found by fuzz/tfjs_weights_fuzz.cpp: a non-string "dtype" escaped as nlohmann's type_error.
TEST(WeightMap, NonStringDtypeIsCorrupt) {
  expect_error([] { parse(replaced(kManifest, "\"dtype\": \"uint8\"", "\"dtype\": -1.0"), shard_bytes()); },
               ErrorCode::kModelCorrupt, {"q8", "\"dtype\" is not a string"});
  expect_error([] { parse(replaced(kManifest, "\"dtype\": \"int32\"", "\"dtype\": [\"int32\"]"), shard_bytes()); },
               ErrorCode::kModelCorrupt, {"'i'", "\"dtype\" is not a string"});
}

TEST(WeightMap, LoadReadsManifestAndShardsFromDisk) {
  TempDir dir;
  dir.write("model-weights_manifest.json", kManifest);
  dir.write("m.bin", shard_bytes());
  const WeightMap map = WeightMap::load(dir.path() / "model-weights_manifest.json", specs());
  EXPECT_FLOAT_EQ(map.at("q8").values[2], 126.5F);
  EXPECT_EQ(map.at("i").ints[1], 123456);
}

TEST(WeightMap, LoadMissingFilesAreModelMissing) {
  TempDir dir;
  const fs::path manifest = dir.path() / "model-weights_manifest.json";
  expect_error([&] { WeightMap::load(manifest, specs()); }, ErrorCode::kModelMissing,
               {"model-weights_manifest.json"});
  dir.write("model-weights_manifest.json", kManifest);
  expect_error([&] { WeightMap::load(manifest, specs()); }, ErrorCode::kModelMissing, {"m.bin"});
}

TEST(WeightMap, LoadTruncatedShardIsCorrupt) {
  TempDir dir;
  dir.write("model-weights_manifest.json", kManifest);
  const std::string bytes = shard_bytes();
  dir.write("m.bin", bytes.substr(0, bytes.size() - 3));
  expect_error([&] { WeightMap::load(dir.path() / "model-weights_manifest.json", specs()); },
               ErrorCode::kModelCorrupt, {"model-weights_manifest.json", "'i'"});
}

TEST(WeightMap, LoadRefusesShardPathsOutsideTheDirectory) {
  TempDir dir;
  // A real file where "../m.bin" and "sub/m.bin" would lead, so only the name check can refuse.
  fs::create_directories(dir.path() / "sub" / "inner");
  dir.write("m.bin", shard_bytes());
  std::ofstream(dir.path() / "sub" / "m.bin", std::ios::binary) << shard_bytes();
  const fs::path inner = dir.path() / "sub" / "inner" / "model-weights_manifest.json";
  const std::vector<std::string> bad_names = {"../m.bin", "m.bin/", "..", "inner/../m.bin", "..\\m.bin", ""};
  for (const std::string& bad : bad_names) {
    std::ofstream(inner, std::ios::binary | std::ios::trunc)
        << replaced(kManifest, R"(["m.bin"])", "[\"" + (bad == "..\\m.bin" ? std::string("..\\\\m.bin") : bad) + "\"]");
    expect_error([&] { WeightMap::load(inner, specs()); }, ErrorCode::kModelCorrupt, {"not a plain file name"});
  }
  const fs::path outer = dir.path() / "model-weights_manifest.json";
  std::ofstream(outer, std::ios::binary | std::ios::trunc) << replaced(kManifest, R"(["m.bin"])", R"(["sub/m.bin"])");
  expect_error([&] { WeightMap::load(outer, specs()); }, ErrorCode::kModelCorrupt, {"sub/m.bin"});
}

// TF conv filters are [kh, kw, cin, cout]; OpenCV wants [cout, cin, kh, kw].
TEST(DnnGraphLayout, ConvFiltersFromTf) {
  WeightTensor t;
  t.name = "conv/filters";
  t.shape = {2, 3, 4, 5};
  for (int i = 0; i < 2 * 3 * 4 * 5; ++i) t.values.push_back(static_cast<float>(i));
  const cv::Mat m = conv_filters_from_tf(t);
  ASSERT_EQ(m.dims, 4);
  EXPECT_EQ(m.size[0], 5);
  EXPECT_EQ(m.size[1], 4);
  EXPECT_EQ(m.size[2], 2);
  EXPECT_EQ(m.size[3], 3);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x)
      for (int i = 0; i < 4; ++i)
        for (int o = 0; o < 5; ++o) {
          const int index[] = {o, i, y, x};
          ASSERT_EQ(m.at<float>(index), t.values[((y * 3 + x) * 4 + i) * 5 + o]) << y << x << i << o;
        }
  t.shape = {2, 3, 20};
  expect_error([&] { conv_filters_from_tf(t); }, ErrorCode::kModelCorrupt, {"conv/filters"});
}

TEST(DnnGraphLayout, DepthwiseFiltersFromTf) {
  WeightTensor t;
  t.name = "dw";
  t.shape = {3, 2, 4, 1};
  for (int i = 0; i < 24; ++i) t.values.push_back(static_cast<float>(i) * 0.5F);
  const cv::Mat m = depthwise_filters_from_tf(t);
  ASSERT_EQ(m.dims, 4);
  EXPECT_EQ(m.size[0], 4);
  EXPECT_EQ(m.size[1], 1);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 2; ++x)
      for (int c = 0; c < 4; ++c) {
        const int index[] = {c, 0, y, x};
        ASSERT_EQ(m.at<float>(index), t.values[(y * 2 + x) * 4 + c]);
      }
}

// TF dense weights are [in, out]; OpenCV's InnerProduct wants [out, in].
TEST(DnnGraphLayout, DenseFromTf) {
  WeightTensor t;
  t.name = "fc";
  t.shape = {3, 2};
  t.values = {1, 2, 3, 4, 5, 6};  // rows are inputs
  const cv::Mat m = dense_from_tf(t);
  ASSERT_EQ(m.rows, 2);
  ASSERT_EQ(m.cols, 3);
  EXPECT_EQ(m.at<float>(0, 0), 1.0F);
  EXPECT_EQ(m.at<float>(0, 1), 3.0F);
  EXPECT_EQ(m.at<float>(0, 2), 5.0F);
  EXPECT_EQ(m.at<float>(1, 0), 2.0F);
  EXPECT_EQ(m.at<float>(1, 2), 6.0F);
  // y = W x with W from dense_from_tf matches TF's x^T * weights.
  const cv::Mat x = (cv::Mat_<float>(3, 1) << 1, -1, 2);
  const cv::Mat y = m * x;
  EXPECT_FLOAT_EQ(y.at<float>(0), 1 * 1 + 3 * -1 + 5 * 2);
  EXPECT_FLOAT_EQ(y.at<float>(1), 2 * 1 + 4 * -1 + 6 * 2);
}

}  // namespace
}  // namespace siamface
