// Image decoding with limits. The pixel limit is enforced from the container header before
// OpenCV allocates anything: OpenCV 4.6 exposes no header-only API (cv::ImageDecoder is
// internal, and imdecode allocates the full frame), so the few bytes that hold width and
// height are parsed here by hand for each accepted format. Anything we cannot parse is
// rejected, since its size could not be checked. HEIF/AVIF and GIF go to their own libraries
// (heif_decode.cpp, gif_decode.cpp), which check the size from the header the same way.
//
// EXIF orientation: OpenCV 4.6 applies it for JPEG (APP1) and PNG (eXIf), and libtiff's RGBA
// reader applies a TIFF's Orientation tag even under IMREAD_IGNORE_ORIENTATION, so we undo
// that one when orientation is off. OpenCV ignores WebP's EXIF chunk: we apply it here.
// BMP, GIF and PNM carry no orientation.
//
// Stderr: libjpeg and libpng print warnings ("Corrupt JPEG data: ...", "libpng warning: ...")
// through OpenCV's decoders, which install no quiet message handler and offer no hook to do
// so; silencing them would need a process-wide redirect of fd 2, which is not thread-safe, so
// we leave them. Truncated JPEGs, the common case, are rejected before libjpeg sees them.

#include <array>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "image/cv_image.hpp"
#include "image/format_decoders.hpp"
#include "siamface/errors.hpp"
#include "siamface/image.hpp"

namespace siamface {

[[noreturn]] void throw_invalid_image(const std::string& message) {
  throw Error(ErrorCode::kInvalidImage, message);
}

void check_pixel_limit(const char* format, std::int64_t width, std::int64_t height,
                       std::int64_t max_pixels) {
  if (width <= 0 || height <= 0) {
    throw_invalid_image(std::string(format) + " header gives an empty size " +
                        std::to_string(width) + "x" + std::to_string(height));
  }
  // Divide rather than multiply: TIFF and BigTIFF sizes reach 2^32 and 2^63, whose product
  // overflows (found by fuzz/image_decode_fuzz.cpp).
  if (width > max_pixels / height) {
    throw Error(ErrorCode::kImageTooLarge,
                std::string(format) + " image is " + std::to_string(width) + "x" +
                    std::to_string(height) + " pixels, over the limit of " +
                    std::to_string(max_pixels));
  }
}

namespace {

// Where a DICOM file's "DICM" magic sits, after its free-form preamble.
constexpr std::size_t kDicomMagicOffset = 128;

enum class Format { kJpeg, kPng, kWebp, kGif, kBmp, kTiff, kHeif, kPbm, kPgm, kPpm };

const char* format_name(Format format) {
  switch (format) {
    case Format::kJpeg: return "JPEG";
    case Format::kPng: return "PNG";
    case Format::kWebp: return "WebP";
    case Format::kGif: return "GIF";
    case Format::kBmp: return "BMP";
    case Format::kTiff: return "TIFF";
    case Format::kHeif: return "HEIF";
    case Format::kPbm: return "PBM";
    case Format::kPgm: return "PGM";
    case Format::kPpm: return "PPM";
  }
  return "image";
}

struct Dimensions {
  std::int64_t width = 0;
  std::int64_t height = 0;
};

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
  std::span<const std::uint8_t> bytes(std::size_t at, std::size_t count) const {
    return bytes_.subspan(need(at, count), count);
  }
  bool matches(std::size_t at, std::string_view text) const {
    if (at + text.size() > bytes_.size()) return false;
    return std::memcmp(bytes_.data() + at, text.data(), text.size()) == 0;
  }

 private:
  std::size_t need(std::size_t at, std::size_t count) const {
    if (at > bytes_.size() || count > bytes_.size() - at) {
      throw_invalid_image(std::string("truncated ") + format_name(format_) + " header (" +
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
  // Netpbm: "P1".."P6" and whitespace; "P7" (PAM) is not accepted.
  if (r.size() >= 3 && r.u8(0) == 'P' && std::isspace(r.u8(2))) {
    switch (r.u8(1)) {
      case '1':
      case '4': return Format::kPbm;
      case '2':
      case '5': return Format::kPgm;
      case '3':
      case '6': return Format::kPpm;
      default: break;
    }
  }
  if (is_heif(bytes)) return Format::kHeif;
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
      if (!have_sof)
        throw_invalid_image("truncated JPEG: the data ends before the frame header (SOF)");
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
      if (!have_sof)
        throw_invalid_image("corrupt JPEG: end-of-image marker before any frame header");
      scan.has_eoi = true;  // EOI before SOS: no image data; imdecode will refuse it
      return scan;
    }
    if (pos + 2 > r.size()) {
      if (!have_sof)
        throw_invalid_image("truncated JPEG: the data ends before the frame header (SOF)");
      return scan;
    }
    const std::uint32_t length = r.be(pos, 2);
    if (length < 2) throw_invalid_image("corrupt JPEG: segment length " + std::to_string(length));
    if (is_jpeg_sof(marker) && !have_sof) {
      scan.dimensions.height = r.be(pos + 3, 2);
      scan.dimensions.width = r.be(pos + 5, 2);
      if (scan.dimensions.height == 0) {
        throw_invalid_image("unsupported JPEG: height 0 in the frame header (DNL marker)");
      }
      have_sof = true;
    }
    if (marker == 0xDA) {
      if (!have_sof)
        throw_invalid_image("corrupt JPEG: scan data (SOS) before any frame header (SOF)");
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

// The first IFD of a TIFF structure: a TIFF file, or the EXIF payload of a PNG or WebP.
struct TiffTags {
  Dimensions dimensions;
  int orientation = 1;  // EXIF/TIFF Orientation, 1..8; anything else counts as 1
};

TiffTags read_tiff_tags(const ByteReader& r) {
  const bool big_endian = r.u8(0) == 'M';
  const bool big_tiff = r.u8(2) == '+' || r.u8(3) == '+';
  auto u16 = [&](std::size_t at) { return big_endian ? r.be(at, 2) : r.le(at, 2); };
  auto u32 = [&](std::size_t at) { return big_endian ? r.be(at, 4) : r.le(at, 4); };

  const std::uint64_t ifd = big_tiff ? r.u64(8, big_endian) : u32(4);
  const std::uint64_t count = big_tiff ? r.u64(ifd, big_endian) : u16(ifd);
  const std::size_t first = ifd + (big_tiff ? 8 : 2);
  const std::size_t entry_size = big_tiff ? 20 : 12;
  if (count > 4096)
    throw_invalid_image("corrupt TIFF: " + std::to_string(count) + " directory entries");

  TiffTags tags;
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::size_t entry = first + i * entry_size;
    const std::uint32_t tag = u16(entry);
    const std::uint32_t type = u16(entry + 2);
    const std::size_t value_at = entry + (big_tiff ? 12 : 8);
    if (tag == 274 && type == 3) {  // Orientation, SHORT
      const std::uint32_t orientation = u16(value_at);
      if (orientation >= 1 && orientation <= 8) tags.orientation = static_cast<int>(orientation);
    }
    if (tag != 256 && tag != 257) continue;  // ImageWidth, ImageLength
    std::int64_t value = 0;
    if (type == 3) {
      value = u16(value_at);
    } else if (type == 4) {
      value = u32(value_at);
    } else if (type == 16 && big_tiff) {
      value = static_cast<std::int64_t>(r.u64(value_at, big_endian) & 0x7FFFFFFFFFFFFFFFULL);
    } else {
      throw_invalid_image("corrupt TIFF: image size tag " + std::to_string(tag) + " has type " +
                          std::to_string(type));
    }
    (tag == 256 ? tags.dimensions.width : tags.dimensions.height) = value;
  }
  return tags;
}

Dimensions tiff_dimensions(const ByteReader& r) {
  const Dimensions d = read_tiff_tags(r).dimensions;
  if (d.width == 0 || d.height == 0)
    throw_invalid_image("corrupt TIFF: no image width/height in the first IFD");
  return d;
}

// Netpbm header: magic, then width, height and (except for bitmaps) maxval as decimal
// numbers separated by whitespace, with "#" comments running to the end of a line.
Dimensions pnm_dimensions(const ByteReader& r, Format format) {
  const char* name = format_name(format);
  std::size_t pos = 2;
  auto next_number = [&](const char* what) {
    while (pos < r.size() && (std::isspace(r.u8(pos)) || r.u8(pos) == '#')) {
      if (r.u8(pos) == '#') {
        while (pos < r.size() && r.u8(pos) != '\n' && r.u8(pos) != '\r') ++pos;
      } else {
        ++pos;
      }
    }
    if (pos >= r.size()) {
      throw_invalid_image(std::string("truncated ") + name + " header: no " + what);
    }
    std::int64_t value = 0;
    const std::size_t start = pos;
    while (pos < r.size() && r.u8(pos) >= '0' && r.u8(pos) <= '9') {
      if (pos - start >= 10) {
        throw_invalid_image(std::string("corrupt ") + name + " header: the " + what +
                            " has more than 10 digits");
      }
      value = value * 10 + (r.u8(pos++) - '0');
    }
    if (pos == start) {
      throw_invalid_image(std::string("corrupt ") + name + " header: expected the " + what +
                          " as a decimal number");
    }
    return value;
  };
  Dimensions d;
  d.width = next_number("width");
  d.height = next_number("height");
  if (format != Format::kPbm) {
    const std::int64_t maxval = next_number("maximum value");
    if (maxval < 1 || maxval > 65535) {
      throw_invalid_image(std::string("corrupt ") + name + " header: maximum value " +
                          std::to_string(maxval) + " is outside 1..65535");
    }
  }
  return d;
}

Dimensions header_dimensions(const ByteReader& r, Format format) {
  switch (format) {
    case Format::kJpeg: return scan_jpeg(r).dimensions;
    case Format::kPng:
      if (!r.matches(12, "IHDR")) throw_invalid_image("corrupt PNG: the first chunk is not IHDR");
      return {r.be(16, 4), r.be(20, 4)};
    case Format::kGif: return {r.le(6, 2), r.le(8, 2)};
    case Format::kBmp: {
      if (r.le(14, 4) == 12) return {r.le(18, 2), r.le(20, 2)};  // BITMAPCOREHEADER
      const auto width = static_cast<std::int32_t>(r.le(18, 4));
      const auto height = static_cast<std::int32_t>(r.le(22, 4));  // negative: top-down
      if (width < 0) throw_invalid_image("corrupt BMP: negative width");
      return {width, height < 0 ? -static_cast<std::int64_t>(height) : height};
    }
    case Format::kWebp:
      if (r.matches(12, "VP8 ")) {  // lossy: 3-byte frame tag, start code, 14-bit sizes
        if (r.u8(23) != 0x9D || r.u8(24) != 0x01 || r.u8(25) != 0x2A) {
          throw_invalid_image("corrupt WebP: bad VP8 start code");
        }
        return {r.le(26, 2) & 0x3FFF, r.le(28, 2) & 0x3FFF};
      }
      if (r.matches(12, "VP8L")) {  // lossless: signature 0x2F, then 14-bit size-1 fields
        if (r.u8(20) != 0x2F) throw_invalid_image("corrupt WebP: bad VP8L signature");
        const std::uint32_t bits = r.le(21, 4);
        return {(bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1};
      }
      if (r.matches(12, "VP8X")) {  // extended: 24-bit canvas size-1 fields
        return {static_cast<std::int64_t>(r.le(24, 3)) + 1,
                static_cast<std::int64_t>(r.le(27, 3)) + 1};
      }
      throw_invalid_image("corrupt WebP: unknown first chunk");
    case Format::kTiff: return tiff_dimensions(r);
    case Format::kPbm:
    case Format::kPgm:
    case Format::kPpm: return pnm_dimensions(r, format);
    case Format::kHeif: break;  // read by libheif in decode_heif
  }
  throw_invalid_image("unknown image format");
}

// The EXIF chunk of an extended WebP, if any. A broken EXIF block leaves the picture as
// stored rather than making it unreadable, as browsers do.
int webp_orientation(const ByteReader& r) {
  if (!r.matches(12, "VP8X") || (r.u8(20) & 0x08) == 0) return 1;  // no EXIF flag
  std::size_t pos = 12;
  while (pos <= r.size() && r.size() - pos >= 8) {
    const std::uint32_t size = r.le(pos + 4, 4);
    if (r.matches(pos, "EXIF")) {
      if (size > r.size() - pos - 8) return 1;
      std::span<const std::uint8_t> exif = r.bytes(pos + 8, size);
      if (exif.size() >= 6 && std::memcmp(exif.data(), "Exif\0\0", 6) == 0) exif = exif.subspan(6);
      const ByteReader tiff(exif, Format::kWebp);
      if (!tiff.matches(0, std::string_view("II*\0", 4)) &&
          !tiff.matches(0, std::string_view("MM\0*", 4))) {
        return 1;
      }
      try {
        return read_tiff_tags(tiff).orientation;
      } catch (const Error&) {
        return 1;
      }
    }
    pos += 8 + static_cast<std::size_t>(size) + (size & 1U);  // chunks are padded to even
  }
  return 1;
}

// Turns stored pixels upright for EXIF orientation 1..8 (as OpenCV's ApplyExifOrientation
// does for JPEG), or with `undo` turns upright pixels back to the stored layout.
cv::Mat orient(const cv::Mat& mat, int orientation, bool undo) {
  if (undo && (orientation == 6 || orientation == 8))
    orientation = 14 - orientation;  // the rest are involutions
  cv::Mat out;
  switch (orientation) {
    case 2: cv::flip(mat, out, 1); break;
    case 3: cv::rotate(mat, out, cv::ROTATE_180); break;
    case 4: cv::flip(mat, out, 0); break;
    case 5: cv::transpose(mat, out); break;
    case 6: cv::rotate(mat, out, cv::ROTATE_90_CLOCKWISE); break;
    case 7:
      cv::transpose(mat, out);
      cv::rotate(out, out, cv::ROTATE_180);
      break;
    case 8: cv::rotate(mat, out, cv::ROTATE_90_COUNTERCLOCKWISE); break;
    default: return mat;
  }
  return out;
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
  if (bytes.empty()) throw_invalid_image("empty image data (0 bytes)");

  const std::optional<Format> format = sniff_format(bytes);
  if (!format) {
    throw_invalid_image("unrecognised image format (first bytes: " + hex_prefix(bytes) +
                        "); expected JPEG, PNG, WebP, GIF, BMP, TIFF, HEIF/AVIF or PBM/PGM/PPM");
  }
  if (*format == Format::kHeif) return decode_heif(bytes, options);
  // cv::imdecode picks its decoder by signature, not by our sniffed format. Every OpenCV 4.6
  // signature sits at byte 0, where the sniff already decided, except DICOM's ("DICM" after a
  // 128-byte preamble). A file whose own decoder refuses its header (a WebP that libwebp will
  // not read) would fall through to GDCM, which aborts or allocates gigabytes on crafted data
  // (found by fuzz/image_decode_fuzz.cpp). Such two-format files are refused outright.
  const ByteReader reader(bytes, *format);
  if (reader.matches(kDicomMagicOffset, "DICM")) {
    throw_invalid_image(std::string("ambiguous ") + format_name(*format) +
                        " data: it also carries a DICOM signature at byte 128 (DICOM is not "
                        "accepted)");
  }
  const Dimensions d = header_dimensions(reader, *format);
  const char* name = format_name(*format);
  check_pixel_limit(name, d.width, d.height, options.max_pixels);
  if (*format == Format::kGif) return decode_gif(bytes, options);
  if (*format == Format::kJpeg && !scan_jpeg(reader).has_eoi) {
    // libjpeg would "succeed" with a grey lower part and a stderr warning.
    throw_invalid_image("truncated JPEG: no end-of-image marker (the data was cut short)");
  }

  int flags = cv::IMREAD_COLOR;  // also: grey/16-bit/alpha/CMYK -> 8-bit BGR, alpha dropped
  if (!options.apply_exif_orientation) flags |= cv::IMREAD_IGNORE_ORIENTATION;
  const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8U,
                       const_cast<std::uint8_t*>(bytes.data()));  // imdecode only reads it
  cv::Mat mat;
  try {
    mat = cv::imdecode(buffer, flags);
  } catch (const cv::Exception& e) {
    throw_invalid_image(std::string("could not decode ") + name + " data: " + e.what());
  }
  if (mat.empty()) {
    throw_invalid_image(std::string("could not decode ") + name + " data (" +
                        std::to_string(d.width) + "x" + std::to_string(d.height) +
                        "): corrupt or truncated");
  }
  if (static_cast<std::int64_t>(mat.cols) * mat.rows > options.max_pixels) {
    // The header lied (e.g. a TIFF whose strips disagree with its tags); still refuse.
    throw Error(ErrorCode::kImageTooLarge, std::string(name) + " image decoded to " +
                                               std::to_string(mat.cols) + "x" +
                                               std::to_string(mat.rows) + ", over the limit of " +
                                               std::to_string(options.max_pixels) + " pixels");
  }
  if (*format == Format::kWebp && options.apply_exif_orientation) {
    mat = orient(mat, webp_orientation(reader), false);
  } else if (*format == Format::kTiff && !options.apply_exif_orientation) {
    mat = orient(mat, read_tiff_tags(reader).orientation, true);
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
