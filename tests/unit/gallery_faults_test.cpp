// Gallery fault handling at the library level (issue #6): read-only opening, a full disk
// (simulated with RLIMIT_FSIZE in a forked child), and names that could be paths.
#include <sqlite3.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <functional>

#include "siamface/errors.hpp"
#include "siamface/gallery.hpp"
#include "common/sqlite_text.hpp"
#include "unit/gallery_test_util.hpp"

namespace siamface {
namespace {

namespace fs = std::filesystem;
using test::make_face;
using test::sqlite_text;
using test::TempDir;

std::string message_of(const std::function<void()>& f, ErrorCode* code = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (code) *code = e.code();
    return e.what();
  }
  return "<no error>";
}

// Runs `body` in a forked child (optionally with a file-size limit and as nobody when root);
// returns its exit status and what it wrote to `report`.
int in_child(const std::function<int(std::string& report)>& body, std::string& report, long file_limit = 0,
             bool drop_root = false) {
  int out[2];
  if (pipe(out) != 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    close(out[0]);
    if (file_limit > 0) {
      signal(SIGXFSZ, SIG_IGN);
      const rlimit limit{static_cast<rlim_t>(file_limit), static_cast<rlim_t>(file_limit)};
      setrlimit(RLIMIT_FSIZE, &limit);
    }
    if (drop_root && geteuid() == 0 && (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0)) {
      _exit(126);
    }
    std::string text;
    int status = 125;
    try {
      status = body(text);
    } catch (const std::exception& e) {
      text += std::string("unexpected exception: ") + e.what();
    }
    (void)!write(out[1], text.data(), text.size());
    _exit(status);
  }
  close(out[1]);
  char buffer[4096];
  for (ssize_t n; (n = read(out[0], buffer, sizeof buffer)) > 0;) report.append(buffer, static_cast<std::size_t>(n));
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(GalleryFaults, ReadOnlyOpenReadsAndRefusesEveryWrite) {
  TempDir dir;
  const std::string path = dir.file("g.db");
  {
    Gallery g = Gallery::open(path);
    g.add_faces({make_face("alice", 1), make_face("bob", 2)});
  }
  GalleryOptions options;
  options.read_only = true;
  Gallery g = Gallery::open(path, options);
  EXPECT_EQ(g.people().size(), 2U);
  EXPECT_EQ(g.search(make_face("alice", 1).embedding, test::test_model(), 1).front().person, "alice");
  const std::string face_id = g.faces_of("bob").front().id;
  for (const auto& write : std::vector<std::function<void()>>{
           [&] { g.add_face(make_face("carol", 3)); }, [&] { g.remove_person("alice"); },
           [&] { g.remove_face(face_id); }, [&] { g.rename_person("alice", "zed"); },
           [&] { g.set_setting("threshold", "0.5"); }}) {
    ErrorCode code = ErrorCode::kInternal;
    const std::string message = message_of(write, &code);
    EXPECT_EQ(code, ErrorCode::kGallery) << message;
    EXPECT_NE(message.find("read-only"), std::string::npos) << message;
  }
  EXPECT_EQ(Gallery::open(path).people().size(), 2U);

  // Read-only never creates a file.
  ErrorCode code = ErrorCode::kInternal;
  message_of([&] { Gallery::open(dir.file("absent.db"), options); }, &code);
  EXPECT_EQ(code, ErrorCode::kNotFound);
  EXPECT_FALSE(fs::exists(dir.file("absent.db")));
}

TEST(GalleryFaults, UnwritableFileOrFolderReadsInReadOnlyModeAndSaysReadOnlyOtherwise) {
  TempDir dir;
  const fs::path folder = fs::path(dir.file("ro"));
  fs::create_directories(folder);
  const std::string path = (folder / "g.db").string();
  {
    Gallery g = Gallery::open(path);
    g.add_faces({make_face("alice", 1), make_face("bob", 2)});
  }
  ASSERT_FALSE(fs::exists(path + "-wal"));
  // As root the child runs as nobody (root ignores modes); the folder stays root's.
  fs::permissions(dir.file(""), fs::perms(0755));
  fs::permissions(path, fs::perms(0444));
  fs::permissions(folder, fs::perms(0555));
  std::string report;
  const int status = in_child(
      [&](std::string& out) {
        GalleryOptions options;
        options.read_only = true;
        const Gallery g = Gallery::open(path, options);
        out += "people=" + std::to_string(g.people().size()) + "\n";
        ErrorCode code = ErrorCode::kInternal;
        out += message_of([&] { Gallery::open(path); }, &code) + "\n";
        return g.people().size() == 2 && code == ErrorCode::kGallery ? 0 : 1;
      },
      report, 0, /*drop_root=*/true);
  fs::permissions(folder, fs::perms(0755));
  EXPECT_EQ(status, 0) << report;
  EXPECT_NE(report.find("people=2"), std::string::npos) << report;
  EXPECT_NE(report.find("read-only"), std::string::npos) << report;
  EXPECT_FALSE(fs::exists(path + "-wal"));
  EXPECT_EQ(sqlite_text(path, "PRAGMA integrity_check"), "ok");
}

TEST(GalleryFaults, DiskFullIsNamedAndLeavesWholeBatchesOnly) {
  TempDir dir;
  const std::string path = dir.file("g.db");
  {
    Gallery g = Gallery::open(path);
    g.add_faces({make_face("alice", 1), make_face("bob", 2)});
  }
  std::string report;
  // 64 KiB: room for the 32 KiB -shm file, not for many batches in the WAL.
  const int status = in_child(
      [&](std::string& out) {
        Gallery g = Gallery::open(path);
        for (int batch = 0; batch < 1000; ++batch) {
          std::vector<GalleryFace> faces;
          for (int i = 0; i < 10; ++i) faces.push_back(make_face("p" + std::to_string(batch), i));
          try {
            g.add_faces(faces);
          } catch (const Error& e) {
            out = e.what();
            return e.code() == ErrorCode::kGallery ? 0 : 1;
          }
        }
        out = "never failed";
        return 2;
      },
      report, 64 * 1024);
  EXPECT_EQ(status, 0) << report;
  EXPECT_NE(report.find("disk full"), std::string::npos) << report;
  EXPECT_NE(report.find(path), std::string::npos) << report;

  EXPECT_EQ(sqlite_text(path, "PRAGMA integrity_check"), "ok");
  Gallery g = Gallery::open(path);
  const std::int64_t faces = g.face_count();
  EXPECT_GE(faces, 2);
  EXPECT_EQ((faces - 2) % 10, 0) << "a partial batch landed";
  EXPECT_EQ(g.faces_of("alice").size(), 1U);
  g.add_face(make_face("carol", 3));
  EXPECT_EQ(g.face_count(), faces + 1);
}

TEST(GalleryFaults, PersonNamesThatCouldBePathsAreRefused) {
  TempDir dir;
  Gallery g = Gallery::open(dir.file("g.db"));
  g.add_face(make_face("alice", 1));
  for (const std::string& name : {std::string("../escape"), std::string("/etc/passwd"), std::string("a/b"),
                                  std::string("a\\b"), std::string(".."), std::string("."), std::string("a\0b", 3),
                                  std::string(1000, 'x')}) {
    ErrorCode code = ErrorCode::kInternal;
    const std::string message = message_of([&] { g.add_face(make_face(name, 2)); }, &code);
    EXPECT_EQ(code, ErrorCode::kInvalidArgument) << message;
    code = ErrorCode::kInternal;
    message_of([&] { g.rename_person("alice", name); }, &code);
    EXPECT_EQ(code, ErrorCode::kInvalidArgument) << name.substr(0, 20);
  }
  EXPECT_EQ(g.people().size(), 1U);
}

}  // namespace
}  // namespace siamface
