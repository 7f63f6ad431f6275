// The documents' cross-references resolve (issue 34: docs/usage.md pointed at an "Accuracy"
// section it does not have and at a README section that had moved to docs/accuracy.md). Checked
// in README.md and docs/*.md, outside code:
//   docs/NAME.md                  the file exists;
//   FILE.md, "Heading"            FILE (docs/NAME.md or README.md) has a heading containing Heading;
//   README "Heading"              README.md has such a heading;
//   FILE.md ("Heading")           the same;
//   ("Heading")                   this file has one (a capitalised quote alone in parentheses).
// A heading is a line starting with #, or a paragraph's *italic* or **bold** lead-in.
// Headings match case-insensitively by substring: "Open-set decisions" finds "## Open-set
// decisions (issue 31): ...".
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

const fs::path kSource = SIAMFACE_SOURCE_DIR;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

struct Document {
  std::vector<std::string> headings;  // lower case, without the leading #s
  std::string prose;                  // the text without fenced code blocks and `code` spans
};

Document read_document(const fs::path& path) {
  Document doc;
  std::ifstream in(path);
  bool fenced = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("```", 0) == 0) {
      fenced = !fenced;
      continue;
    }
    if (fenced) continue;
    if (line.rfind("#", 0) == 0) doc.headings.push_back(lower(line.substr(line.find_first_not_of("# "))));
    // A paragraph's italic or bold lead-in ("*Studies that did not move it (...).* ...") is a
    // target too.
    if (line.rfind("*", 0) == 0) {
      const std::size_t start = line.find_first_not_of('*');
      const std::size_t stop = line.find('*', start);
      if (start != std::string::npos && stop != std::string::npos) doc.headings.push_back(lower(line.substr(start, stop - start)));
    }
    std::string text;
    bool code = false;
    for (char c : line) {
      if (c == '`') {
        code = !code;
      } else if (!code) {
        text += c;
      }
    }
    doc.prose += text + '\n';
  }
  return doc;
}

// Lower case, each run of white space (a quote wrapped over two lines) one space.
std::string normalised(const std::string& s) {
  std::string out;
  for (char c : lower(s)) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

bool has_heading(const Document& doc, const std::string& heading) {
  const std::string wanted = normalised(heading);
  return std::any_of(doc.headings.begin(), doc.headings.end(),
                     [&](const std::string& h) { return h.find(wanted) != std::string::npos; });
}

std::vector<fs::path> documents() {
  std::vector<fs::path> out = {kSource / "README.md"};
  for (const auto& entry : fs::directory_iterator(kSource / "docs")) {
    if (entry.path().extension() == ".md") out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Every broken reference of `file`, one per line ("" when all resolve).
std::string broken_references(const fs::path& file) {
  const Document doc = read_document(file);
  const std::string name = fs::relative(file, kSource).string();
  std::ostringstream broken;
  static const std::regex kFile(R"(docs/[A-Za-z0-9_-]+\.md)");
  for (std::sregex_iterator it(doc.prose.begin(), doc.prose.end(), kFile), end; it != end; ++it) {
    if (!fs::exists(kSource / it->str())) broken << name << ": " << it->str() << " does not exist\n";
  }
  static const std::regex kSection(R"(((?:docs/)?[A-Za-z0-9_-]+\.md),\s+"([^"]+)\")");
  for (std::sregex_iterator it(doc.prose.begin(), doc.prose.end(), kSection), end; it != end; ++it) {
    const fs::path target = kSource / (*it)[1].str();
    if (!fs::exists(target)) continue;  // reported above, or not a path from the root
    if (!has_heading(read_document(target), (*it)[2])) broken << name << ": no heading \"" << (*it)[2] << "\" in " << (*it)[1] << '\n';
  }
  static const std::regex kReadme(R"dl(README "([^"]+)")dl");
  for (std::sregex_iterator it(doc.prose.begin(), doc.prose.end(), kReadme), end; it != end; ++it) {
    if (!has_heading(read_document(kSource / "README.md"), (*it)[1])) {
      broken << name << ": no heading \"" << (*it)[1] << "\" in README.md\n";
    }
  }
  static const std::regex kHere(R"dl((?:((?:docs/)?[A-Za-z0-9_-]+\.md)\s+)?\("([A-Z][^"]*)"\))dl");
  for (std::sregex_iterator it(doc.prose.begin(), doc.prose.end(), kHere), end; it != end; ++it) {
    if ((*it)[1].matched) {  // FILE.md ("Heading")
      const fs::path target = kSource / (*it)[1].str();
      if (fs::exists(target) && !has_heading(read_document(target), (*it)[2])) {
        broken << name << ": no heading \"" << (*it)[2] << "\" in " << (*it)[1] << '\n';
      }
    } else if (!has_heading(doc, (*it)[2])) {
      broken << name << ": no heading \"" << (*it)[2] << "\" in this file\n";
    }
  }
  return broken.str();
}

TEST(DocReferences, UsageGuideReferencesResolve) {
  EXPECT_EQ(broken_references(kSource / "docs" / "usage.md"), "");
}

TEST(DocReferences, EveryDocumentsReferencesResolve) {
  for (const fs::path& file : documents()) EXPECT_EQ(broken_references(file), "") << file;
}

TEST(DocReferences, TheCheckFindsBrokenOnes) {
  const fs::path file = fs::temp_directory_path() / ("siamface_doc_refs_" + std::to_string(::getpid()) + ".md");
  std::ofstream(file) << "# Title\n\nSee (\"Accuracy\"), README \"Nowhere\", docs/nothing.md and "
                         "docs/usage.md, \"No such part\". Fine: (\"Title\") and `(\"Code\")`.\n";
  const std::string broken = broken_references(file);
  fs::remove(file);
  EXPECT_NE(broken.find("no heading \"Accuracy\" in this file"), std::string::npos) << broken;
  EXPECT_NE(broken.find("no heading \"Nowhere\" in README.md"), std::string::npos) << broken;
  EXPECT_NE(broken.find("docs/nothing.md does not exist"), std::string::npos) << broken;
  EXPECT_NE(broken.find("no heading \"No such part\" in docs/usage.md"), std::string::npos) << broken;
  EXPECT_EQ(broken.find("Title"), std::string::npos) << broken;
  EXPECT_EQ(broken.find("Code"), std::string::npos) << broken;
}

// The README's library example is a compiled one (issue 35): the first ```cpp block under
// "Using the library" is examples/identify_photo.cpp, byte for byte, so it cannot drift from
// code that builds (ctest install_examples builds and runs it).
TEST(DocReferences, ReadmeLibraryExampleIsTheCompiledExample) {
  std::ifstream readme_in(kSource / "README.md"), example_in(kSource / "examples" / "identify_photo.cpp");
  ASSERT_TRUE(readme_in && example_in);
  std::stringstream readme, example;
  readme << readme_in.rdbuf();
  example << example_in.rdbuf();
  const std::string text = readme.str();
  const std::size_t section = text.find("## Using the library");
  ASSERT_NE(section, std::string::npos);
  const std::string fence = "```cpp\n";
  const std::size_t start = text.find(fence, section);
  ASSERT_NE(start, std::string::npos);
  const std::size_t stop = text.find("```", start + fence.size());
  ASSERT_NE(stop, std::string::npos);
  EXPECT_EQ(text.substr(start + fence.size(), stop - start - fence.size()), example.str())
      << "README.md's library example differs from examples/identify_photo.cpp: quote the file whole";
}

}  // namespace
