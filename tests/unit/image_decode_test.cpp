// Every bad input gets a clear Error and no crash; every good one decodes to 8-bit BGR with
// the right pixels. All inputs are generated here (cv::imencode, libjpeg, or raw bytes).
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <jpeglib.h>  // after <cstdio>: it needs FILE

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "common/test_env.hpp"
#include "image/cv_image.hpp"
#include "image_test_support.hpp"
#include "siamface/errors.hpp"
#include "siamface/image.hpp"

namespace siamface {
namespace {

namespace fs = std::filesystem;
using namespace test;  // image_test_support.hpp

class ImageDecodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("siamface_decode_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const Bytes& bytes) {
    const fs::path path = dir_ / name;
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    return path.string();
  }

  fs::path dir_;
};

// Offset of the first SOFn segment's marker in an encoded JPEG.
std::size_t find_sof(const Bytes& jpeg) {
  for (std::size_t i = 2; i + 1 < jpeg.size(); ++i) {
    if (jpeg[i] == 0xFF && (jpeg[i + 1] == 0xC0 || jpeg[i + 1] == 0xC2)) return i;
  }
  ADD_FAILURE() << "no SOF";
  return 0;
}

TEST_F(ImageDecodeTest, ZeroByteFileIsInvalid) {
  const std::string path = write("empty.jpg", {});
  const std::string msg = expect_error(ErrorCode::kInvalidImage, [&] { load_image(path); });
  EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  expect_error(ErrorCode::kInvalidImage, [] { decode_image({}); });
}

TEST_F(ImageDecodeTest, TextFileNamedJpgIsInvalid) {
  const std::string text = "<html><body>not an image</body></html>\n";
  const std::string path = write("page.jpg", Bytes(text.begin(), text.end()));
  const std::string msg = expect_error(ErrorCode::kInvalidImage, [&] { load_image(path); });
  EXPECT_NE(msg.find("unrecognised image format"), std::string::npos) << msg;
  // "BM" prefix alone must not be taken for a bitmap.
  const std::string bm = "BMW is a car maker, not a bitmap header at all.";
  expect_error(ErrorCode::kInvalidImage, [&] { decode_image(Bytes(bm.begin(), bm.end())); });
}

TEST_F(ImageDecodeTest, GarbageAfterMagicIsInvalid) {
  Bytes jpeg = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00};  // cut inside the first segment
  expect_error(ErrorCode::kInvalidImage, [&] { decode_image(jpeg); });
  Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0};
  expect_error(ErrorCode::kInvalidImage, [&] { decode_image(png); });
  // JPEG magic, then noise with no marker in it.
  cv::RNG rng(7);
  Bytes noise(4096);
  rng.fill(noise, cv::RNG::UNIFORM, 0, 255);
  noise[0] = 0xFF;
  noise[1] = 0xD8;
  noise[2] = 0xFF;
  noise[3] = 0xE0;
  const std::string msg = expect_error(ErrorCode::kInvalidImage, [&] { decode_image(noise); });
  EXPECT_NE(msg.find("JPEG"), std::string::npos) << msg;
  // A valid PNG header followed by a corrupt body: libpng fails, we answer cleanly.
  Bytes png_body = encode(gradient(20, 20), ".png");
  for (std::size_t i = 40; i < png_body.size() - 12; ++i) png_body[i] ^= 0x5A;
  expect_error(ErrorCode::kInvalidImage, [&] { decode_image(png_body); });
}

TEST_F(ImageDecodeTest, TruncatedJpegIsRejected) {
  cv::Mat noisy(200, 200, CV_8UC3);
  cv::randu(noisy, 0, 255);
  const Bytes full = encode(noisy, ".jpg");
  EXPECT_EQ(decode_image(full).width, 200);
  const Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(full.size() * 6 / 10));
  const std::string msg = expect_error(ErrorCode::kInvalidImage, [&] { decode_image(cut); });
  EXPECT_NE(msg.find("truncated JPEG"), std::string::npos) << msg;
  // Cut inside the headers too.
  const Bytes tiny(full.begin(), full.begin() + 40);
  expect_error(ErrorCode::kInvalidImage, [&] { decode_image(tiny); });
}

TEST_F(ImageDecodeTest, TrailingBytesAfterEoiAreAccepted) {
  Bytes jpeg = encode(gradient(32, 16), ".jpg");
  for (int i = 0; i < 100; ++i) jpeg.push_back(static_cast<std::uint8_t>(i));
  const Image image = decode_image(jpeg);
  EXPECT_EQ(image.width, 32);
  EXPECT_EQ(image.height, 16);
}

TEST_F(ImageDecodeTest, HugePngHeaderIsRejectedBeforeDecoding) {
  Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  put_be32(png, 13);
  const std::size_t type_at = png.size();
  for (char c : std::string("IHDR")) png.push_back(static_cast<std::uint8_t>(c));
  put_be32(png, 30000);
  put_be32(png, 30000);
  for (std::uint8_t b : {8, 2, 0, 0, 0}) png.push_back(b);  // 8-bit RGB
  put_be32(png, crc32(png.data() + type_at, png.size() - type_at));
  put_be32(png, 0);
  const std::size_t iend_at = png.size();
  for (char c : std::string("IEND")) png.push_back(static_cast<std::uint8_t>(c));
  put_be32(png, crc32(png.data() + iend_at, 4));

  const std::string path = write("huge.png", png);
  const auto start = std::chrono::steady_clock::now();
  const std::string msg = expect_error(ErrorCode::kImageTooLarge, [&] { load_image(path); });
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count(), 200);
  EXPECT_NE(msg.find("30000x30000"), std::string::npos) << msg;
}

TEST_F(ImageDecodeTest, HugeJpegSofIsRejectedBeforeDecoding) {
  Bytes jpeg = encode(gradient(16, 16), ".jpg");
  const std::size_t sof = find_sof(jpeg);
  jpeg[sof + 5] = 20000 >> 8;  // height
  jpeg[sof + 6] = 20000 & 0xFF;
  jpeg[sof + 7] = 20000 >> 8;  // width
  jpeg[sof + 8] = 20000 & 0xFF;
  const auto start = std::chrono::steady_clock::now();
  const std::string msg = expect_error(ErrorCode::kImageTooLarge, [&] { decode_image(jpeg); });
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count(), 200);
  EXPECT_NE(msg.find("20000x20000"), std::string::npos) << msg;
}

TEST_F(ImageDecodeTest, PixelLimitIsExactForEveryFormat) {
  const cv::Mat picture = gradient(64, 48);
  const std::vector<std::pair<std::string, std::vector<int>>> formats = {
      {".jpg", {}},
      {".png", {}},
      {".bmp", {}},
      {".tiff", {}},
      {".ppm", {}},
      {".webp", {cv::IMWRITE_WEBP_QUALITY, 80}},   // lossy: VP8
      {".webp", {cv::IMWRITE_WEBP_QUALITY, 101}},  // lossless: VP8L
  };
  for (const auto& [ext, params] : formats) {
    SCOPED_TRACE(ext);
    const Bytes bytes = encode(picture, ext, params);
    DecodeOptions exact;
    exact.max_pixels = 64 * 48;
    const Image image = decode_image(bytes, exact);
    EXPECT_EQ(image.width, 64);
    EXPECT_EQ(image.height, 48);
    EXPECT_EQ(image.bgr.size(), 64U * 48U * 3U);
    DecodeOptions one_less;
    one_less.max_pixels = 64 * 48 - 1;
    const std::string msg =
        expect_error(ErrorCode::kImageTooLarge, [&] { decode_image(bytes, one_less); });
    EXPECT_NE(msg.find("64x48"), std::string::npos) << msg;
  }
}

TEST_F(ImageDecodeTest, WebpExtendedHeaderIsChecked) {
  // RIFF/WEBP with a VP8X chunk claiming a 20000x20000 canvas, nothing else.
  Bytes webp;
  for (char c : std::string("RIFF")) webp.push_back(static_cast<std::uint8_t>(c));
  for (std::uint8_t b : {22, 0, 0, 0}) webp.push_back(b);
  for (char c : std::string("WEBPVP8X")) webp.push_back(static_cast<std::uint8_t>(c));
  for (std::uint8_t b : {10, 0, 0, 0, 0, 0, 0, 0}) webp.push_back(b);
  const std::uint32_t side = 20000 - 1;
  for (int k = 0; k < 2; ++k) {
    for (int shift = 0; shift < 24; shift += 8)
      webp.push_back(static_cast<std::uint8_t>(side >> shift));
  }
  const std::string msg = expect_error(ErrorCode::kImageTooLarge, [&] { decode_image(webp); });
  EXPECT_NE(msg.find("20000x20000"), std::string::npos) << msg;
}

TEST_F(ImageDecodeTest, OneByOneImageDecodes) {
  cv::Mat one(1, 1, CV_8UC3, cv::Scalar(10, 200, 30));
  for (const std::string ext : {".png", ".jpg", ".bmp"}) {
    SCOPED_TRACE(ext);
    const Image image = decode_image(encode(one, ext));
    ASSERT_EQ(image.width, 1);
    ASSERT_EQ(image.height, 1);
    expect_near(pixel(image, 0, 0), {10, 200, 30}, ext == ".jpg" ? 12 : 0);
  }
}

TEST_F(ImageDecodeTest, GrayscalePngBecomesBgr) {
  cv::Mat grey(8, 16, CV_8UC1);
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 16; ++x) grey.at<uchar>(y, x) = static_cast<uchar>(x * 16 + y);
  }
  const Image image = decode_image(encode(grey, ".png"));
  ASSERT_EQ(image.width, 16);
  ASSERT_EQ(image.height, 8);
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 16; ++x) {
      const auto v = static_cast<uchar>(x * 16 + y);
      ASSERT_EQ(pixel(image, x, y), cv::Vec3b(v, v, v)) << x << "," << y;
    }
  }
}

TEST_F(ImageDecodeTest, SixteenBitPngBecomesEightBitBgr) {
  cv::Mat deep(4, 4, CV_16UC3);
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 4; ++x) {
      const int v = (y * 4 + x) * 17;  // 0..255
      deep.at<cv::Vec3w>(y, x) = {static_cast<ushort>(v * 257), static_cast<ushort>(255 * 257),
                                  static_cast<ushort>((255 - v) * 257)};
    }
  }
  const Image image = decode_image(encode(deep, ".png"));
  ASSERT_EQ(image.width, 4);
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 4; ++x) {
      const int v = (y * 4 + x) * 17;
      EXPECT_EQ(pixel(image, x, y),
                cv::Vec3b(static_cast<uchar>(v), 255, static_cast<uchar>(255 - v)));
    }
  }
}

TEST_F(ImageDecodeTest, RgbaPngDropsAlpha) {
  cv::Mat bgra(2, 2, CV_8UC4);
  bgra.at<cv::Vec4b>(0, 0) = {10, 20, 30, 0};
  bgra.at<cv::Vec4b>(0, 1) = {200, 100, 50, 255};
  bgra.at<cv::Vec4b>(1, 0) = {1, 2, 3, 128};
  bgra.at<cv::Vec4b>(1, 1) = {255, 255, 255, 7};
  const Image image = decode_image(encode(bgra, ".png"));
  ASSERT_EQ(image.width, 2);
  EXPECT_EQ(pixel(image, 0, 0), cv::Vec3b(10, 20, 30));
  EXPECT_EQ(pixel(image, 1, 0), cv::Vec3b(200, 100, 50));
  EXPECT_EQ(pixel(image, 0, 1), cv::Vec3b(1, 2, 3));
  EXPECT_EQ(pixel(image, 1, 1), cv::Vec3b(255, 255, 255));
}

// libjpeg is OpenCV's own JPEG codec, so it is always present; the test executable does not
// link it directly (tests/CMakeLists.txt links OpenCV only), hence dlopen.
Bytes cmyk_jpeg(int width, int height, const std::vector<std::uint8_t>& cmyk) {
  void* lib = dlopen("libjpeg.so.62", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    ADD_FAILURE() << "cannot dlopen libjpeg.so.62: " << dlerror();
    return {};
  }
  auto sym = [&](const char* name) {
    void* f = dlsym(lib, name);
    EXPECT_NE(f, nullptr) << name;
    return f;
  };
  auto std_error = reinterpret_cast<jpeg_error_mgr* (*)(jpeg_error_mgr*)>(sym("jpeg_std_error"));
  auto create = reinterpret_cast<void (*)(j_compress_ptr, int, size_t)>(sym("jpeg_CreateCompress"));
  auto mem_dest = reinterpret_cast<void (*)(j_compress_ptr, unsigned char**, unsigned long*)>(
      sym("jpeg_mem_dest"));
  auto set_defaults = reinterpret_cast<void (*)(j_compress_ptr)>(sym("jpeg_set_defaults"));
  auto set_colorspace =
      reinterpret_cast<void (*)(j_compress_ptr, J_COLOR_SPACE)>(sym("jpeg_set_colorspace"));
  auto set_quality =
      reinterpret_cast<void (*)(j_compress_ptr, int, boolean)>(sym("jpeg_set_quality"));
  auto start = reinterpret_cast<void (*)(j_compress_ptr, boolean)>(sym("jpeg_start_compress"));
  auto write_lines = reinterpret_cast<JDIMENSION (*)(j_compress_ptr, JSAMPARRAY, JDIMENSION)>(
      sym("jpeg_write_scanlines"));
  auto finish = reinterpret_cast<void (*)(j_compress_ptr)>(sym("jpeg_finish_compress"));
  auto destroy = reinterpret_cast<void (*)(j_compress_ptr)>(sym("jpeg_destroy_compress"));

  jpeg_compress_struct cinfo{};
  jpeg_error_mgr jerr{};
  cinfo.err = std_error(&jerr);
  create(&cinfo, JPEG_LIB_VERSION, sizeof(cinfo));
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = static_cast<JDIMENSION>(width);
  cinfo.image_height = static_cast<JDIMENSION>(height);
  cinfo.input_components = 4;
  cinfo.in_color_space = JCS_CMYK;
  set_defaults(&cinfo);
  set_colorspace(&cinfo, JCS_CMYK);  // also writes the Adobe APP14 marker
  set_quality(&cinfo, 100, TRUE);
  start(&cinfo, TRUE);
  std::vector<std::uint8_t> row_copy(cmyk);
  for (int y = 0; y < height; ++y) {
    JSAMPROW row = row_copy.data() + static_cast<std::size_t>(y) * width * 4;
    write_lines(&cinfo, &row, 1);
  }
  finish(&cinfo);
  Bytes out(buffer, buffer + size);
  destroy(&cinfo);
  std::free(buffer);
  dlclose(lib);
  return out;
}

TEST_F(ImageDecodeTest, CmykJpegBecomesBgr) {
  // Adobe CMYK JPEGs store inverted ink (255 = no ink), which is what OpenCV expects.
  const int w = 32;
  const int h = 16;
  std::vector<std::uint8_t> cmyk(static_cast<std::size_t>(w) * h * 4);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      std::uint8_t* p = &cmyk[(static_cast<std::size_t>(y) * w + x) * 4];
      const bool right = x >= w / 2;
      p[0] = 255;              // no cyan
      p[1] = right ? 0 : 255;  // full magenta on the right
      p[2] = 255;              // no yellow
      p[3] = 255;              // no black
    }
  }
  const Bytes jpeg = cmyk_jpeg(w, h, cmyk);
  ASSERT_FALSE(jpeg.empty());
  const Image image = decode_image(jpeg);
  ASSERT_EQ(image.width, w);
  ASSERT_EQ(image.height, h);
  expect_near(pixel(image, 4, 8), {255, 255, 255}, 6);  // white
  expect_near(pixel(image, 27, 8), {255, 0, 255}, 6);   // magenta (B=255, G=0, R=255)
}

// Inserts an APP1 Exif segment with only Orientation=`orientation` right after SOI.
Bytes with_exif_orientation(const Bytes& jpeg, std::uint8_t orientation) {
  // clang-format off
  const Bytes app1 = {0xFF, 0xE1, 0x00, 0x22,                      // APP1, length 34
                      'E',  'x',  'i',  'f',  0,    0,             // Exif header
                      'M',  'M',  0x00, 0x2A, 0,    0, 0, 8,       // big-endian TIFF, IFD at 8
                      0x00, 0x01,                                  // one entry
                      0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1,          // Orientation, SHORT, 1
                      0x00, orientation, 0, 0,                     // value
                      0,    0,    0,    0};                        // no next IFD
  // clang-format on
  Bytes out(jpeg.begin(), jpeg.begin() + 2);
  out.insert(out.end(), app1.begin(), app1.end());
  out.insert(out.end(), jpeg.begin() + 2, jpeg.end());
  return out;
}

TEST_F(ImageDecodeTest, ExifOrientationIsApplied) {
  // 40x20, red top-left 10x10 corner on blue.
  cv::Mat stored(20, 40, CV_8UC3, cv::Scalar(255, 0, 0));
  stored(cv::Rect(0, 0, 10, 10)).setTo(cv::Scalar(0, 0, 255));
  const Bytes jpeg =
      with_exif_orientation(encode(stored, ".jpg", {cv::IMWRITE_JPEG_QUALITY, 95}), 6);

  // Orientation 6: rotate 90 degrees clockwise to display. Stored (x, y) -> (H-1-y, x).
  const Image rotated = decode_image(jpeg);
  ASSERT_EQ(rotated.width, 20);
  ASSERT_EQ(rotated.height, 40);
  expect_near(pixel(rotated, 15, 4), {0, 0, 255}, 40);  // the red corner is now top-right
  expect_near(pixel(rotated, 4, 4), {255, 0, 0}, 40);
  expect_near(pixel(rotated, 15, 30), {255, 0, 0}, 40);

  DecodeOptions raw;
  raw.apply_exif_orientation = false;
  const Image as_stored = decode_image(jpeg, raw);
  ASSERT_EQ(as_stored.width, 40);
  ASSERT_EQ(as_stored.height, 20);
  expect_near(pixel(as_stored, 4, 4), {0, 0, 255}, 40);
  expect_near(pixel(as_stored, 30, 4), {255, 0, 0}, 40);
}

TEST_F(ImageDecodeTest, FormatComesFromBytesNotName) {
  const cv::Mat picture = gradient(30, 20);
  const std::string path =
      write("actually_webp.jpg", encode(picture, ".webp", {cv::IMWRITE_WEBP_QUALITY, 101}));
  const Image image = load_image(path);
  ASSERT_EQ(image.width, 30);
  ASSERT_EQ(image.height, 20);
  EXPECT_EQ(pixel(image, 29, 19), picture.at<cv::Vec3b>(19, 29));  // lossless
  EXPECT_EQ(pixel(image, 0, 0), picture.at<cv::Vec3b>(0, 0));
  const std::string png_path = write("actually_png.webp", encode(picture, ".png"));
  EXPECT_EQ(load_image(png_path).width, 30);
}

TEST_F(ImageDecodeTest, DirectoryAndMissingFileAreIoErrors) {
  const std::string dir_msg = expect_error(ErrorCode::kIo, [&] { load_image(dir_.string()); });
  EXPECT_NE(dir_msg.find("directory"), std::string::npos) << dir_msg;
  const std::string missing = (dir_ / "nope.jpg").string();
  const std::string msg = expect_error(ErrorCode::kIo, [&] { load_image(missing); });
  EXPECT_NE(msg.find(missing), std::string::npos) << msg;
}

TEST_F(ImageDecodeTest, OversizedFileIsRefusedWithoutReading) {
  const fs::path path = dir_ / "big.jpg";
  { std::ofstream(path, std::ios::binary).put('\xFF'); }
  fs::resize_file(path, static_cast<std::uintmax_t>(kMaxImageFileBytes) + 1);  // sparse
  const std::string msg =
      expect_error(ErrorCode::kImageTooLarge, [&] { load_image(path.string()); });
  EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
}

TEST_F(ImageDecodeTest, BadMaxPixelsIsInvalidArgument) {
  DecodeOptions options;
  options.max_pixels = 0;
  expect_error(ErrorCode::kInvalidArgument,
               [&] { decode_image(encode(gradient(4, 4), ".png"), options); });
}

TEST_F(ImageDecodeTest, SaveAndReload) {
  const Image original = from_mat(gradient(24, 12));
  const std::string path = (dir_ / "out.png").string();
  save_image(original, path);
  const Image reloaded = load_image(path);
  EXPECT_EQ(reloaded.width, 24);
  EXPECT_EQ(reloaded.bgr, original.bgr);

  save_image(original, (dir_ / "out.jpg").string());
  EXPECT_EQ(load_image((dir_ / "out.jpg").string()).height, 12);

  expect_error(ErrorCode::kIo,
               [&] { save_image(original, (dir_ / "no/such/dir/x.png").string()); });
  expect_error(ErrorCode::kIo, [&] { save_image(original, (dir_ / "x.unknownext").string()); });
  expect_error(ErrorCode::kInvalidArgument,
               [&] { save_image(Image{}, (dir_ / "e.png").string()); });
}

// Found by fuzz/image_decode_fuzz.cpp: a BigTIFF whose width is near 2^63 made the pixel-limit
// check multiply width by height and overflow (undefined behaviour). It must be refused as too large.
TEST_F(ImageDecodeTest, HugeTiffSizesDoNotOverflowThePixelCheck) {
  const Bytes fuzz_crash = {
      0x49, 0x49, 0x2b, 0x00, 0x08, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x10, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x10, 0x00, 0x01, 0x00, 0x0c,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xfc, 0xff, 0xff, 0x2f, 0x76, 0x73, 0x69, 0x63, 0x75, 0x72, 0x6c,
      0x3f, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x27, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  expect_error(ErrorCode::kImageTooLarge, [&] { decode_image(fuzz_crash); });
  // Classic TIFF: 0xFFFFFFFF x 0xFFFFFFFF (LONG tags) overflows int64 too.
  const Bytes classic = {'I', 'I', 42, 0, 8, 0, 0, 0,  // header, first IFD at 8
                         2, 0,                         // two entries
                         0x00, 0x01, 4, 0, 1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,  // ImageWidth LONG
                         0x01, 0x01, 4, 0, 1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,  // ImageLength LONG
                         0, 0, 0, 0};
  const std::string msg = expect_error(ErrorCode::kImageTooLarge, [&] { decode_image(classic); });
  EXPECT_NE(msg.find("4294967295x4294967295"), std::string::npos) << msg;
}

// cv::imdecode chooses its decoder by signature: a file whose own decoder refuses its header
// fell through to GDCM's DICOM reader ("DICM" at byte 128), which aborted the process on this
// input (found by image_decode_fuzz: a WebP header libwebp will not read, plus a DICOM tag; kept
// as a seed of its corpus).
TEST_F(ImageDecodeTest, DicomSignatureNeverReachesGdcm) {
  const Bytes crash = fuzz_finding("webp_with_dicom_signature");
  ASSERT_EQ(crash.size(), 152U);
  std::string msg = expect_error(ErrorCode::kInvalidImage, [&] { decode_image(crash); });
  EXPECT_NE(msg.find("DICOM signature"), std::string::npos) << msg;

  // The rule holds for every format, not only WebP: a PNG patched the same way is refused too,
  // while the unpatched PNG decodes.
  cv::Mat noise(64, 64, CV_8UC3);
  cv::randu(noise, 0, 256);
  Bytes png = encode(noise, ".png");
  ASSERT_GT(png.size(), 132U);
  EXPECT_EQ(decode_image(png).width, 64);
  std::copy_n("DICM", 4, png.begin() + 128);
  msg = expect_error(ErrorCode::kInvalidImage, [&] { decode_image(png); });
  EXPECT_NE(msg.find("ambiguous PNG"), std::string::npos) << msg;
}

TEST(CvImageTest, AsMatWrapsWithoutCopyAndFromMatConverts) {
  Image image = from_mat(gradient(5, 3));
  cv::Mat view = as_mat(image);
  ASSERT_EQ(view.type(), CV_8UC3);
  EXPECT_EQ(view.data, image.bgr.data());
  view.at<cv::Vec3b>(1, 2) = {1, 2, 3};
  EXPECT_EQ(image.bgr[(1 * 5 + 2) * 3 + 2], 3);

  cv::Mat grey(2, 2, CV_8UC1, cv::Scalar(77));
  EXPECT_EQ(pixel(from_mat(grey), 1, 1), cv::Vec3b(77, 77, 77));
  cv::Mat bgra(2, 2, CV_8UC4, cv::Scalar(1, 2, 3, 4));
  EXPECT_EQ(pixel(from_mat(bgra), 0, 1), cv::Vec3b(1, 2, 3));
  cv::Mat big = gradient(10, 10);
  const Image roi = from_mat(big(cv::Rect(2, 3, 4, 5)));  // non-continuous source
  EXPECT_EQ(pixel(roi, 0, 0), big.at<cv::Vec3b>(3, 2));

  Image broken;
  broken.width = 4;
  broken.height = 4;
  broken.bgr.resize(10);
  expect_error(ErrorCode::kInvalidArgument, [&] { as_mat(broken); });
}

}  // namespace
}  // namespace siamface
