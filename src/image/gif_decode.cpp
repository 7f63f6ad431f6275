// GIF through giflib (OpenCV 4.6 has no GIF reader). Only the first frame is decoded, record by
// record, so the raster is allocated only after its image descriptor passed the pixel limit
// (DGifSlurp would decode every frame first).

#include <gif_lib.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "image/format_decoders.hpp"
#include "siamface/errors.hpp"

namespace siamface {

namespace {

struct Source {
  std::span<const std::uint8_t> bytes;
  std::size_t pos = 0;
};

// giflib's InputFunc: a short count is how the end of the data shows, and giflib turns it
// into D_GIF_ERR_READ_FAILED.
int read_bytes(GifFileType* gif, GifByteType* out, int count) {
  auto* source = static_cast<Source*>(gif->UserData);
  const std::size_t n =
      std::min(static_cast<std::size_t>(std::max(count, 0)), source->bytes.size() - source->pos);
  std::memcpy(out, source->bytes.data() + source->pos, n);
  source->pos += n;
  return static_cast<int>(n);
}

struct GifClose {
  void operator()(GifFileType* gif) const {
    int ignored = 0;
    DGifCloseFile(gif, &ignored);
  }
};
using GifPtr = std::unique_ptr<GifFileType, GifClose>;

// giflib does not always set an error code when the data runs out mid-frame, so a reader that
// reached the end also counts as truncation.
[[noreturn]] void fail(int error, bool data_exhausted) {
  const char* reason = error != 0 ? GifErrorString(error) : nullptr;
  std::string text = reason ? reason : "undecodable image data";
  if (data_exhausted) text = "the data ends inside the first frame";
  if (data_exhausted || error == D_GIF_ERR_READ_FAILED || error == D_GIF_ERR_EOF_TOO_SOON) {
    throw_invalid_image("truncated GIF: " + text);
  }
  throw_invalid_image("corrupt GIF: " + text);
}

void expect_ok(int status, const GifFileType* gif) {
  if (status == GIF_OK) return;
  const auto* source = static_cast<const Source*>(gif->UserData);
  fail(gif->Error, source->pos >= source->bytes.size());
}

struct FirstFrame {
  GifImageDesc desc{};
  int transparent = NO_TRANSPARENT_COLOR;
};

// Skips extensions up to the first image descriptor, keeping the transparency index of the
// graphic control extension that precedes it.
FirstFrame read_first_descriptor(GifFileType* gif) {
  FirstFrame frame;
  while (true) {
    GifRecordType type = UNDEFINED_RECORD_TYPE;
    expect_ok(DGifGetRecordType(gif, &type), gif);
    if (type == IMAGE_DESC_RECORD_TYPE) {
      expect_ok(DGifGetImageDesc(gif), gif);
      frame.desc = gif->Image;
      return frame;
    }
    if (type == TERMINATE_RECORD_TYPE) throw_invalid_image("corrupt GIF: no image in the file");
    if (type != EXTENSION_RECORD_TYPE) throw_invalid_image("corrupt GIF: unknown record type");
    int code = 0;
    GifByteType* block = nullptr;
    expect_ok(DGifGetExtension(gif, &code, &block), gif);
    if (code == GRAPHICS_EXT_FUNC_CODE && block != nullptr) {
      GraphicsControlBlock gcb{};
      if (DGifExtensionToGCB(block[0], block + 1, &gcb) == GIF_OK) {
        frame.transparent = gcb.TransparentColor;
      }
    }
    while (block != nullptr) expect_ok(DGifGetExtensionNext(gif, &block), gif);
  }
}

}  // namespace

Image decode_gif(std::span<const std::uint8_t> bytes, const DecodeOptions& options) {
  Source source{bytes};
  int error = 0;
  GifPtr gif(DGifOpen(&source, read_bytes, &error));  // reads the screen descriptor only
  if (!gif) fail(error, source.pos >= source.bytes.size());

  const FirstFrame frame = read_first_descriptor(gif.get());
  const GifImageDesc& desc = frame.desc;
  check_pixel_limit("GIF first frame", desc.Width, desc.Height, options.max_pixels);
  if (desc.Left < 0 || desc.Top < 0) throw_invalid_image("corrupt GIF: negative frame offset");
  // A frame reaching past the logical screen widens the canvas, as browsers do.
  const std::int64_t width =
      std::max<std::int64_t>(gif->SWidth, std::int64_t{desc.Left} + desc.Width);
  const std::int64_t height =
      std::max<std::int64_t>(gif->SHeight, std::int64_t{desc.Top} + desc.Height);
  check_pixel_limit("GIF", width, height, options.max_pixels);

  const ColorMapObject* colors = desc.ColorMap ? desc.ColorMap : gif->SColorMap;
  if (colors == nullptr || colors->Colors == nullptr || colors->ColorCount <= 0) {
    throw_invalid_image("corrupt GIF: no colour table for the first frame");
  }

  // Indexes: the frame's raster, in file row order (interlaced frames come in 4 passes).
  const auto frame_width = static_cast<std::size_t>(desc.Width);
  std::vector<GifPixelType> indexes(frame_width * static_cast<std::size_t>(desc.Height));
  auto read_row = [&](int y) {
    expect_ok(DGifGetLine(gif.get(), indexes.data() + static_cast<std::size_t>(y) * frame_width,
                          desc.Width),
              gif.get());
  };
  if (desc.Interlace) {
    constexpr int kStart[] = {0, 4, 2, 1};
    constexpr int kStep[] = {8, 8, 4, 2};
    for (int pass = 0; pass < 4; ++pass) {
      for (int y = kStart[pass]; y < desc.Height; y += kStep[pass]) read_row(y);
    }
  } else {
    for (int y = 0; y < desc.Height; ++y) read_row(y);
  }

  // The background colour comes from the global table; no table means black.
  const ColorMapObject* global = gif->SColorMap;
  GifColorType background{0, 0, 0};
  if (global != nullptr && gif->SBackGroundColor >= 0 &&
      gif->SBackGroundColor < global->ColorCount) {
    background = global->Colors[gif->SBackGroundColor];
  }
  Image image;
  image.width = static_cast<int>(width);
  image.height = static_cast<int>(height);
  image.bgr.resize(static_cast<std::size_t>(width * height) * 3);
  for (std::size_t i = 0; i < image.bgr.size(); i += 3) {
    image.bgr[i] = background.Blue;
    image.bgr[i + 1] = background.Green;
    image.bgr[i + 2] = background.Red;
  }
  for (int y = 0; y < desc.Height; ++y) {
    for (int x = 0; x < desc.Width; ++x) {
      const int index =
          indexes[static_cast<std::size_t>(y) * frame_width + static_cast<std::size_t>(x)];
      // Indexes past the table's end are invalid data; libraries differ, we leave background.
      if (index == frame.transparent || index >= colors->ColorCount) continue;
      const GifColorType& c = colors->Colors[index];
      std::uint8_t* out =
          &image.bgr[(static_cast<std::size_t>(desc.Top + y) * static_cast<std::size_t>(width) +
                      static_cast<std::size_t>(desc.Left + x)) *
                     3];
      out[0] = c.Blue;
      out[1] = c.Green;
      out[2] = c.Red;
    }
  }
  return image;
}

}  // namespace siamface
