// Reads dlib imglab XML (training_with_face_landmarks.xml): boxes with 68 named parts.
#pragma once

#include <filesystem>
#include <fstream>
#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "siamface/types.hpp"

namespace siamface::test {

struct ImglabFace {
  std::string image;  // file name relative to the XML's folder
  Box box;
  Landmarks landmarks{};
  int part_count = 0;
};

// The value of attribute `name` inside one tag ("" when absent). Plain string search rather
// than std::regex: libstdc++'s regex recurses per character and overflows the stack on these
// files under AddressSanitizer.
inline std::string imglab_attribute(const std::string& tag, const std::string& name) {
  const std::string key = " " + name + "='";
  const std::size_t start = tag.find(key);
  if (start == std::string::npos) return "";
  const std::size_t value = start + key.size();
  return tag.substr(value, tag.find('\'', value) - value);
}

inline std::vector<ImglabFace> read_imglab_faces(const std::filesystem::path& xml_path) {
  std::ifstream in(xml_path);
  std::stringstream text;
  text << in.rdbuf();
  const std::string xml = text.str();
  std::vector<ImglabFace> faces;
  for (std::size_t image = xml.find("<image "); image != std::string::npos; image = xml.find("<image ", image + 1)) {
    const std::size_t image_end = std::min(xml.find("</image>", image), xml.size());
    const std::string file = imglab_attribute(xml.substr(image, xml.find('>', image) - image), "file");
    for (std::size_t box = xml.find("<box ", image); box < image_end; box = xml.find("<box ", box + 1)) {
      const std::size_t tag_end = xml.find('>', box);
      const std::string tag = xml.substr(box, tag_end - box);
      ImglabFace face;
      face.image = file;
      face.box = {std::stof(imglab_attribute(tag, "left")), std::stof(imglab_attribute(tag, "top")),
                  std::stof(imglab_attribute(tag, "width")), std::stof(imglab_attribute(tag, "height"))};
      const bool self_closing = tag_end > 0 && xml[tag_end - 1] == '/';
      const std::size_t box_end = self_closing ? tag_end : std::min(xml.find("</box>", box), image_end);
      for (std::size_t part = xml.find("<part ", box); part < box_end; part = xml.find("<part ", part + 1)) {
        const std::string part_tag = xml.substr(part, xml.find('>', part) - part);
        const int index = std::stoi(imglab_attribute(part_tag, "name"));
        if (index < 0 || index >= kLandmarkCount) continue;
        face.landmarks[index] = {std::stof(imglab_attribute(part_tag, "x")), std::stof(imglab_attribute(part_tag, "y"))};
        ++face.part_count;
      }
      faces.push_back(face);
    }
  }
  return faces;
}

}  // namespace siamface::test
