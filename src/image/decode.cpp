// Image decoding with limits. The pixel limit is enforced from the container header before
// OpenCV allocates anything: OpenCV 4.6 exposes no header-only API (cv::ImageDecoder is
// internal, and imdecode allocates the full frame), so the few bytes that hold width and
// height are parsed here by hand for each accepted format. Anything we cannot parse is
// rejected, since its size could not be checked.
//
// Stderr: libjpeg and libpng print warnings ("Corrupt JPEG data: ...", "libpng warning: ...")
// through OpenCV's decoders, which install no quiet message handler and offer no hook to do
// so; silencing them would need a process-wide redirect of fd 2, which is not thread-safe, so
// we leave them. Truncated JPEGs, the common case, are rejected before libjpeg sees them.

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "image/cv_image.hpp"
#include "siamface/errors.hpp"
#include "siamface/image.hpp"

namespace siamface {

namespace {

enum class Format { kJpeg, kPng, kWebp, kGif, kBmp, kTiff };

const char* format_name(Format format) {
  switch (format) {
    case Format::kJpeg: return "JPEG";
    case Format::kPng: return "PNG";
    case Format::kWebp: return "WebP";
    case Format::kGif: return "GIF";
    case Format::kBmp: return "BMP";
    case Format::kTiff: return "TIFF";
  }
  return "image";
}

struct Dimensions {
  std::int64_t width = 0;
  std::int64_t height = 0;
};

[[noreturn]] void invalid(const std::string& message) {
  throw Error(ErrorCode::kInvalidImage, message);
}

// Bounds-checked little/big-endian reads over the input bytes.
class ByteReader {
 public:
  ByteReader(std::span<const std::uint8_t> bytes, Format format) : bytes_(bytes), format_(format) {}

  std::size_t size() const { return bytes_.size(); }
  std::uint8_t u8(std::size_t at) const { return bytes_[need(at, 1)]; }
  std::uint32_t be(std::size_t at, int count) const { return read(at, count, true); }
  std::uint32_t le(std::size_t at, int count) const { return read(at, count, false); }
  std::uint64_t u64(std::size_t at, bool big_endian) const {
    const std::uint64_t a = read(at, 4, big_endian);
    const std::uint64_t b = read(at + 4, 4, big_endian);
    return big_endian ? (a << 32) | b : (b << 32) | a;
  }
  bool matches(std::size_t at, std::string_view text) const {
    if (at + text.size() > bytes_.size()) return false;
    return std::memcmp(bytes_.data() + at, text.data(), text.size()) == 0;
  }

 private:
  std::size_t need(std::size_t at, std::size_t count) const {
    if (at > bytes_.size() || count > bytes_.size() - at) {
      invalid(std::string("truncated ") + format_name(format_) + " header (" +
              std::to_string(bytes_.size()) + " bytes)");
    }
    return at;
  }
  std::uint32_t read(std::size_t at, int count, bool big_endian) const {
    need(at, static_cast<std::size_t>(count));
    std::uint32_t value = 0;
    for (int i = 0; i < count; ++i) {
      const std::uint32_t byte = bytes_[at + static_cast<std::size_t>(i)];
      value |= big_endian ? byte << (8 * (count - 1 - i)) : byte << (8 * i);
    }
    return value;
  }

  std::span<const std::uint8_t> bytes_;
  Format format_;
};

std::optional<Format> sniff_format(std::span<const std::uint8_t> bytes) {
  const ByteReader r(bytes, Format::kJpeg);
  if (r.size() >= 3 && r.u8(0) == 0xFF && r.u8(1) == 0xD8 && r.u8(2) == 0xFF) return Format::kJpeg;
  if (r.matches(0, "\x89PNG\r\n\x1a\n")) return Format::kPng;
  if (r.matches(0, "RIFF") && r.matches(8, "WEBP")) return Format::kWebp;
  if (r.matches(0, "GIF87a") || r.matches(0, "GIF89a")) return Format::kGif;
  if (r.matches(0, std::string_view("II*\0", 4)) || r.matches(0, std::string_view("MM\0*", 4)) ||
      r.matches(0, std::string_view("II+\0", 4)) || r.matches(0, std::string_view("MM\0+", 4))) {
    return Format::kTiff;
  }
  // "BM" alone is weak evidence (a text file may start so); also require a known DIB header size.
  if (r.matches(0, "BM") && r.size() >= 18) {
    const std::uint32_t dib = r.le(14, 4);
    if (dib == 12 || dib == 16 || dib == 40 || dib == 52 || dib == 56 || dib == 64 || dib == 108 ||
        dib == 124) {
      return Format::kBmp;
    }
  }
  return std::nullopt;
}

bool is_jpeg_sof(std::uint8_t marker) {
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

// Walks the marker segments up to the first SOF (dimensions) and on to SOS; then requires an
// EOI marker after it. Inside entropy-coded data 0xFF is always followed by 0x00 or RSTn, so
// FF D9 after SOS can only be an EOI; skipping APPn by length ignores EXIF thumbnails (which
// carry their own EOI) in a file cut short.
struct JpegScan {
  Dimensions dimensions;
  bool has_eoi = false;
};

JpegScan scan_jpeg(const ByteReader& r) {
  JpegScan scan;
  bool have_sof = false;
  std::size_t pos = 2;
  while (true) {
    if (pos >= r.size()) {
      if (!have_sof) invalid("truncated JPEG: the data ends before the frame header (SOF)");
      return scan;  // no SOS: has_eoi stays false
    }
    if (r.u8(pos) != 0xFF) {  // stray bytes between segments: libjpeg skips them, so do we
      ++pos;
      continue;
    }
    while (pos < r.size() && r.u8(pos) == 0xFF) ++pos;  // fill bytes
    if (pos >= r.size()) continue;
    const std::uint8_t marker = r.u8(pos++);
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) continue;  // no length field
    if (marker == 0xD9) {
      if (!have_sof) invalid("corrupt JPEG: end-of-image marker before any frame header");
      scan.has_eoi = true;  // EOI before SOS: no image data; imdecode will refuse it
      return scan;
    }
    if (pos + 2 > r.size()) {
      if (!have_sof) invalid("truncated JPEG: the data ends before the frame header (SOF)");
      return scan;
    }
    const std::uint32_t length = r.be(pos, 2);
    if (length < 2) invalid("corrupt JPEG: segment length " + std::to_string(length));
    if (is_jpeg_sof(marker) && !have_sof) {
      scan.dimensions.height = r.be(pos + 3, 2);
      scan.dimensions.width = r.be(pos + 5, 2);
      if (scan.dimensions.height == 0) {
        invalid("unsupported JPEG: height 0 in the frame header (DNL marker)");
      }
      have_sof = true;
    }
    if (marker == 0xDA) {
      if (!have_sof) invalid("corrupt JPEG: scan data (SOS) before any frame header (SOF)");
      // From the end: EOI normally closes the data, so this is O(1) for intact files.
      for (std::size_t i = r.size() - 1; i > pos + length; --i) {
        if (r.u8(i - 1) == 0xFF && r.u8(i) == 0xD9) {
          scan.has_eoi = true;
          break;
        }
      }
      return scan;
    }
    pos += length;
  }
}

Dimensions tiff_dimensions(const ByteReader& r) {
  const bool big_endian = r.u8(0) == 'M';
  const bool big_tiff = r.u8(2) == '+' || r.u8(3) == '+';
  auto u16 = [&](std::size_t at) { return big_endian ? r.be(at, 2) : r.le(at, 2); };
  auto u32 = [&](std::size_t at) { return big_endian ? r.be(at, 4) : r.le(at, 4); };

  const std::uint64_t ifd = big_tiff ? r.u64(8, big_endian) : u32(4);
  const std::uint64_t count = big_tiff ? r.u64(ifd, big_endian) : u16(ifd);
  const std::size_t first = ifd + (big_tiff ? 8 : 2);
  const std::size_t entry_size = big_tiff ? 20 : 12;
  if (count > 4096) invalid("corrupt TIFF: " + std::to_string(count) + " directory entries");

  Dimensions d;
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::size_t entry = first + i * entry_size;
    const std::uint32_t tag = u16(entry);
    if (tag != 256 && tag != 257) continue;  // ImageWidth, ImageLength
    const std::uint32_t type = u16(entry + 2);
    const std::size_t value_at = entry + (big_tiff ? 12 : 8);
    std::int64_t value = 0;
    if (type == 3) {
      value = u16(value_at);
    } else if (type == 4) {
      value = u32(value_at);
    } else if (type == 16 && big_tiff) {
      value = static_cast<std::int64_t>(r.u64(value_at, big_endian) & 0x7FFFFFFFFFFFFFFFULL);
    } else {
      invalid("corrupt TIFF: image size tag " + std::to_string(tag) + " has type " +
              std::to_string(type));
    }
    (tag == 256 ? d.width : d.height) = value;
  }
  if (d.width == 0 || d.height == 0)
    invalid("corrupt TIFF: no image width/height in the first IFD");
  return d;
}

Dimensions header_dimensions(const ByteReader& r, Format format) {
  switch (format) {
    case Format::kJpeg: return scan_jpeg(r).dimensions;
    case Format::kPng:
      if (!r.matches(12, "IHDR")) invalid("corrupt PNG: the first chunk is not IHDR");
      return {r.be(16, 4), r.be(20, 4)};
    case Format::kGif: return {r.le(6, 2), r.le(8, 2)};
    case Format::kBmp: {
      if (r.le(14, 4) == 12) return {r.le(18, 2), r.le(20, 2)};  // BITMAPCOREHEADER
      const auto width = static_cast<std::int32_t>(r.le(18, 4));
      const auto height = static_cast<std::int32_t>(r.le(22, 4));  // negative: top-down
      if (width < 0) invalid("corrupt BMP: negative width");
      return {width, height < 0 ? -static_cast<std::int64_t>(height) : height};
    }
    case Format::kWebp:
      if (r.matches(12, "VP8 ")) {  // lossy: 3-byte frame tag, start code, 14-bit sizes
        if (r.u8(23) != 0x9D || r.u8(24) != 0x01 || r.u8(25) != 0x2A) {
          invalid("corrupt WebP: bad VP8 start code");
        }
        return {r.le(26, 2) & 0x3FFF, r.le(28, 2) & 0x3FFF};
      }
      if (r.matches(12, "VP8L")) {  // lossless: signature 0x2F, then 14-bit size-1 fields
        if (r.u8(20) != 0x2F) invalid("corrupt WebP: bad VP8L signature");
        const std::uint32_t bits = r.le(21, 4);
        return {(bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1};
      }
      if (r.matches(12, "VP8X")) {  // extended: 24-bit canvas size-1 fields
        return {static_cast<std::int64_t>(r.le(24, 3)) + 1,
                static_cast<std::int64_t>(r.le(27, 3)) + 1};
      }
      invalid("corrupt WebP: unknown first chunk");
    case Format::kTiff: return tiff_dimensions(r);
  }
  invalid("unknown image format");
}

std::string hex_prefix(std::span<const std::uint8_t> bytes) {
  std::string out;
  const std::size_t n = std::min<std::size_t>(bytes.size(), 8);
  for (std::size_t i = 0; i < n; ++i) {
    char buf[4];
    std::snprintf(buf, sizeof buf, "%s%02x", i ? " " : "", bytes[i]);
    out += buf;
  }
  return out;
}

}  // namespace

Image decode_image(std::span<const std::uint8_t> bytes, const DecodeOptions& options) {
  if (options.max_pixels <= 0) {
    throw Error(ErrorCode::kInvalidArgument,
                "max_pixels must be positive, got " + std::to_string(options.max_pixels));
  }
  if (bytes.empty()) invalid("empty image data (0 bytes)");

  const std::optional<Format> format = sniff_format(bytes);
  if (!format) {
    invalid("unrecognised image format (first bytes: " + hex_prefix(bytes) +
            "); expected JPEG, PNG, WebP, BMP or TIFF");
  }
  const ByteReader reader(bytes, *format);
  const Dimensions d = header_dimensions(reader, *format);
  const char* name = format_name(*format);
  if (d.width <= 0 || d.height <= 0) {
    invalid(std::string(name) + " header gives an empty size " + std::to_string(d.width) + "x" +
            std::to_string(d.height));
  }
  // Divide rather than multiply: TIFF and BigTIFF sizes reach 2^32 and 2^63, whose product
  // overflows (found by fuzz/image_decode_fuzz.cpp).
  if (d.width > options.max_pixels / d.height) {
    throw Error(ErrorCode::kImageTooLarge,
                std::string(name) + " image is " + std::to_string(d.width) + "x" +
                    std::to_string(d.height) + " pixels, over the limit of " +
                    std::to_string(options.max_pixels));
  }
  if (*format == Format::kJpeg && !scan_jpeg(reader).has_eoi) {
    // libjpeg would "succeed" with a grey lower part and a stderr warning.
    invalid("truncated JPEG: no end-of-image marker (the data was cut short)");
  }

  int flags = cv::IMREAD_COLOR;  // also: grey/16-bit/alpha/CMYK -> 8-bit BGR, alpha dropped
  if (!options.apply_exif_orientation) flags |= cv::IMREAD_IGNORE_ORIENTATION;
  const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8U,
                       const_cast<std::uint8_t*>(bytes.data()));  // imdecode only reads it
  cv::Mat mat;
  try {
    mat = cv::imdecode(buffer, flags);
  } catch (const cv::Exception& e) {
    invalid(std::string("could not decode ") + name + " data: " + e.what());
  }
  if (mat.empty()) {
    if (*format == Format::kGif) {
      invalid("GIF images are not supported by this OpenCV build; convert to PNG or JPEG");
    }
    invalid(std::string("could not decode ") + name + " data (" + std::to_string(d.width) + "x" +
            std::to_string(d.height) + "): corrupt or truncated");
  }
  if (static_cast<std::int64_t>(mat.cols) * mat.rows > options.max_pixels) {
    // The header lied (e.g. a GIF frame larger than its screen); still refuse.
    throw Error(ErrorCode::kImageTooLarge, std::string(name) + " image decoded to " +
                                               std::to_string(mat.cols) + "x" +
                                               std::to_string(mat.rows) + ", over the limit of " +
                                               std::to_string(options.max_pixels) + " pixels");
  }
  return from_mat(mat);
}

Image load_image(const std::string& path, const DecodeOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) {  // ec tells "permission denied" on a parent apart from absence
    throw Error(ErrorCode::kIo,
                "cannot read image " + path + ": " + (ec ? ec.message() : "no such file"));
  }
  if (fs::is_directory(status)) {
    throw Error(ErrorCode::kIo, "cannot read image " + path + ": it is a directory");
  }
  if (fs::is_regular_file(status)) {
    const std::uintmax_t size = fs::file_size(path, ec);
    if (!ec && size > static_cast<std::uintmax_t>(kMaxImageFileBytes)) {
      throw Error(ErrorCode::kImageTooLarge, "image file " + path + " is " + std::to_string(size) +
                                                 " bytes, over the limit of " +
                                                 std::to_string(kMaxImageFileBytes));
    }
  }

  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(ErrorCode::kIo, "cannot open image " + path + ": " + std::strerror(errno));
  }
  // Read in chunks so that pipes and files that grow are still capped.
  std::vector<std::uint8_t> bytes;
  constexpr std::size_t kChunk = 1 << 20;
  while (in) {
    const std::size_t old_size = bytes.size();
    bytes.resize(old_size + kChunk);
    in.read(reinterpret_cast<char*>(bytes.data() + old_size), kChunk);
    bytes.resize(old_size + static_cast<std::size_t>(in.gcount()));
    if (bytes.size() > static_cast<std::size_t>(kMaxImageFileBytes)) {
      throw Error(ErrorCode::kImageTooLarge, "image file " + path + " is over the limit of " +
                                                 std::to_string(kMaxImageFileBytes) + " bytes");
    }
  }
  if (in.bad()) throw Error(ErrorCode::kIo, "error while reading image " + path);

  try {
    return decode_image(bytes, options);
  } catch (const Error& e) {
    throw Error(e.code(), path + ": " + e.what());
  }
}

void save_image(const Image& image, const std::string& path) {
  if (image.empty())
    throw Error(ErrorCode::kInvalidArgument, "cannot save an empty image to " + path);
  const cv::Mat mat = as_mat(image);
  bool ok = false;
  try {
    ok = cv::imwrite(path, mat);
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::kIo, "cannot write image " + path + ": " + e.err);
  }
  if (!ok) {
    throw Error(ErrorCode::kIo,
                "cannot write image " + path + " (unwritable location or unsupported extension)");
  }
}

}  // namespace siamface
