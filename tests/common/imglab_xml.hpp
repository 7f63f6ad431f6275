// Reads dlib imglab XML (training_with_face_landmarks.xml): boxes with 68 named parts.
#pragma once

#include <filesystem>
#include <fstream>
#include <regex>
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

inline std::vector<ImglabFace> read_imglab_faces(const std::filesystem::path& xml_path) {
  std::ifstream in(xml_path);
  std::stringstream text;
  text << in.rdbuf();
  const std::string xml = text.str();
  const std::regex image_re(R"(<image file='([^']+)'[^>]*>([\s\S]*?)</image>)");
  const std::regex box_re(
      R"(<box top='(-?\d+)' left='(-?\d+)' width='(\d+)' height='(\d+)'>([\s\S]*?)</box>)");
  const std::regex part_re(R"(<part name='(\d+)' x='(-?\d+)' y='(-?\d+)'/>)");
  std::vector<ImglabFace> faces;
  for (std::sregex_iterator i(xml.begin(), xml.end(), image_re), end; i != end; ++i) {
    const std::string body = (*i)[2];
    for (std::sregex_iterator j(body.begin(), body.end(), box_re); j != end; ++j) {
      ImglabFace face;
      face.image = (*i)[1];
      face.box = {std::stof((*j)[2]), std::stof((*j)[1]), std::stof((*j)[3]), std::stof((*j)[4])};
      const std::string parts = (*j)[5];
      for (std::sregex_iterator k(parts.begin(), parts.end(), part_re); k != end; ++k) {
        const int index = std::stoi((*k)[1]);
        if (index < 0 || index >= kLandmarkCount) continue;
        face.landmarks[index] = {std::stof((*k)[2]), std::stof((*k)[3])};
        ++face.part_count;
      }
      faces.push_back(face);
    }
  }
  return faces;
}

}  // namespace siamface::test
