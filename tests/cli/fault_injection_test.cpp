// Fault injection through the siamface binary (issue #6): a full disk during enrollment, a
// read-only gallery, a gallery locked by another process. Each case must end in a clear error
// and a non-zero exit, and leave the gallery intact and usable. Works as root and as a normal
// user: the disk is "filled" with a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored, so writes
// get EFBIG), and as root the read-only case runs the child as nobody (root ignores modes).
#include <gtest/gtest.h>
#include <grp.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <map>
#include <optional>
#include <sstream>
#include <vector>

#include "common/run_command.hpp"
#include "common/temp_dir_test.hpp"
#include "common/sqlite_text.hpp"
#include "common/test_env.hpp"

namespace siamface::test {
namespace {

namespace fs = std::filesystem;

const std::string kCli = SIAMFACE_CLI_PATH;
constexpr uid_t kNobody = 65534;

fs::path characters_dir() { return testdata_dir() / "face-api.js/examples/images"; }
std::string photo_of(const std::string& name, int i = 1) {
  return (characters_dir() / name / (name + std::to_string(i) + ".png")).string();
}

struct ChildOptions {
  std::optional<rlim_t> file_size_limit;  // bytes; SIGXFSZ ignored, so writes past it fail EFBIG
  bool as_nobody = false;                 // setuid/setgid 65534 (the caller must be root)
};

// Runs argv as a child with stdout+stderr captured through a pipe (a pipe is not subject to
// the file-size limit).
CommandResult run_child(const std::vector<std::string>& args, const ChildOptions& options = {}) {
  CommandResult result;
  int out[2];
  if (pipe(out) != 0) return result;
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    dup2(out[1], STDERR_FILENO);
    close(out[0]);
    close(out[1]);
    if (options.file_size_limit) {
      signal(SIGXFSZ, SIG_IGN);  // ignored dispositions survive exec
      const rlimit limit{*options.file_size_limit, *options.file_size_limit};
      if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(126);
    }
    if (options.as_nobody &&
        (setgroups(0, nullptr) != 0 || setgid(kNobody) != 0 || setuid(kNobody) != 0)) {
      _exit(126);
    }
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  char buffer[4096];
  for (ssize_t n; (n = read(out[0], buffer, sizeof buffer)) > 0;) result.output.append(buffer, static_cast<std::size_t>(n));
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

// Raw SQLite look at the file, independent of siamface.
std::map<std::string, int> people_of(const std::string& output) {
  std::map<std::string, int> people;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] != '{') continue;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("person")) people[j["person"].get<std::string>()] = j.value("faces", 0);
  }
  return people;
}

class FaultInjection : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    gallery_ = (temp_ / "gallery.db").string();
  }

  std::vector<std::string> cli(std::vector<std::string> args) const {
    args.insert(args.begin(), kCli);
    args.push_back("--gallery");
    args.push_back(gallery_);
    return args;
  }

  void enroll_two() {
    for (const char* name : {"amy", "bernadette"}) {
      const auto r = run_child(cli({"enroll", "--name", name, photo_of(name)}));
      ASSERT_EQ(r.exit_code, 0) << r.output;
    }
  }

  std::map<std::string, int> people() const { return people_of(run_child(cli({"people", "--json"})).output); }

  std::string gallery_;
};

#define REQUIRE_CHARACTERS()  \
  SIAMFACE_REQUIRE_MODELS();  \
  SIAMFACE_REQUIRE_TESTDATA("face-api.js/examples/images/amy/amy1.png")

TEST_F(FaultInjection, DiskFullDuringEnrollIsClearAndTheGalleryStaysIntactAndUsable) {
  REQUIRE_CHARACTERS();
  SIAMFACE_REQUIRE_TESTDATA("dlib_examples/johns");
  enroll_two();
  ASSERT_FALSE(fs::exists(gallery_ + "-wal"));  // a clean close folds and removes the WAL

  // 64 KiB: room for SQLite's 32 KiB -shm file, not for the WAL of 51 enrolled faces.
  const auto full = run_child(cli({"enroll", (testdata_dir() / "dlib_examples/johns").string(), "--batch", "4"}),
                              ChildOptions{.file_size_limit = 64 * 1024, .as_nobody = false});
  EXPECT_EQ(full.exit_code, 2) << full.output;
  EXPECT_NE(full.output.find("disk full"), std::string::npos) << full.output;
  EXPECT_NE(full.output.find(gallery_), std::string::npos) << full.output;  // names the file

  // Intact: SQLite's own check passes, the earlier people are there, whole batches only.
  EXPECT_EQ(sqlite_text(gallery_, "PRAGMA integrity_check"), "ok");
  auto now = people();
  EXPECT_EQ(now["amy"], 1);
  EXPECT_EQ(now["bernadette"], 1);
  const int johns_faces = static_cast<int>(std::stoi(sqlite_text(gallery_, "SELECT count(*) FROM faces"))) - 2;
  EXPECT_LT(johns_faces, 51) << "the limit never bit";

  // Usable: a later enrollment (no limit) works and is seen.
  const auto later = run_child(cli({"enroll", "--name", "howard", photo_of("howard", 2)}));
  EXPECT_EQ(later.exit_code, 0) << later.output;
  now = people();
  EXPECT_EQ(now["howard"], 1);
  EXPECT_EQ(now["amy"], 1);
  EXPECT_EQ(sqlite_text(gallery_, "PRAGMA integrity_check"), "ok");
}

TEST_F(FaultInjection, ReadOnlyGalleryServesReadsAndRefusesWritesClearly) {
  REQUIRE_CHARACTERS();
  const bool root = geteuid() == 0;
  // The gallery sits in its own folder; as root the child runs as nobody, so everything it
  // needs (models, photos, this folder's parents) must be readable by others.
  const fs::path folder = temp_ / "ro";
  fs::create_directories(folder);
  gallery_ = (folder / "gallery.db").string();
  enroll_two();
  const fs::path models = temp_ / "models";
  fs::copy(models_dir(), models, fs::copy_options::recursive);
  const fs::path out = temp_ / "out";
  fs::create_directories(out);
  fs::permissions(temp_, fs::perms(0755));
  fs::permissions(out, fs::perms(0777));
  const fs::perms file_mode = root ? fs::perms(0644) : fs::perms(0444);
  const fs::perms folder_mode = fs::perms(0555);
  fs::permissions(gallery_, file_mode);
  fs::permissions(folder, folder_mode);
  struct Restore {  // so TearDown can remove the folder as a normal user
    fs::path folder;
    ~Restore() { fs::permissions(folder, fs::perms(0755)); }
  } restore{folder};
  ChildOptions as;
  as.as_nobody = root;
  const auto with_models = [&](std::vector<std::string> args) {
    args = cli(std::move(args));
    args.push_back("--models");
    args.push_back(models.string());
    return args;
  };

  // Reads work.
  const auto listed = run_child(cli({"people", "--json"}), as);
  EXPECT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_EQ(people_of(listed.output), (std::map<std::string, int>{{"amy", 1}, {"bernadette", 1}})) << listed.output;
  const auto info = run_child(cli({"gallery", "info"}), as);
  EXPECT_EQ(info.exit_code, 0) << info.output;
  EXPECT_NE(info.output.find("\"faces\":2"), std::string::npos) << info.output;
  const auto exported = run_child(cli({"export", (out / "g.jsonl").string()}), as);
  EXPECT_EQ(exported.exit_code, 0) << exported.output;
  int lines = 0;
  std::ifstream jsonl(out / "g.jsonl");
  for (std::string line; std::getline(jsonl, line);) ++lines;
  EXPECT_EQ(lines, 3);  // header + two faces
  const auto identified = run_child(with_models({"identify", photo_of("amy", 2)}), as);
  EXPECT_EQ(identified.exit_code, 0) << identified.output;
  EXPECT_NE(identified.output.find("\"name\":\"amy\""), std::string::npos) << identified.output;

  // Writes fail clearly, and change nothing.
  for (const auto& args : {cli({"rename", "amy", "zed"}), cli({"remove", "amy"}),
                           with_models({"enroll", "--name", "howard", photo_of("howard", 2)})}) {
    const auto r = run_child(args, as);
    EXPECT_EQ(r.exit_code, 2) << args[1] << ": " << r.output;
    EXPECT_NE(r.output.find("read-only"), std::string::npos) << args[1] << ": " << r.output;
  }
  EXPECT_EQ(people(), (std::map<std::string, int>{{"amy", 1}, {"bernadette", 1}}));
}

TEST_F(FaultInjection, LockedGalleryWaitsForTheTimeoutThenFailsNamingTheLock) {
  REQUIRE_CHARACTERS();
  enroll_two();
  sqlite3* holder = nullptr;
  ASSERT_EQ(sqlite3_open(gallery_.c_str(), &holder), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(holder, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);

  // A writer waits about --lock-timeout-ms (loosely bounded: this is not a timing test).
  const auto started = std::chrono::steady_clock::now();
  const auto removed = run_child(cli({"remove", "amy", "--lock-timeout-ms", "1500"}));
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(removed.exit_code, 2) << removed.output;
  EXPECT_NE(removed.output.find("locked"), std::string::npos) << removed.output;
  EXPECT_NE(removed.output.find("1500 ms"), std::string::npos) << removed.output;
  EXPECT_GE(waited, 1.4);
  EXPECT_LT(waited, 60.0);
  const auto enrolled = run_child(cli({"enroll", "--name", "howard", photo_of("howard", 2), "--lock-timeout-ms", "500"}));
  EXPECT_EQ(enrolled.exit_code, 2) << enrolled.output;
  EXPECT_NE(enrolled.output.find("locked"), std::string::npos) << enrolled.output;
  // Readers are not blocked by a writer (WAL).
  EXPECT_EQ(people(), (std::map<std::string, int>{{"amy", 1}, {"bernadette", 1}}));

  // Once the lock is gone the same write succeeds.
  sqlite3_exec(holder, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(holder);
  const auto again = run_child(cli({"remove", "amy", "--lock-timeout-ms", "1500"}));
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(people(), (std::map<std::string, int>{{"bernadette", 1}}));
}

}  // namespace
}  // namespace siamface::test
