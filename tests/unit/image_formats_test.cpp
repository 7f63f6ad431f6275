// GIF, PBM/PGM/PPM, HEIF and AVIF decoding, and EXIF orientation across formats. Every input
// is made here at run time: GIF with giflib's encoder, Netpbm by OpenCV or by hand, HEIF
// (x265) and AVIF (aom) with libheif's encoder, which Debian 12's libheif1 has built in.
#include <gif_lib.h>
#include <gtest/gtest.h>
#include <libheif/heif.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "image/cv_image.hpp"
#include "image_test_support.hpp"
#include "siamface/errors.hpp"
#include "siamface/image.hpp"

// LeakSanitizer (asan preset): x265, the HEVC encoder that makes this test's HEIF inputs, keeps
// a few buffers past heif_encoder_release. The hook is LSan's documented way to suppress from
// inside one executable; other builds never call it.
extern "C" const char* __lsan_default_suppressions() { return "leak:libx265.so\n"; }

namespace siamface {
namespace {

using namespace test;  // image_test_support.hpp

Bytes text_bytes(const std::string& text) { return Bytes(text.begin(), text.end()); }

DecodeOptions limit(std::int64_t max_pixels) {
  DecodeOptions options;
  options.max_pixels = max_pixels;
  return options;
}

DecodeOptions stored_orientation() {
  DecodeOptions options;
  options.apply_exif_orientation = false;
  return options;
}

// Mean absolute difference per channel value; for lossy formats.
double mean_abs_diff(const Image& a, const Image& b) {
  EXPECT_EQ(a.width, b.width);
  EXPECT_EQ(a.height, b.height);
  if (a.width != b.width || a.height != b.height) return 255;
  return cv::norm(as_mat(a), as_mat(b), cv::NORM_L1) / static_cast<double>(a.bgr.size());
}

template <typename Fn>
std::int64_t elapsed_ms(Fn&& fn) {
  const auto start = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

// ---------------------------------------------------------------- GIF (giflib's encoder)

struct GifFrame {
  int left = 0;
  int top = 0;
  int width = 0;
  int height = 0;
  bool interlace = false;
  int transparent = NO_TRANSPARENT_COLOR;
  bool local_palette = false;  // its own table: the global one reversed
  std::vector<std::uint8_t> indexes;  // width x height, top row first
};

int append_output(GifFileType* gif, const GifByteType* data, int count) {
  auto* out = static_cast<Bytes*>(gif->UserData);
  out->insert(out->end(), data, data + count);
  return count;
}

// An 8-colour global palette: index i is (R, G, B) = (i*30, 255 - i*30, i % 2 * 200).
Bytes write_gif(int screen_width, int screen_height, int background,
                const std::vector<GifFrame>& frames) {
  Bytes out;
  int error = 0;
  GifFileType* gif = EGifOpen(&out, append_output, &error);
  if (gif == nullptr) {
    ADD_FAILURE() << "EGifOpen: " << GifErrorString(error);
    return {};
  }
  EGifSetGifVersion(gif, true);
  ColorMapObject* palette = GifMakeMapObject(8, nullptr);
  for (int i = 0; i < 8; ++i) {
    palette->Colors[i] = {static_cast<GifByteType>(i * 30), static_cast<GifByteType>(255 - i * 30),
                          static_cast<GifByteType>(i % 2 * 200)};
  }
  EXPECT_EQ(EGifPutScreenDesc(gif, screen_width, screen_height, 8, background, palette), GIF_OK);
  for (const GifFrame& frame : frames) {
    GraphicsControlBlock gcb{};
    gcb.TransparentColor = frame.transparent;
    GifByteType extension[4];
    const auto length = EGifGCBToExtension(&gcb, extension);
    EXPECT_EQ(EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, static_cast<int>(length), extension),
              GIF_OK);
    ColorMapObject* local = nullptr;
    if (frame.local_palette) {
      local = GifMakeMapObject(8, nullptr);
      for (int i = 0; i < 8; ++i) local->Colors[i] = palette->Colors[7 - i];
    }
    EXPECT_EQ(EGifPutImageDesc(gif, frame.left, frame.top, frame.width, frame.height,
                               frame.interlace, local),
              GIF_OK);
    if (local != nullptr) GifFreeMapObject(local);
    std::vector<int> rows;
    if (frame.interlace) {  // the encoder takes rows in the order they are stored
      for (auto [start, step] : {std::pair{0, 8}, {4, 8}, {2, 4}, {1, 2}}) {
        for (int y = start; y < frame.height; y += step) rows.push_back(y);
      }
    } else {
      for (int y = 0; y < frame.height; ++y) rows.push_back(y);
    }
    for (int y : rows) {
      std::vector<GifPixelType> line(frame.indexes.begin() + y * frame.width,
                                     frame.indexes.begin() + (y + 1) * frame.width);
      EXPECT_EQ(EGifPutLine(gif, line.data(), frame.width), GIF_OK);
    }
  }
  EXPECT_EQ(EGifCloseFile(gif, &error), GIF_OK);
  GifFreeMapObject(palette);
  return out;
}

cv::Vec3b palette_bgr(int index) {
  return {static_cast<uchar>(index % 2 * 200), static_cast<uchar>(255 - index * 30),
          static_cast<uchar>(index * 30)};
}

// Index of a pixel in a frame: position recoverable from it, every palette entry used.
GifFrame pattern_frame(int width, int height) {
  GifFrame frame;
  frame.width = width;
  frame.height = height;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x)
      frame.indexes.push_back(static_cast<std::uint8_t>((x + 3 * y) % 8));
  }
  return frame;
}

void expect_frame_pixels(const Image& image, const GifFrame& frame) {
  for (int y = 0; y < frame.height; ++y) {
    for (int x = 0; x < frame.width; ++x) {
      const int index = frame.indexes[static_cast<std::size_t>(y * frame.width + x)];
      if (index == frame.transparent) continue;
      const cv::Vec3b want = palette_bgr(frame.local_palette ? 7 - index : index);
      ASSERT_EQ(pixel(image, frame.left + x, frame.top + y), want) << x << "," << y;
    }
  }
}

TEST(GifDecodeTest, FirstFrameDecodesExactly) {
  for (bool interlace : {false, true}) {
    SCOPED_TRACE(interlace ? "interlaced" : "progressive");
    GifFrame frame = pattern_frame(37, 21);
    frame.interlace = interlace;
    const Bytes gif = write_gif(37, 21, 0, {frame});
    ASSERT_FALSE(gif.empty());
    const Image image = decode_image(gif, limit(37 * 21));
    ASSERT_EQ(image.width, 37);
    ASSERT_EQ(image.height, 21);
    expect_frame_pixels(image, frame);
    const std::string msg =
        expect_error(ErrorCode::kImageTooLarge, [&] { decode_image(gif, limit(37 * 21 - 1)); });
    EXPECT_NE(msg.find("GIF image is 37x21"), std::string::npos) << msg;
  }
}

TEST(GifDecodeTest, OffsetFrameTransparencyAndLaterFrames) {
  // A 10x6 first frame at (5, 3) on a 20x12 screen with background index 6; index 2 is
  // transparent. The second frame covers everything and must be ignored.
  GifFrame first = pattern_frame(10, 6);
  first.left = 5;
  first.top = 3;
  first.transparent = 2;
  GifFrame second = pattern_frame(20, 12);
  std::fill(second.indexes.begin(), second.indexes.end(), 7);
  const Image image = decode_image(write_gif(20, 12, 6, {first, second}));
  ASSERT_EQ(image.width, 20);
  ASSERT_EQ(image.height, 12);
  expect_frame_pixels(image, first);
  EXPECT_EQ(pixel(image, 0, 0), palette_bgr(6));  // outside the frame
  EXPECT_EQ(pixel(image, 19, 11), palette_bgr(6));
  int transparent_seen = 0;
  for (int y = 0; y < first.height; ++y) {
    for (int x = 0; x < first.width; ++x) {
      if (first.indexes[static_cast<std::size_t>(y * first.width + x)] != 2) continue;
      EXPECT_EQ(pixel(image, first.left + x, first.top + y), palette_bgr(6));
      ++transparent_seen;
    }
  }
  EXPECT_GT(transparent_seen, 0);
}

TEST(GifDecodeTest, LocalColourTableOverridesTheGlobalOne) {
  GifFrame frame = pattern_frame(6, 4);
  frame.left = 2;
  frame.local_palette = true;
  const Image image = decode_image(write_gif(8, 4, 3, {frame}));
  expect_frame_pixels(image, frame);
  EXPECT_EQ(pixel(image, 0, 0), palette_bgr(3));  // background: from the global table
  EXPECT_NE(palette_bgr(0), palette_bgr(7));
}

TEST(GifDecodeTest, FrameBeyondTheScreenWidensTheCanvas) {
  GifFrame frame = pattern_frame(8, 8);
  frame.left = 6;
  const Image image = decode_image(write_gif(10, 8, 0, {frame}));
  EXPECT_EQ(image.width, 14);
  EXPECT_EQ(image.height, 8);
  expect_frame_pixels(image, frame);
}

TEST(GifDecodeTest, EveryTruncationIsRejected) {
  const Bytes gif = write_gif(16, 16, 0, {pattern_frame(16, 16)});
  ASSERT_GT(gif.size(), 40U);
  // The last two bytes are the data sub-block terminator and the trailer: without the trailer
  // the first frame is whole, so only shorter cuts must fail.
  for (std::size_t size = 1; size + 2 < gif.size(); ++size) {
    SCOPED_TRACE(size);
    const Bytes cut(gif.begin(), gif.begin() + static_cast<std::ptrdiff_t>(size));
    expect_error(ErrorCode::kInvalidImage, [&] { decode_image(cut); });
  }
  const Bytes cut(gif.begin(), gif.begin() + static_cast<std::ptrdiff_t>(gif.size() / 2));
  const std::string msg = expect_error(ErrorCode::kInvalidImage, [&] { decode_image(cut); });
  EXPECT_NE(msg.find("truncated GIF"), std::string::npos) << msg;
}

TEST(GifDecodeTest, HugeSizesAreRejectedBeforeAllocating) {
  // Logical screen 65535x65535 (the format's maximum).
  Bytes screen = text_bytes("GIF89a");
  for (std::uint8_t b : {0xFF, 0xFF, 0xFF, 0xFF, 0x80, 0, 0, 0, 0, 0, 255, 255, 255})
    screen.push_back(b);
  std::string msg;
  EXPECT_LT(elapsed_ms([&] {
              msg = expect_error(ErrorCode::kImageTooLarge, [&] { decode_image(screen); });
            }),
            200);
  EXPECT_NE(msg.find("65535x65535"), std::string::npos) << msg;

  // A 10x10 screen whose first image descriptor claims 60000x60000; no pixel data follows.
  Bytes frame = text_bytes("GIF89a");
  for (std::uint8_t b :
       {10,   0, 10, 0, 0x80, 0,    0,    0,    0,    0, 255, 255, 255,  // screen, 2 colours
        0x2C, 0, 0,  0, 0,    0x60, 0xEA, 0x60, 0xEA, 0, 2}) {           // descriptor
    frame.push_back(b);
  }
  EXPECT_LT(elapsed_ms([&] {
              msg = expect_error(ErrorCode::kImageTooLarge, [&] { decode_image(frame); });
            }),
            200);
  EXPECT_NE(msg.find("GIF first frame image is 60000x60000"), std::string::npos) << msg;
}

TEST(GifDecodeTest, GarbageAfterMagicIsInvalid) {
  cv::RNG rng(21);
  Bytes noise(2048);
  rng.fill(noise, cv::RNG::UNIFORM, 0, 256);
  const Bytes magic = text_bytes("GIF89a");
  std::copy(magic.begin(), magic.end(), noise.begin());
  noise[6] = 16;  // a small screen, so the limit passes and giflib reads the noise
  noise[7] = 0;
  noise[8] = 16;
  noise[9] = 0;
  const std::string msg = expect_error(ErrorCode::kInvalidImage, [&] { decode_image(noise); });
  EXPECT_NE(msg.find("GIF"), std::string::npos) << msg;
  // No image at all: header, screen, trailer.
  Bytes empty = text_bytes("GIF89a");
  for (std::uint8_t b : {4, 0, 4, 0, 0, 0, 0, 0x3B}) empty.push_back(b);
  const std::string none = expect_error(ErrorCode::kInvalidImage, [&] { decode_image(empty); });
  EXPECT_NE(none.find("no image"), std::string::npos) << none;
}

// ------------------------------------------------------------------- PBM / PGM / PPM

TEST(PnmDecodeTest, BinaryAndAsciiVariantsDecodeExactly) {
  cv::Mat grey(5, 7, CV_8UC1);
  for (int y = 0; y < 5; ++y) {
    for (int x = 0; x < 7; ++x) grey.at<uchar>(y, x) = static_cast<uchar>(x * 30 + y * 7);
  }
  const Image p5 = decode_image(encode(grey, ".pgm"));
  ASSERT_EQ(p5.width, 7);
  ASSERT_EQ(p5.height, 5);
  const uchar v = grey.at<uchar>(4, 6);
  EXPECT_EQ(pixel(p5, 6, 4), cv::Vec3b(v, v, v));

  const cv::Mat colour = gradient(9, 4);
  const Image p6 = decode_image(encode(colour, ".ppm"));
  ASSERT_EQ(p6.width, 9);
  EXPECT_EQ(p6.bgr, from_mat(colour).bgr);

  // ASCII with comments, RGB order in the file.
  const Image p3 =
      decode_image(text_bytes("P3 # a comment\n2 # width\n1\n255\n255 0 0  0 0 255\n"));
  ASSERT_EQ(p3.width, 2);
  ASSERT_EQ(p3.height, 1);
  EXPECT_EQ(pixel(p3, 0, 0), cv::Vec3b(0, 0, 255));  // red
  EXPECT_EQ(pixel(p3, 1, 0), cv::Vec3b(255, 0, 0));  // blue
  const Image p2 = decode_image(text_bytes("P2\n3 1\n15\n0 15 5\n"));
  EXPECT_EQ(pixel(p2, 1, 0), cv::Vec3b(255, 255, 255));  // maxval scaled to 255
  EXPECT_EQ(pixel(p2, 2, 0), cv::Vec3b(85, 85, 85));

  // Bitmaps: 1 is black. P4 packs 8 pixels a byte, rows padded to a byte.
  Bytes p4 = text_bytes("P4\n10 2\n");
  for (std::uint8_t b : {0b10100000, 0b01000000, 0b00000000, 0b11000000}) p4.push_back(b);
  const Image bitmap = decode_image(p4);
  ASSERT_EQ(bitmap.width, 10);
  EXPECT_EQ(pixel(bitmap, 0, 0), cv::Vec3b(0, 0, 0));
  EXPECT_EQ(pixel(bitmap, 1, 0), cv::Vec3b(255, 255, 255));
  EXPECT_EQ(pixel(bitmap, 9, 0), cv::Vec3b(0, 0, 0));
  EXPECT_EQ(pixel(bitmap, 7, 1), cv::Vec3b(255, 255, 255));
  EXPECT_EQ(pixel(bitmap, 8, 1), cv::Vec3b(0, 0, 0));
  const Image p1 = decode_image(text_bytes("P1\n3 1\n0 1 0\n"));
  EXPECT_EQ(pixel(p1, 1, 0), cv::Vec3b(0, 0, 0));
  EXPECT_EQ(pixel(p1, 2, 0), cv::Vec3b(255, 255, 255));

  // 16-bit samples (maxval 65535, big-endian) become 8-bit.
  Bytes deep = text_bytes("P5\n2 1\n65535\n");
  for (std::uint8_t b : {0x12, 0x34, 0xFF, 0xFF}) deep.push_back(b);
  const Image wide = decode_image(deep);
  EXPECT_EQ(pixel(wide, 0, 0), cv::Vec3b(0x12, 0x12, 0x12));
  EXPECT_EQ(pixel(wide, 1, 0), cv::Vec3b(255, 255, 255));
}

TEST(PnmDecodeTest, PixelLimitComesFromTheHeader) {
  const Bytes ppm = encode(gradient(12, 10), ".ppm");
  EXPECT_EQ(decode_image(ppm, limit(120)).height, 10);
  const std::string exact =
      expect_error(ErrorCode::kImageTooLarge, [&] { decode_image(ppm, limit(119)); });
  EXPECT_NE(exact.find("PPM image is 12x10"), std::string::npos) << exact;

  Bytes huge = text_bytes("P6\n# huge\n100000 100000\n255\n");
  huge.resize(huge.size() + 30, 7);
  std::string msg;
  EXPECT_LT(elapsed_ms([&] {
              msg = expect_error(ErrorCode::kImageTooLarge, [&] { decode_image(huge); });
            }),
            200);
  EXPECT_NE(msg.find("100000x100000"), std::string::npos) << msg;
  expect_error(ErrorCode::kImageTooLarge, [&] { decode_image(text_bytes("P4 90000 90000\n")); });
}

TEST(PnmDecodeTest, MalformedHeadersAndTruncationAreInvalid) {
  for (const std::string bad : {"P6\nhello world\n", "P5 12345678901 2 255\n", "P5 4 4 0\n",
                                "P5 4 4 70000\n", "P6 4", "P2 0 5 255\n", "P3\n# only a comment"}) {
    SCOPED_TRACE(bad);
    const std::string msg =
        expect_error(ErrorCode::kInvalidImage, [&] { decode_image(text_bytes(bad)); });
    EXPECT_TRUE(msg.find("PPM") != std::string::npos || msg.find("PGM") != std::string::npos)
        << msg;
  }
  cv::Mat noisy(16, 16, CV_8UC3);
  cv::randu(noisy, 0, 255);
  const Bytes ppm = encode(noisy, ".ppm");
  for (std::size_t size = 2; size < ppm.size(); size += 37) {
    SCOPED_TRACE(size);
    const Bytes cut(ppm.begin(), ppm.begin() + static_cast<std::ptrdiff_t>(size));
    expect_error(ErrorCode::kInvalidImage, [&] { decode_image(cut); });
  }
  // ASCII data that stops short.
  expect_error(ErrorCode::kInvalidImage,
               [&] { decode_image(text_bytes("P3\n2 2\n255\n1 2 3 4 5 6 7")); });
}

// --------------------------------------------------------------- HEIF / AVIF (libheif)

heif_error append_heif(heif_context*, const void* data, size_t size, void* userdata) {
  auto* out = static_cast<Bytes*>(userdata);
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  out->insert(out->end(), bytes, bytes + size);
  return heif_error{heif_error_Ok, heif_suberror_Unspecified, "ok"};
}

// Encodes `bgr` as the primary image, with irot/imir for EXIF-style `orientation` and an
// optional Exif block.
Bytes write_heif(const cv::Mat& bgr, heif_compression_format format, int orientation = 1,
                 const Bytes& exif = {}, bool ten_bit = false) {
  heif_context* context = heif_context_alloc();
  heif_encoder* encoder = nullptr;
  heif_error error = heif_context_get_encoder_for_format(context, format, &encoder);
  if (error.code != heif_error_Ok) {
    ADD_FAILURE() << "no libheif encoder for format " << format << ": " << error.message;
    heif_context_free(context);
    return {};
  }
  heif_encoder_set_lossy_quality(encoder, 92);
  heif_image* image = nullptr;
  const heif_chroma chroma =
      ten_bit ? heif_chroma_interleaved_RRGGBB_LE : heif_chroma_interleaved_RGB;
  EXPECT_EQ(heif_image_create(bgr.cols, bgr.rows, heif_colorspace_RGB, chroma, &image).code,
            heif_error_Ok);
  EXPECT_EQ(heif_image_add_plane(image, heif_channel_interleaved, bgr.cols, bgr.rows,
                                 ten_bit ? 10 : 8)
                .code,
            heif_error_Ok);
  int stride = 0;
  std::uint8_t* plane = heif_image_get_plane(image, heif_channel_interleaved, &stride);
  for (int y = 0; y < bgr.rows; ++y) {
    for (int x = 0; x < bgr.cols; ++x) {
      const cv::Vec3b p = bgr.at<cv::Vec3b>(y, x);
      std::uint8_t* row = plane + static_cast<std::ptrdiff_t>(y) * stride;
      for (int c = 0; c < 3; ++c) {
        const int value = p[2 - c];  // RGB order
        if (ten_bit) {  // little-endian 16-bit samples holding 10 bits
          const int wide = value * 1023 / 255;
          row[(x * 3 + c) * 2] = static_cast<std::uint8_t>(wide & 0xFF);
          row[(x * 3 + c) * 2 + 1] = static_cast<std::uint8_t>(wide >> 8);
        } else {
          row[x * 3 + c] = static_cast<std::uint8_t>(value);
        }
      }
    }
  }
  heif_encoding_options* options = heif_encoding_options_alloc();
  options->image_orientation = static_cast<heif_orientation>(orientation);
  heif_image_handle* handle = nullptr;
  error = heif_context_encode_image(context, image, encoder, options, &handle);
  EXPECT_EQ(error.code, heif_error_Ok) << error.message;
  if (!exif.empty() && handle != nullptr) {
    error =
        heif_context_add_exif_metadata(context, handle, exif.data(), static_cast<int>(exif.size()));
    EXPECT_EQ(error.code, heif_error_Ok) << error.message;
  }
  Bytes out;
  heif_writer writer{1, append_heif};
  EXPECT_EQ(heif_context_write(context, &writer, &out).code, heif_error_Ok);
  heif_image_handle_release(handle);
  heif_encoding_options_free(options);
  heif_image_release(image);
  heif_encoder_release(encoder);
  heif_context_free(context);
  return out;
}

struct HeifCodec {
  const char* name;
  heif_compression_format format;
};
const HeifCodec kHeifCodecs[] = {{"HEIF", heif_compression_HEVC}, {"AVIF", heif_compression_AV1}};

TEST(HeifDecodeTest, HeicAndAvifDecodeWithinTolerance) {
  const cv::Mat picture = gradient(64, 48);
  for (const HeifCodec& codec : kHeifCodecs) {
    SCOPED_TRACE(codec.name);
    const Bytes file = write_heif(picture, codec.format);
    ASSERT_FALSE(file.empty());
    const Image image = decode_image(file, limit(64 * 48));
    ASSERT_EQ(image.width, 64);
    ASSERT_EQ(image.height, 48);
    EXPECT_LT(mean_abs_diff(image, from_mat(picture)), 4.0);
    expect_near(pixel(image, 60, 4), picture.at<cv::Vec3b>(4, 60), 20);
    expect_near(pixel(image, 4, 44), picture.at<cv::Vec3b>(44, 4), 20);
    const std::string msg =
        expect_error(ErrorCode::kImageTooLarge, [&] { decode_image(file, limit(64 * 48 - 1)); });
    EXPECT_NE(msg.find(std::string(codec.name) + " image is 64x48"), std::string::npos) << msg;
  }
}

// libheif reduces a 10-bit HEVC picture to the 8-bit BGR the library returns.
TEST(HeifDecodeTest, TenBitHeicBecomesEightBit) {
  const cv::Mat picture = gradient(32, 24);
  const Bytes file = write_heif(picture, heif_compression_HEVC, 1, {}, true);
  ASSERT_FALSE(file.empty());
  const Image image = decode_image(file);
  ASSERT_EQ(image.width, 32);
  ASSERT_EQ(image.height, 24);
  EXPECT_LT(mean_abs_diff(image, from_mat(picture)), 4.0);
}

// Found by fuzz/image_decode_fuzz.cpp: a grid image listing itself among its tiles sent
// libheif 1.15 into unbounded recursion (a stack overflow). It must be refused up front.
TEST(HeifDecodeTest, GridDerivedFromItselfIsRefused) {
  Bytes file = write_heif(gradient(16, 16), heif_compression_HEVC);
  ASSERT_FALSE(file.empty());
  // libheif stores HEVC images as a grid over the coded tile: its iref holds one 'dimg'
  // reference (version 0: 16-bit ids), grid -> tile. Point it at the grid itself.
  const Bytes dimg = text_bytes("dimg");
  const auto at = std::search(file.begin(), file.end(), dimg.begin(), dimg.end());
  ASSERT_NE(at, file.end()) << "libheif wrote no grid";
  const std::size_t from = static_cast<std::size_t>(at - file.begin()) + 4;
  file[from + 4] = file[from];  // first to_item_ID = from_item_ID
  file[from + 5] = file[from + 1];
  const std::string msg = expect_error(ErrorCode::kInvalidImage, [&] { decode_image(file); });
  EXPECT_NE(msg.find("derived from itself"), std::string::npos) << msg;
  // The fuzzer's second find: libheif ignores the size in a reference's box header, so a
  // nonsense size there must not hide the reference from our check either.
  std::size_t size_at = static_cast<std::size_t>(at - file.begin()) - 4;
  for (std::uint8_t b : {0xB4, 0x00, 0x00, 0x0E}) file[size_at++] = b;
  const std::string again = expect_error(ErrorCode::kInvalidImage, [&] { decode_image(file); });
  EXPECT_NE(again.find("derived from itself"), std::string::npos) << again;
}

// Sets the size in every ispe (image spatial extents) box; libheif 1.15 may write more than
// one for a single HEVC image.
void patch_ispe(Bytes& file, std::uint32_t width, std::uint32_t height) {
  Bytes size;  // after the type come version/flags (4 bytes), then width and height
  put_be32(size, width);
  put_be32(size, height);
  int patched = 0;
  for (std::size_t i = 4; i + 16 <= file.size(); ++i) {
    if (std::memcmp(file.data() + i, "ispe", 4) != 0) continue;
    std::copy(size.begin(), size.end(), file.begin() + static_cast<std::ptrdiff_t>(i + 8));
    ++patched;
  }
  EXPECT_GT(patched, 0) << "no ispe box";
}

TEST(HeifDecodeTest, HugeIspeIsRejectedBeforeDecoding) {
  for (const HeifCodec& codec : kHeifCodecs) {
    SCOPED_TRACE(codec.name);
    Bytes file = write_heif(gradient(32, 32), codec.format);
    ASSERT_FALSE(file.empty());
    patch_ispe(file, 50000, 40000);
    std::string msg;
    EXPECT_LT(elapsed_ms([&] {
                msg = expect_error(ErrorCode::kImageTooLarge, [&] { decode_image(file); });
              }),
              200);
    EXPECT_NE(msg.find("50000x40000"), std::string::npos) << msg;
  }
}

// libheif 1.15 allocates the decoded picture by a grid's output size and by the codec's parameter
// sets, not by the 'ispe' box it checks: this 563-byte HEIC (found by fuzz/image_decode_fuzz.cpp)
// says 64x64 in its ispe and 62723x8192 in its grid, and libheif allocated 1.5 GB for it.
TEST(HeifDecodeTest, CodedSizeOverTheLimitIsRejectedThoughIspeIsSmall) {
  const Bytes fuzz_oom = fuzz_finding("heic_grid_larger_than_ispe");  // a seed of the fuzzer's corpus
  ASSERT_EQ(fuzz_oom.size(), 563U);
  std::string msg = expect_error(ErrorCode::kImageTooLarge, [&] { decode_image(fuzz_oom, limit(1 << 20)); });
  EXPECT_NE(msg.find("grid output size of item 2 gives 62723x8192"), std::string::npos) << msg;

  // Real files of each codec whose ispe was made small: the bitstream's size is what counts.
  const struct {
    heif_compression_format format;
    const char* field;
  } codecs[] = {{heif_compression_HEVC, "HEVC sequence parameter set"}, {heif_compression_AV1, "AV1 sequence header"}};
  for (const auto& codec : codecs) {
    SCOPED_TRACE(codec.field);
    Bytes file = write_heif(gradient(256, 192), codec.format);
    ASSERT_FALSE(file.empty());
    EXPECT_EQ(decode_image(file, limit(256 * 192)).width, 256);  // exactly at the limit: decodes
    patch_ispe(file, 16, 16);
    msg = expect_error(ErrorCode::kImageTooLarge, [&] { decode_image(file, limit(16 * 16)); });
    EXPECT_NE(msg.find(codec.field), std::string::npos) << msg;
  }
}

TEST(HeifDecodeTest, TruncationAndGarbageAreInvalid) {
  for (const HeifCodec& codec : kHeifCodecs) {
    SCOPED_TRACE(codec.name);
    cv::Mat noisy(32, 32, CV_8UC3);
    cv::randu(noisy, 0, 255);
    const Bytes file = write_heif(noisy, codec.format);
    ASSERT_GT(file.size(), 100U);
    for (std::size_t size = 12; size < file.size();
         size += std::max<std::size_t>(1, file.size() / 40)) {
      SCOPED_TRACE(size);
      const Bytes cut(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(size));
      const std::string msg = expect_error(ErrorCode::kInvalidImage, [&] { decode_image(cut); });
      EXPECT_NE(msg.find(codec.name), std::string::npos) << msg;
    }
    // A valid ftyp box followed by noise.
    const std::size_t ftyp_end =
        (std::size_t{file[0]} << 24 | file[1] << 16 | file[2] << 8 | file[3]);
    Bytes garbage(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(ftyp_end));
    cv::RNG rng(5);
    for (int i = 0; i < 600; ++i) garbage.push_back(static_cast<std::uint8_t>(rng.uniform(0, 256)));
    expect_error(ErrorCode::kInvalidImage, [&] { decode_image(garbage); });
  }
  // An MP4 (ISO-BMFF, but not a HEIF brand) is not taken for HEIF.
  Bytes mp4 = {0, 0, 0, 20};
  for (char c : std::string("ftypisom\0\0\0\0isom", 16))
    mp4.push_back(static_cast<std::uint8_t>(c));
  const std::string msg = expect_error(ErrorCode::kInvalidImage, [&] { decode_image(mp4); });
  EXPECT_NE(msg.find("unrecognised image format"), std::string::npos) << msg;
}

// ----------------------------------------------------- orientation across every format

// A TIFF structure (big-endian) holding only Orientation: the payload of PNG's eXIf chunk,
// WebP's EXIF chunk and a HEIF Exif item.
Bytes exif_orientation(int orientation) {
  return {'M',  'M',  0, 42, 0, 0, 0, 8, 0, 1,  // header, one entry
          0x01, 0x12, 0, 3,  0, 0, 0, 1, 0, static_cast<std::uint8_t>(orientation),
          0,    0,            // SHORT
          0,    0,    0, 0};  // no next IFD
}

Bytes png_with_exif(const cv::Mat& picture, int orientation) {
  Bytes png = encode(picture, ".png");
  const Bytes exif = exif_orientation(orientation);
  Bytes chunk;
  put_be32(chunk, static_cast<std::uint32_t>(exif.size()));
  for (char c : std::string("eXIf")) chunk.push_back(static_cast<std::uint8_t>(c));
  chunk.insert(chunk.end(), exif.begin(), exif.end());
  put_be32(chunk, crc32(chunk.data() + 4, chunk.size() - 4));
  png.insert(png.begin() + 33, chunk.begin(), chunk.end());  // after the 8-byte magic + IHDR
  return png;
}

void put_le(Bytes& out, std::uint32_t value, int count) {
  for (int i = 0; i < count; ++i) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

// Extended WebP: VP8X (EXIF flag), the lossless bitstream, then an EXIF chunk.
Bytes webp_with_exif(const cv::Mat& picture, int orientation) {
  const Bytes simple = encode(picture, ".webp", {cv::IMWRITE_WEBP_QUALITY, 101});
  const Bytes exif = exif_orientation(orientation);
  Bytes body = text_bytes("WEBPVP8X");
  put_le(body, 10, 4);
  put_le(body, 0x08, 4);  // flags: EXIF
  put_le(body, static_cast<std::uint32_t>(picture.cols - 1), 3);
  put_le(body, static_cast<std::uint32_t>(picture.rows - 1), 3);
  body.insert(body.end(), simple.begin() + 12, simple.end());  // the VP8L chunk
  if (body.size() % 2) body.push_back(0);
  for (char c : std::string("EXIF")) body.push_back(static_cast<std::uint8_t>(c));
  put_le(body, static_cast<std::uint32_t>(exif.size()), 4);
  body.insert(body.end(), exif.begin(), exif.end());
  Bytes riff = text_bytes("RIFF");
  put_le(riff, static_cast<std::uint32_t>(body.size()), 4);
  riff.insert(riff.end(), body.begin(), body.end());
  return riff;
}

// Uncompressed little-endian RGB TIFF with an Orientation tag, one strip.
Bytes tiff_with_orientation(const cv::Mat& picture, int orientation) {
  const auto w = static_cast<std::uint32_t>(picture.cols);
  const auto h = static_cast<std::uint32_t>(picture.rows);
  constexpr std::uint32_t kEntries = 10;
  const std::uint32_t bits_at = 8 + 2 + kEntries * 12 + 4;
  const std::uint32_t data_at = bits_at + 6;
  Bytes t = {'I', 'I', 42, 0};
  put_le(t, 8, 4);
  put_le(t, kEntries, 2);
  auto entry = [&](std::uint32_t tag, std::uint32_t type, std::uint32_t count,
                   std::uint32_t value) {
    put_le(t, tag, 2);
    put_le(t, type, 2);
    put_le(t, count, 4);
    put_le(t, value, 4);  // a SHORT value sits in the low bytes (little-endian)
  };
  entry(256, 3, 1, w);
  entry(257, 3, 1, h);
  entry(258, 3, 3, bits_at);  // BitsPerSample 8,8,8
  entry(259, 3, 1, 1);        // no compression
  entry(262, 3, 1, 2);        // RGB
  entry(273, 4, 1, data_at);  // StripOffsets
  entry(274, 3, 1, static_cast<std::uint32_t>(orientation));
  entry(277, 3, 1, 3);  // SamplesPerPixel
  entry(278, 3, 1, h);  // RowsPerStrip
  entry(279, 4, 1, w * h * 3);
  put_le(t, 0, 4);
  for (int i = 0; i < 3; ++i) put_le(t, 8, 2);
  for (int y = 0; y < picture.rows; ++y) {
    for (int x = 0; x < picture.cols; ++x) {
      const cv::Vec3b p = picture.at<cv::Vec3b>(y, x);
      t.insert(t.end(), {p[2], p[1], p[0]});
    }
  }
  return t;
}

// OpenCV's own ApplyExifOrientation (PNG eXIf) is the reference; WebP (ours), TIFF (libtiff)
// and HEIF/AVIF irot+imir (libheif) must agree with it for all 8 orientations, and with
// orientation off every format must give the stored pixels.
TEST(OrientationTest, EveryFormatAgreesWithOpenCvForAllEightOrientations) {
  const cv::Mat stored = gradient(40, 24);
  const Image as_stored = from_mat(stored);
  for (int orientation = 1; orientation <= 8; ++orientation) {
    SCOPED_TRACE("orientation " + std::to_string(orientation));
    const Image reference = decode_image(png_with_exif(stored, orientation));
    ASSERT_EQ(reference.width, orientation >= 5 ? 24 : 40);
    if (orientation > 1) {
      EXPECT_NE(reference.bgr, as_stored.bgr);
    }

    const Bytes webp = webp_with_exif(stored, orientation);
    EXPECT_EQ(decode_image(webp).bgr, reference.bgr) << "WebP";
    EXPECT_EQ(decode_image(webp).width, reference.width) << "WebP";
    EXPECT_EQ(decode_image(webp, stored_orientation()).bgr, as_stored.bgr) << "WebP";

    const Bytes tiff = tiff_with_orientation(stored, orientation);
    EXPECT_EQ(decode_image(tiff).bgr, reference.bgr) << "TIFF";
    EXPECT_EQ(decode_image(tiff).width, reference.width) << "TIFF";
    EXPECT_EQ(decode_image(tiff, stored_orientation()).bgr, as_stored.bgr) << "TIFF";
    EXPECT_EQ(decode_image(tiff, stored_orientation()).width, 40) << "TIFF";

    EXPECT_EQ(decode_image(png_with_exif(stored, orientation), stored_orientation()).bgr,
              as_stored.bgr)
        << "PNG";

    for (const HeifCodec& codec : kHeifCodecs) {
      SCOPED_TRACE(codec.name);
      const Bytes heif = write_heif(stored, codec.format, orientation);
      ASSERT_FALSE(heif.empty());
      EXPECT_LT(mean_abs_diff(decode_image(heif), reference), 4.0);
      EXPECT_LT(mean_abs_diff(decode_image(heif, stored_orientation()), as_stored), 4.0);
    }
  }
}

// HEIF's Exif orientation is informative (irot/imir rule): with an Exif block saying "rotate"
// and no irot the picture stays as stored; with both it turns once, not twice.
TEST(OrientationTest, HeifExifOrientationIsNotAppliedOnTopOfIrot) {
  const cv::Mat stored = gradient(40, 24);
  const Image reference = decode_image(png_with_exif(stored, 6));
  for (const HeifCodec& codec : kHeifCodecs) {
    SCOPED_TRACE(codec.name);
    const Bytes exif_file = write_heif(stored, codec.format, 1, exif_orientation(6));
    // libheif stores the Exif as given: the file really says "rotate" in its Exif.
    const Bytes entry = {0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6};
    ASSERT_NE(std::search(exif_file.begin(), exif_file.end(), entry.begin(), entry.end()),
              exif_file.end());
    const Image exif_only = decode_image(exif_file);
    EXPECT_EQ(exif_only.width, 40);
    EXPECT_LT(mean_abs_diff(exif_only, from_mat(stored)), 4.0);
    const Image both = decode_image(write_heif(stored, codec.format, 6, exif_orientation(6)));
    EXPECT_EQ(both.width, 24);
    EXPECT_LT(mean_abs_diff(both, reference), 4.0);
  }
}

// The EXIF of a WebP that is cut or nonsense leaves the picture as stored.
TEST(OrientationTest, BrokenWebpExifIsIgnored) {
  const cv::Mat stored = gradient(20, 10);
  Bytes webp = webp_with_exif(stored, 6);
  const std::size_t exif_at = webp.size() - exif_orientation(6).size();
  webp[exif_at] = 'X';  // not a TIFF header any more
  EXPECT_EQ(decode_image(webp).bgr, from_mat(stored).bgr);
  Bytes overlong = webp_with_exif(stored, 6);
  const std::size_t size_at = overlong.size() - exif_orientation(6).size() - 4;
  overlong[size_at + 3] = 0x7F;  // the EXIF chunk now claims 2 GB
  EXPECT_EQ(decode_image(overlong).width, 20);
}

}  // namespace
}  // namespace siamface
