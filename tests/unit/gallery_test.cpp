#include <sqlite3.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <thread>
#include <random>
#include <sstream>

#include "siamface/errors.hpp"
#include "siamface/gallery.hpp"
#include "siamface/identify.hpp"
#include "common/postgres_server.hpp"
#include "unit/gallery_test_util.hpp"

namespace siamface {
namespace {

using test::exec_sql;
using test::make_face;
using test::TempDir;
using test::test_model;

enum class Backend { kSqlite, kPostgres };

// The shared suite: every TEST_P runs against an SQLite file and a PostgreSQL database (a
// server this executable starts; skipped with the reason when PostgreSQL is not installed).
class GalleryBackends : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kPostgres) {
      SIAMFACE_REQUIRE_POSTGRES();
    }
  }

  // Where the gallery called `name` lives in this test: a file, or a database of its own.
  std::string location(const std::string& name) {
    if (GetParam() == Backend::kSqlite) return dir.file(name);
    auto& url = databases_[name];
    if (url.empty()) url = test::shared_postgres().create_database();
    return url;
  }
  Gallery open_gallery(const std::string& name, const GalleryOptions& options = {}) {
    return Gallery::open(location(name), options);
  }
  Gallery open_gallery_at(const std::string& where, const GalleryOptions& options = {}) {
    return Gallery::open(where, options);
  }
  int expected_schema_version() const { return GetParam() == Backend::kSqlite ? 3 : 2; }

  static bool within_one_second(const std::function<bool()>& condition) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (!condition()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }

  TempDir dir;

 private:
  std::map<std::string, std::string> databases_;
};

INSTANTIATE_TEST_SUITE_P(Both, GalleryBackends, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const auto& info) { return info.param == Backend::kSqlite ? "SQLite" : "PostgreSQL"; });

using test::code_of;
std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST_P(GalleryBackends, AddSearchAndReopenKeepsEveryField) {
  const std::string path = location("g.db");
  std::vector<GalleryFace> batch = {make_face("alice", 1), make_face("alice", 2),
                                    make_face("bob", 3)};
  std::vector<AddOutcome> outcomes;
  {
    Gallery g = open_gallery_at(path);
    outcomes = g.add_faces(batch);
    ASSERT_EQ(outcomes.size(), 3U);
    for (const auto& o : outcomes) {
      EXPECT_EQ(o.status, AddStatus::kAdded);
      EXPECT_EQ(o.face_id.size(), 36U);
    }
    EXPECT_NE(outcomes[0].face_id, outcomes[1].face_id);
  }
  Gallery g = open_gallery_at(path, {.create = false});
  const auto people = g.people();
  ASSERT_EQ(people.size(), 2U);
  EXPECT_EQ(people[0].person, "alice");
  EXPECT_EQ(people[0].face_count, 2);
  EXPECT_EQ(people[1].person, "bob");
  EXPECT_EQ(people[1].face_count, 1);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto stored = g.face(outcomes[i].face_id);
    ASSERT_TRUE(stored.has_value());
    batch[i].id = outcomes[i].face_id;
    batch[i].created_unix_ms = stored->created_unix_ms;
    EXPECT_GT(stored->created_unix_ms, 1'600'000'000'000);
    test::expect_same_face(*stored, batch[i]);
  }
  const auto matches = g.search(batch[2].embedding, test_model(), 2);
  ASSERT_EQ(matches.size(), 2U);
  EXPECT_EQ(matches[0].person, "bob");
  EXPECT_EQ(matches[0].face_id, outcomes[2].face_id);
  EXPECT_FLOAT_EQ(matches[0].distance, 0.0F);
  EXPECT_EQ(g.faces_of("alice").size(), 2U);
  EXPECT_FALSE(g.face("00000000-0000-4000-8000-000000000000").has_value());
}

TEST(Gallery, OpenWithoutCreateRefusesMissingFile) {
  TempDir dir;
  EXPECT_EQ(code_of([&] { Gallery::open(dir.file("missing.db"), {.create = false}); }),
            ErrorCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(dir.file("missing.db")));
}

TEST_P(GalleryBackends, SameImageForSamePersonIsDuplicate) {
  Gallery g = open_gallery("g.db");
  const GalleryFace f = make_face("alice", 1);
  const AddOutcome first = g.add_face(f);
  EXPECT_TRUE(g.has_image(f.image_sha256));
  EXPECT_TRUE(g.has_image(f.image_sha256, "alice"));
  EXPECT_FALSE(g.has_image(f.image_sha256, "bob"));
  const AddOutcome again = g.add_face(f);
  EXPECT_EQ(again.status, AddStatus::kDuplicate);
  EXPECT_EQ(again.face_id, first.face_id);
  // Within one batch too.
  const auto outcomes = g.add_faces({make_face("carol", 5), make_face("carol", 5)});
  EXPECT_EQ(outcomes[0].status, AddStatus::kAdded);
  EXPECT_EQ(outcomes[1].status, AddStatus::kDuplicate);
  EXPECT_EQ(outcomes[1].face_id, outcomes[0].face_id);
  // The same face of the same photo under another name is the face alice already has (issue 34).
  GalleryFace other = f;
  other.person = "bob";
  const AddOutcome renamed = g.add_face(other);
  EXPECT_EQ(renamed.status, AddStatus::kDuplicate);
  EXPECT_EQ(renamed.face_id, first.face_id);
  EXPECT_EQ(renamed.person, "alice");
  EXPECT_EQ(g.face_count(), 2);
  EXPECT_FALSE(g.has_image(test::sha_of("nothing")));
}

// Issue 34, item 1: a photo's face is stored at most once, under one person. Before, UNIQUE(person,
// image_sha256) let the same photo be stored again under another name, and the two names then
// tied on every probe of that person ("unknown").
TEST_P(GalleryBackends, APhotosFaceIsStoredOnceUnderOnePerson) {
  Gallery g = open_gallery("g.db");
  GalleryFace ada = make_face("ada", 1);
  ada.face.box = {100, 100, 80, 100};
  const AddOutcome first = g.add_face(ada);
  ASSERT_EQ(first.status, AddStatus::kAdded);
  EXPECT_EQ(first.person, "ada");

  // The same face under another name, with the very box or a box moved by a few pixels (another
  // detector, a reindex): a duplicate that names ada, nothing stored.
  GalleryFace again = make_face("person01", 1);
  again.image_sha256 = ada.image_sha256;
  for (const Box& box : {Box{100, 100, 80, 100}, Box{108, 94, 84, 104}}) {
    again.face.box = box;
    ASSERT_GE(intersection_over_union(box, ada.face.box), kSameFaceMinIou);
    const AddOutcome o = g.add_face(again);
    EXPECT_EQ(o.status, AddStatus::kDuplicate);
    EXPECT_EQ(o.face_id, first.face_id);
    EXPECT_EQ(o.person, "ada");
  }
  EXPECT_EQ(g.face_count(), 1);
  EXPECT_FALSE(g.has_image(ada.image_sha256, "person01"));

  // Another face of the same group photo (no overlap) is another person's: allowed.
  GalleryFace bob = make_face("bob", 2);
  bob.image_sha256 = ada.image_sha256;
  bob.face.box = {300, 110, 80, 100};
  const AddOutcome neighbour = g.add_face(bob);
  EXPECT_EQ(neighbour.status, AddStatus::kAdded);
  EXPECT_EQ(neighbour.person, "bob");
  // A box overlapping bob's more than ada's is bob's face.
  again.face.box = {290, 110, 90, 100};
  EXPECT_EQ(g.add_face(again).person, "bob");
  // One face per person and photo: a third face of that photo under ada is refused as ada's.
  GalleryFace third = make_face("ada", 3);
  third.image_sha256 = ada.image_sha256;
  third.face.box = {500, 100, 80, 100};
  const AddOutcome twice = g.add_face(third);
  EXPECT_EQ(twice.status, AddStatus::kDuplicate);
  EXPECT_EQ(twice.face_id, first.face_id);
  EXPECT_EQ(twice.person, "ada");

  // Within one batch the first name wins; the rest of the batch is stored.
  GalleryFace carol = make_face("carol", 4);
  GalleryFace dave = make_face("dave", 4);
  dave.image_sha256 = carol.image_sha256;
  dave.face.box = carol.face.box;
  const auto outcomes = g.add_faces({carol, dave, make_face("dave", 5)});
  ASSERT_EQ(outcomes.size(), 3U);
  EXPECT_EQ(outcomes[0].status, AddStatus::kAdded);
  EXPECT_EQ(outcomes[1].status, AddStatus::kDuplicate);
  EXPECT_EQ(outcomes[1].face_id, outcomes[0].face_id);
  EXPECT_EQ(outcomes[1].person, "carol");
  EXPECT_EQ(outcomes[2].status, AddStatus::kAdded);
  EXPECT_EQ(g.face_count(), 4);

  // Another handle (another process or node) sees the same rule.
  Gallery other = open_gallery("g.db");
  EXPECT_EQ(other.add_face(again).status, AddStatus::kDuplicate);
  EXPECT_EQ(other.face_count(), 4);
}

// The story of issue 34: rename a person, then enroll the folder that still has the old name.
// Rename, merge and `not` keep the invariant too.
TEST_P(GalleryBackends, RenameMergeAndNotKeepOneFacePerPhoto) {
  Gallery g = open_gallery("g.db");
  const std::vector<GalleryFace> folder = {make_face("person01", 1), make_face("person01", 2)};
  g.add_faces(folder);
  g.add_face(make_face("person02", 3));
  ASSERT_EQ(g.rename_person("person01", "Ada"), 2U);
  const auto outcomes = g.add_faces(folder);  // `enroll people/` again: folder person01/
  for (const AddOutcome& o : outcomes) {
    EXPECT_EQ(o.status, AddStatus::kDuplicate);
    EXPECT_EQ(o.person, "Ada");
  }
  std::vector<PersonSummary> people = g.people();
  ASSERT_EQ(people.size(), 2U);
  EXPECT_EQ(people[0].person, "Ada");
  EXPECT_EQ(people[0].face_count, 2);
  EXPECT_EQ(people[1].person, "person02");
  // Her probe finds one person only: no tie with a second name.
  const auto top = g.search(folder[0].embedding, test_model(), 3);
  ASSERT_GE(top.size(), 2U);
  EXPECT_EQ(top[0].person, "Ada");
  EXPECT_EQ(top[1].person, "person02");

  // A gallery written before the rule can hold one photo under two names; renaming or merging one
  // into the other keeps a single copy.
  const std::string legacy_path = location("legacy.db");
  {
    Gallery legacy = open_gallery_at(legacy_path);
    legacy.add_faces(folder);
    legacy.rename_person("person01", "Ada");
  }
  if (GetParam() == Backend::kSqlite) {
    // What the old code allowed, written behind the library's back.
    exec_sql(legacy_path,
             "INSERT INTO faces (id, person, source_path, image_sha256, box_left, box_top, box_width, box_height, "
             "score, landmarks, face_size_px, brightness, contrast, sharpness, noise, yaw, grayscale, embedding, "
             "model_name, model_version, model_weights_sha256, created_unix_ms) SELECT "
             "'00000000-0000-4000-8000-00000000000' || rowid, 'person01', source_path, image_sha256, box_left, "
             "box_top, box_width, box_height, score, landmarks, face_size_px, brightness, contrast, sharpness, noise, "
             "yaw, grayscale, embedding, model_name, model_version, model_weights_sha256, created_unix_ms "
             "FROM faces WHERE person = 'Ada'");
    Gallery legacy = open_gallery_at(legacy_path);
    ASSERT_EQ(legacy.face_count(), 4);
    EXPECT_EQ(legacy.merge_people("person01", "Ada"), 0U);
    EXPECT_EQ(legacy.face_count(), 2);
    ASSERT_EQ(legacy.people().size(), 1U);
    EXPECT_EQ(legacy.people()[0].face_count, 2);
  }

  // Merge: ann and bob appear in one group photo; merged, one face per photo stays.
  GalleryFace ann = make_face("ann", 7);
  ann.face.box = {0, 0, 50, 60};
  GalleryFace bob = make_face("bob", 7);
  bob.image_sha256 = ann.image_sha256;
  bob.face.box = {200, 0, 50, 60};
  g.add_faces({ann, bob, make_face("bob", 8)});
  EXPECT_EQ(g.merge_people("bob", "ann"), 1U);
  EXPECT_EQ(g.faces_of("ann").size(), 2U);

  // `not`: "this face is not Ada" removes it and keeps a negative example; the photo may then be
  // enrolled under the right name.
  const std::string wrong = g.faces_of("Ada").front().id;
  EXPECT_EQ(g.mark_not(wrong), "Ada");
  GalleryFace right = folder.front();
  right.person = "Bea";
  const AddOutcome corrected = g.add_face(right);
  EXPECT_EQ(corrected.status, AddStatus::kAdded);
  EXPECT_EQ(corrected.person, "Bea");
  // ... and under one name only.
  right.person = "Ada";
  EXPECT_EQ(g.add_face(right).person, "Bea");
}

TEST_P(GalleryBackends, BatchIsAllOrNothing) {
  Gallery g = open_gallery("g.db");
  g.add_face(make_face("alice", 1));
  // A face with another model in the middle of a batch: nothing from the batch is stored.
  std::vector<GalleryFace> batch = {make_face("bob", 2), make_face("bob", 3, test_model("b")),
                                    make_face("bob", 4)};
  EXPECT_EQ(code_of([&] { g.add_faces(batch); }), ErrorCode::kModelMismatch);
  // An invalid face: refused before anything is written.
  batch = {make_face("bob", 2), make_face("bob", 3)};
  batch[1].embedding[5] = std::nanf("");
  std::string message;
  EXPECT_EQ(code_of([&] { g.add_faces(batch); }, &message), ErrorCode::kInvalidArgument);
  EXPECT_NE(message.find("face 1"), std::string::npos) << message;
  batch[1] = make_face("", 3);
  EXPECT_EQ(code_of([&] { g.add_faces(batch); }), ErrorCode::kInvalidArgument);
  batch[1] = make_face("bob", 3);
  batch[1].image_sha256 = "XYZ";
  EXPECT_EQ(code_of([&] { g.add_faces(batch); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(g.face_count(), 1);
  EXPECT_EQ(g.search(make_face("bob", 2).embedding, test_model(), 0).size(), 1U);
}

TEST_P(GalleryBackends, ModelMismatchIsRefusedWithReindexHint) {
  Gallery g = open_gallery("g.db");
  EXPECT_FALSE(g.model().has_value());
  g.add_face(make_face("alice", 1));
  ASSERT_TRUE(g.model().has_value());
  EXPECT_EQ(g.model()->weights_sha256, test_model().weights_sha256);
  std::string message;
  EXPECT_EQ(code_of([&] { g.add_face(make_face("bob", 2, test_model("b"))); }, &message),
            ErrorCode::kModelMismatch);
  EXPECT_NE(message.find("siamface reindex"), std::string::npos) << message;
  EXPECT_EQ(code_of([&] { g.search(Embedding{}, test_model("b"), 1); }, &message),
            ErrorCode::kModelMismatch);
  EXPECT_NE(message.find("siamface reindex"), std::string::npos) << message;
  const std::vector<Embedding> queries(2);
  EXPECT_EQ(code_of([&] { g.search_batch(queries, test_model("b"), 1); }),
            ErrorCode::kModelMismatch);
  EXPECT_EQ(g.face_count(), 1);
  // Once emptied, the gallery takes the next model.
  g.remove_all();
  EXPECT_EQ(g.add_face(make_face("bob", 2, test_model("b"))).status, AddStatus::kAdded);
  EXPECT_EQ(g.model()->version, test_model("b").version);
}

TEST_P(GalleryBackends, RemoveRenameAndMerge) {
  Gallery g = open_gallery("g.db");
  const auto ids = g.add_faces({make_face("alice", 1), make_face("alice", 2), make_face("bob", 3),
                                make_face("carol", 4)});
  EXPECT_EQ(code_of([&] { g.remove_person("nobody"); }), ErrorCode::kNotFound);
  EXPECT_EQ(code_of([&] { g.remove_face("00000000-0000-4000-8000-000000000000"); }),
            ErrorCode::kNotFound);
  g.remove_face(ids[0].face_id);
  EXPECT_FALSE(g.face(ids[0].face_id).has_value());
  for (const auto& m : g.search(make_face("alice", 1).embedding, test_model(), 0)) {
    EXPECT_NE(m.face_id, ids[0].face_id);
  }
  EXPECT_EQ(g.remove_person("carol"), 1U);
  EXPECT_EQ(g.people().size(), 2U);

  // Merge alice into bob; a photo bob already has is dropped, not duplicated.
  GalleryFace shared = make_face("alice", 3);
  shared.image_sha256 = make_face("bob", 3).image_sha256;
  g.add_face(shared);
  EXPECT_EQ(code_of([&] { g.rename_person("nobody", "x"); }), ErrorCode::kNotFound);
  EXPECT_EQ(g.rename_person("alice", "bob"), 1U);
  const auto people = g.people();
  ASSERT_EQ(people.size(), 1U);
  EXPECT_EQ(people[0].person, "bob");
  EXPECT_EQ(people[0].face_count, 2);
  const auto top = g.search(make_face("alice", 2).embedding, test_model(), 5);
  ASSERT_EQ(top.size(), 1U);
  EXPECT_EQ(top[0].person, "bob");
  EXPECT_FLOAT_EQ(top[0].distance, 0.0F);

  EXPECT_EQ(g.rename_person("bob", "dave"), 2U);
  EXPECT_EQ(g.remove_all(), 2U);
  EXPECT_EQ(g.face_count(), 0);
  EXPECT_TRUE(g.search(Embedding{}, test_model(), 3).empty());
}

TEST_P(GalleryBackends, SettingsAndInfo) {
  Gallery g = open_gallery("g.db");
  EXPECT_FALSE(g.info().threshold.has_value());
  EXPECT_EQ(code_of([&] { g.set_setting("threshold", "abc"); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { g.set_setting("threshold", "-1"); }), ErrorCode::kInvalidArgument);
  g.set_setting("threshold", "0.55");
  g.set_setting("note", "hello");
  g.set_setting("note", "again");
  EXPECT_EQ(g.setting("note").value_or(""), "again");
  EXPECT_TRUE(g.erase_setting("note"));
  EXPECT_FALSE(g.erase_setting("note"));
  EXPECT_FALSE(g.setting("note").has_value());
  g.add_faces({make_face("alice", 1), make_face("bob", 2), make_face("bob", 3)});
  const GalleryInfo info = g.info();
  EXPECT_EQ(info.schema_version, expected_schema_version());
  EXPECT_EQ(info.face_count, 3);
  EXPECT_EQ(info.person_count, 2);
  ASSERT_TRUE(info.threshold.has_value());
  EXPECT_FLOAT_EQ(*info.threshold, 0.55F);
  ASSERT_TRUE(info.model.has_value());
  EXPECT_EQ(info.model->name, "test-recognizer");
  EXPECT_GT(info.file_bytes, 0);
}

TEST_P(GalleryBackends, ExportImportRoundTripIsExact) {
  Gallery a = open_gallery("a.db");
  a.set_setting("threshold", "0.5");
  std::vector<GalleryFace> faces;
  for (int i = 0; i < 20; ++i) faces.push_back(make_face("p" + std::to_string(i % 4), i));
  faces[3].embedding[0] = 1e-38F;  // denormal-ish and extreme values must survive
  faces[3].embedding[1] = -3.4028235e38F;
  faces[3].source_path = "/ph\"otos/\xc3\xa9t\xc3\xa9\\x.jpg";
  a.add_faces(faces);
  const std::string out = dir.file("export.jsonl");
  EXPECT_EQ(a.export_jsonl(out), 20U);
  struct stat st {};
  ASSERT_EQ(::stat(out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);

  Gallery b = open_gallery("b.db");
  const ImportResult r = b.import_jsonl(out);
  EXPECT_EQ(r.added, 20U);
  EXPECT_EQ(r.duplicates, 0U);
  EXPECT_EQ(b.setting("threshold").value_or(""), "0.5");
  for (const auto& p : a.people()) {
    const auto fa = a.faces_of(p.person);
    const auto fb = b.faces_of(p.person);
    ASSERT_EQ(fa.size(), fb.size());
    for (std::size_t i = 0; i < fa.size(); ++i) test::expect_same_face(fa[i], fb[i]);
  }
  // Importing again changes nothing.
  const ImportResult again = b.import_jsonl(out);
  EXPECT_EQ(again.added, 0U);
  EXPECT_EQ(again.duplicates, 20U);
  EXPECT_EQ(b.face_count(), 20);
  // A second export is byte-identical.
  const std::string out2 = dir.file("export2.jsonl");
  b.export_jsonl(out2);
  EXPECT_EQ(read_bytes(out), read_bytes(out2));
}

// Issue 34: an export keeps the thumbnails the web page shows, and an import keeps the one-face-
// one-person rule, naming the faces the gallery holds under another name.
TEST_P(GalleryBackends, ExportImportKeepsThumbnailsAndOneNamePerFace) {
  Gallery a = open_gallery("a.db");
  std::vector<GalleryFace> faces = {make_face("ada", 1), make_face("ada", 2), make_face("bob", 3)};
  faces[0].thumbnail_jpeg = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00, 0xFF, 0xD9};
  faces[2].thumbnail_jpeg = {0xFF, 0xD8, 0xFF, 0xDB, 0x42, 0xFF, 0xD9};
  const auto ids = a.add_faces(faces);  // faces[1] has none (enrolled before thumbnails)
  const std::string out = dir.file("export.jsonl");
  ASSERT_EQ(a.export_jsonl(out), 3U);

  Gallery b = open_gallery("b.db");
  const ImportResult r = b.import_jsonl(out);
  EXPECT_EQ(r.added, 3U);
  EXPECT_TRUE(r.other_person.empty());
  for (std::size_t i = 0; i < faces.size(); ++i) {
    const auto thumbnail = b.face_thumbnail(ids[i].face_id);
    if (faces[i].thumbnail_jpeg.empty()) {
      EXPECT_FALSE(thumbnail.has_value()) << i;
    } else {
      ASSERT_TRUE(thumbnail.has_value()) << i;
      EXPECT_EQ(*thumbnail, faces[i].thumbnail_jpeg) << i;
    }
  }
  EXPECT_EQ(b.people_page(0, 10).second.at(0).thumbnail_face.value_or(""), ids[0].face_id);
  // Exporting the imported gallery gives the same bytes.
  const std::string out2 = dir.file("export2.jsonl");
  b.export_jsonl(out2);
  EXPECT_EQ(read_bytes(out), read_bytes(out2));

  // A gallery that holds ada's photos under another name (enrolled there as "person01"): the
  // import does not store them a second time, and says who has them.
  Gallery c = open_gallery("c.db");
  std::vector<GalleryFace> hers = {faces[0], faces[1]};
  for (GalleryFace& f : hers) f.person = "person01";
  c.add_faces(hers);
  const ImportResult conflict = c.import_jsonl(out);
  EXPECT_EQ(conflict.added, 1U);  // bob
  EXPECT_EQ(conflict.duplicates, 2U);
  ASSERT_EQ(conflict.other_person.size(), 2U);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(conflict.other_person[i].face_id, ids[i].face_id);
    EXPECT_EQ(conflict.other_person[i].person, "ada");
    EXPECT_EQ(conflict.other_person[i].source_path, faces[i].source_path);
    EXPECT_EQ(conflict.other_person[i].stored_person, "person01");
  }
  EXPECT_EQ(c.face_count(), 3);
  EXPECT_EQ(c.faces_of("ada").size(), 0U);
  // The same file again: everything is present; ada's two still named.
  const ImportResult again = c.import_jsonl(out);
  EXPECT_EQ(again.added, 0U);
  EXPECT_EQ(again.duplicates, 3U);
  EXPECT_EQ(again.other_person.size(), 2U);
}

TEST_P(GalleryBackends, ImportReportsLineNumbersAndWritesNothing) {
  Gallery a = open_gallery("a.db");
  a.add_faces({make_face("alice", 1), make_face("bob", 2)});
  const std::string good = dir.file("good.jsonl");
  a.export_jsonl(good);
  std::vector<std::string> lines;
  {
    std::ifstream in(good);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
  }
  ASSERT_EQ(lines.size(), 3U);

  struct Case {
    std::string from, to;  // edit applied to line 3
    std::string expect;    // in the message
  };
  const std::vector<Case> cases = {
      {"\"person\":", "\"persona\":", "field 'person' is missing"},
      {"\"score\":", "\"score\":\"x\",\"_s\":", "field 'score' must be a number"},
      {"\"source_path\":", "\"extra\":1,\"source_path\":", "field 'extra' is unknown"},
      {"\"embedding\":[", "\"embedding\":[\"a\",", "embedding"},
      {"\"grayscale\":", "\"grayscale\":1,\"g\":", "quality"},
      {"\"image_sha256\":\"", "\"image_sha256\":\"Z", "image_sha256"},
      {"{", "{{", "invalid JSON"},
  };
  for (const Case& c : cases) {
    std::string bad = lines[2];
    const auto pos = bad.find(c.from);
    ASSERT_NE(pos, std::string::npos) << c.from;
    bad.replace(pos, c.from.size(), c.to);
    const std::string file = dir.file("bad.jsonl");
    {
      std::ofstream o(file);
      o << lines[0] << "\n" << lines[1] << "\n" << bad << "\n";
    }
    Gallery b = open_gallery("b.db");
    std::string message;
    EXPECT_EQ(code_of([&] { b.import_jsonl(file); }, &message), ErrorCode::kInvalidArgument);
    EXPECT_NE(message.find("bad.jsonl:3:"), std::string::npos) << message;
    EXPECT_NE(message.find(c.expect), std::string::npos) << message;
    EXPECT_EQ(b.face_count(), 0) << "a failed import must not write anything";
  }
  // A missing header is reported on line 1.
  const std::string headless = dir.file("headless.jsonl");
  {
    std::ofstream o(headless);
    o << lines[1] << "\n";
  }
  Gallery b = open_gallery("c.db");
  std::string message;
  EXPECT_EQ(code_of([&] { b.import_jsonl(headless); }, &message), ErrorCode::kInvalidArgument);
  EXPECT_NE(message.find("headless.jsonl:1:"), std::string::npos) << message;
}

// Inputs found by fuzz/gallery_import_fuzz.cpp: each must be refused with Error(kInvalidArgument)
// naming the line, and write nothing.
TEST_P(GalleryBackends, ImportRefusesFuzzFindings) {
  Gallery g = open_gallery("g.db");
  const std::string header = R"({"format":"siamface-gallery","version":1,"model":null)";
  const struct {
    std::string text, expect;
  } cases[] = {
      // A number past double's range made nlohmann throw out_of_range, not parse_error, and
      // it escaped the import as a foreign exception.
      {header + "}\n{\"score\":44.51e395}\n", "fuzz.jsonl:2: invalid JSON"},
      {header + ",\"settings\":{\"x\":\"1\"},\"y\":1e999}\n", "fuzz.jsonl:1: invalid JSON"},
      // An embedded NUL cut strtof short, so "0.5<NUL>x" passed as a threshold.
      {header + R"(,"settings":{"threshold":"0.5\u0000x"}})" + "\n", "must be a positive number"},
  };
  for (const auto& c : cases) {
    std::istringstream in(c.text);
    std::string message;
    EXPECT_EQ(code_of([&] { g.import_jsonl(in, "fuzz.jsonl"); }, &message), ErrorCode::kInvalidArgument) << c.text;
    EXPECT_NE(message.find(c.expect), std::string::npos) << message;
  }
  EXPECT_FALSE(g.setting("threshold").has_value());
}

// One person-name rule inside the gallery: import and rename used to check only a looser one,
// so an import could create a person named "unknown".
TEST_P(GalleryBackends, ImportAndRenameEnforceThePersonNameRule) {
  Gallery g = open_gallery("g.db");
  g.add_face(make_face("alice", 1));
  const std::string header = R"({"format":"siamface-gallery","version":1,"model":{"name":"test-recognizer",)"
                             R"("version":"1.0.a","weights_sha256":")" +
                             test_model().weights_sha256 + "\"}}\n";
  const std::string exported = dir.file("one.jsonl");
  g.export_jsonl(exported);
  std::string face_line;
  {
    std::ifstream in(exported);
    std::getline(in, face_line);
    std::getline(in, face_line);
  }
  for (const std::string& name : {std::string("unknown"), std::string(129, 'x'), std::string("caf\xc3", 4),
                                  std::string("\xff\xfe")}) {
    std::string line = face_line;
    line.replace(line.find("\"person\":\"alice\""), 16, "\"person\":\"" + name + "\"");
    line.replace(line.find("\"id\":\"") + 6, 8, "00000000");  // another face id
    std::istringstream in(header + line + "\n");
    std::string message;
    EXPECT_EQ(code_of([&] { g.import_jsonl(in, "names.jsonl"); }, &message), ErrorCode::kInvalidArgument)
        << name.substr(0, 20);
    EXPECT_NE(message.find("names.jsonl:2:"), std::string::npos) << message;
    EXPECT_EQ(code_of([&] { g.rename_person("alice", name); }, &message), ErrorCode::kInvalidArgument);
    EXPECT_NE(message.find("invalid person name"), std::string::npos) << message;
    EXPECT_EQ(code_of([&] { g.add_face(make_face(name, 2)); }), ErrorCode::kInvalidArgument);
  }
  const auto people = g.people();
  ASSERT_EQ(people.size(), 1U);
  EXPECT_EQ(people[0].person, "alice");
  EXPECT_EQ(g.face_count(), 1);
  // The longest allowed name is accepted by rename.
  EXPECT_EQ(g.rename_person("alice", std::string(128, 'y')), 1U);
}

TEST(Gallery, FilesAreCreatedPrivate) {
  TempDir dir;
  const mode_t old = ::umask(0);  // even with a permissive umask
  const std::string path = dir.file("sub/dir/g.db");
  {
    Gallery g = Gallery::open(path);
    g.add_face(make_face("alice", 1));
    for (const std::string& p : {path, path + "-wal", path + "-shm"}) {
      struct stat st {};
      ASSERT_EQ(::stat(p.c_str(), &st), 0) << p;
      EXPECT_EQ(st.st_mode & 0777, 0600) << p;
    }
  }
  ::umask(old);
}

TEST(Gallery, CorruptOrForeignFilesGiveClearErrors) {
  TempDir dir;
  std::string message;
  // Random bytes.
  const std::string junk = dir.file("junk.db");
  {
    std::mt19937 rng(5);
    std::ofstream o(junk, std::ios::binary);
    for (int i = 0; i < 8192; ++i) o.put(static_cast<char>(rng()));
  }
  EXPECT_EQ(code_of([&] { Gallery::open(junk); }, &message), ErrorCode::kGallery);
  EXPECT_NE(message.find("junk.db"), std::string::npos) << message;
  EXPECT_NE(message.find("not a siamface gallery"), std::string::npos) << message;

  // A truncated gallery.
  const std::string cut = dir.file("cut.db");
  {
    Gallery g = Gallery::open(cut);
    std::vector<GalleryFace> faces;
    for (int i = 0; i < 400; ++i) faces.push_back(make_face("p" + std::to_string(i % 10), i));
    g.add_faces(faces);
    g.checkpoint();
  }
  const auto size = std::filesystem::file_size(cut);
  ASSERT_GT(size, 100000U);
  std::filesystem::resize_file(cut, size / 2);
  EXPECT_EQ(code_of([&] { Gallery::open(cut); }, &message), ErrorCode::kGallery);
  EXPECT_NE(message.find("cut.db"), std::string::npos) << message;

  // A valid SQLite database that is not a gallery, and a gallery from a newer siamface.
  const std::string foreign = dir.file("foreign.db");
  const std::string newer = dir.file("newer.db");
  Gallery::open(newer);
  for (const auto& [file, sql] : {std::pair{foreign, "CREATE TABLE t (x)"},
                                  std::pair{newer, "PRAGMA user_version = 99"}}) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  EXPECT_EQ(code_of([&] { Gallery::open(foreign); }, &message), ErrorCode::kGallery);
  EXPECT_NE(message.find("not a siamface gallery"), std::string::npos) << message;
  EXPECT_EQ(code_of([&] { Gallery::open(newer); }, &message), ErrorCode::kGallery);
  EXPECT_NE(message.find("newer"), std::string::npos) << message;
  // A directory.
  EXPECT_EQ(code_of([&] { Gallery::open(dir.file("")); }), ErrorCode::kGallery);
}

bool contains(const std::string& haystack, const Embedding& e) {
  const std::string needle(reinterpret_cast<const char*>(e.data()), sizeof(Embedding));
  const std::string half(reinterpret_cast<const char*>(e.data()) + 200, 64);
  return haystack.find(needle) != std::string::npos || haystack.find(half) != std::string::npos;
}

TEST(Gallery, RemovedEmbeddingsLeaveNoBytesBehind) {
  TempDir dir;
  const std::string path = dir.file("g.db");
  Gallery g = Gallery::open(path);
  const GalleryFace secret = make_face("secret", 1);
  std::vector<GalleryFace> others;
  for (int i = 2; i < 50; ++i) others.push_back(make_face("other", i));
  g.add_faces(others);
  g.add_face(secret);
  g.checkpoint();
  // Control: the bytes are findable while stored, so the scan below can fail.
  ASSERT_TRUE(contains(read_bytes(path), secret.embedding));
  g.remove_person("secret");
  g.checkpoint();
  EXPECT_FALSE(contains(read_bytes(path), secret.embedding));
  EXPECT_FALSE(contains(read_bytes(path + "-wal"), secret.embedding));
  EXPECT_TRUE(contains(read_bytes(path), others[10].embedding));

  // Same for a single face removed without an explicit checkpoint (remove_face does one).
  const AddOutcome o = g.add_face(make_face("temp", 77));
  g.checkpoint();
  ASSERT_TRUE(contains(read_bytes(path), make_face("temp", 77).embedding));
  g.remove_face(o.face_id);
  EXPECT_FALSE(contains(read_bytes(path) + read_bytes(path + "-wal"), make_face("temp", 77).embedding));
}

TEST_P(GalleryBackends, ReindexSwapsEmbeddingsAndModelAtomically) {
  Gallery g = open_gallery("g.db");
  g.add_faces({make_face("alice", 1), make_face("bob", 2), make_face("carol", 3)});
  const auto sources = g.face_sources();
  ASSERT_EQ(sources.size(), 3U);
  EXPECT_EQ(sources[0].source_path, "/photos/alice/1.jpg");
  const ModelInfo next = test_model("next");
  std::vector<ReindexUpdate> updates;
  for (const auto& s : sources) {
    ReindexUpdate u;
    u.face_id = s.id;
    u.embedding = make_face(s.person, 100 + static_cast<int>(updates.size())).embedding;
    updates.push_back(u);
  }
  // One missing: refused, nothing changes.
  const std::vector<ReindexUpdate> partial(updates.begin(), updates.begin() + 2);
  EXPECT_EQ(code_of([&] { g.reindex(partial, next); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(g.model()->version, test_model().version);
  EXPECT_EQ(g.search(make_face("alice", 1).embedding, test_model(), 1)[0].distance, 0.0F);

  updates[1].face = make_face("bob", 200).face;
  g.reindex(updates, next);
  EXPECT_EQ(g.model()->version, next.version);
  EXPECT_EQ(code_of([&] { g.search(Embedding{}, test_model(), 1); }), ErrorCode::kModelMismatch);
  const auto top = g.search(updates[0].embedding, next, 1);
  ASSERT_EQ(top.size(), 1U);
  EXPECT_EQ(top[0].face_id, sources[0].id);
  EXPECT_FLOAT_EQ(top[0].distance, 0.0F);
  const auto bob = g.face(sources[1].id);
  EXPECT_EQ(bob->face.box.left, make_face("bob", 200).face.box.left);
  EXPECT_EQ(bob->model.version, next.version);
  EXPECT_EQ(g.add_face(make_face("dave", 9, next)).status, AddStatus::kAdded);

  // remove_unlisted drops faces that could not be recomputed.
  g.reindex({updates[0]}, test_model("third"), true);
  EXPECT_EQ(g.face_count(), 1);
}

TEST(Gallery, BusyWriterGivesGalleryBusy) {
  TempDir dir;
  const std::string path = dir.file("g.db");
  Gallery g = Gallery::open(path, {.busy_timeout_ms = 200});
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  const auto start = std::chrono::steady_clock::now();
  std::string message;
  EXPECT_EQ(code_of([&] { g.add_face(make_face("alice", 1)); }, &message), ErrorCode::kGalleryBusy);
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, std::chrono::milliseconds(150));
  EXPECT_NE(message.find("locked"), std::string::npos) << message;
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  EXPECT_EQ(g.add_face(make_face("alice", 1)).status, AddStatus::kAdded);
}

TEST_P(GalleryBackends, SecondHandleSeesOtherWriters) {
  const std::string path = location("g.db");
  Gallery a = open_gallery_at(path);
  Gallery b = open_gallery_at(path);
  a.add_face(make_face("alice", 1));
  // SQLite sees the commit at once; another PostgreSQL connection within 1 s (change feed).
  std::vector<IdentityMatch> top;
  EXPECT_TRUE(within_one_second([&] {
    top = b.search(make_face("alice", 1).embedding, test_model(), 1);
    return !top.empty();
  }));
  ASSERT_EQ(top.size(), 1U);
  EXPECT_EQ(top[0].person, "alice");
  b.remove_person("alice");
  EXPECT_TRUE(within_one_second([&] { return a.search(make_face("alice", 1).embedding, test_model(), 1).empty(); }));
}

TEST(Gallery, DefaultPathFollowsEnvironment) {
  const char* keys[] = {"SIAMFACE_GALLERY", "XDG_DATA_HOME", "HOME"};
  std::vector<std::optional<std::string>> saved;
  for (const char* k : keys) {
    const char* v = std::getenv(k);
    saved.push_back(v ? std::optional<std::string>(v) : std::nullopt);
  }
  ::setenv("SIAMFACE_GALLERY", "/x/g.db", 1);
  EXPECT_EQ(default_gallery_path(), "/x/g.db");
  ::unsetenv("SIAMFACE_GALLERY");
  ::setenv("XDG_DATA_HOME", "/data", 1);
  EXPECT_EQ(default_gallery_path(), "/data/siamface/gallery.db");
  ::unsetenv("XDG_DATA_HOME");
  ::setenv("HOME", "/home/u", 1);
  EXPECT_EQ(default_gallery_path(), "/home/u/.local/share/siamface/gallery.db");
  for (std::size_t i = 0; i < saved.size(); ++i) {
    if (saved[i]) {
      ::setenv(keys[i], saved[i]->c_str(), 1);
    } else {
      ::unsetenv(keys[i]);
    }
  }
}

}  // namespace
}  // namespace siamface

namespace siamface {
namespace {

// A schema-1 gallery (128-float embeddings only, as every release before the second
// recognizer wrote them) is read as it is, and migrated when opened for writing.
TEST(Gallery, SchemaOneIsReadAndMigratedWithEveryRowKept) {
  TempDir dir;
  const std::string path = dir.file("v1.db");
  const std::vector<GalleryFace> faces = {make_face("alice", 1), make_face("bob", 2)};
  {
    Gallery g = Gallery::open(path);
    g.add_faces(faces);
  }
  // Rewrite it as schema 1 had it: the embedding CHECK pinned to 512 bytes.
  exec_sql(path,
           "PRAGMA journal_mode = DELETE; BEGIN;"
           "DROP TABLE unknown_faces; DROP TABLE clusters; DROP TABLE negatives; DROP TABLE counters;"
           "DROP TABLE face_thumbnails;"
           "CREATE TABLE old AS SELECT * FROM faces; DROP TABLE faces;"
           "CREATE TABLE faces (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, person TEXT NOT NULL,"
           " source_path TEXT NOT NULL, image_sha256 TEXT NOT NULL, box_left REAL NOT NULL, box_top REAL NOT NULL,"
           " box_width REAL NOT NULL, box_height REAL NOT NULL, score REAL NOT NULL,"
           " landmarks BLOB NOT NULL CHECK (length(landmarks) = 544), face_size_px REAL NOT NULL,"
           " brightness REAL NOT NULL, contrast REAL NOT NULL, sharpness REAL NOT NULL, noise REAL NOT NULL,"
           " yaw REAL NOT NULL, grayscale INTEGER NOT NULL,"
           " embedding BLOB NOT NULL CHECK (length(embedding) = 512), model_name TEXT NOT NULL,"
           " model_version TEXT NOT NULL, model_weights_sha256 TEXT NOT NULL, created_unix_ms INTEGER NOT NULL,"
           " UNIQUE (person, image_sha256));"
           "INSERT INTO faces SELECT * FROM old; DROP TABLE old;"
           "CREATE INDEX faces_by_image ON faces (image_sha256); PRAGMA user_version = 1; COMMIT;");
  {
    GalleryOptions read_only;
    read_only.read_only = true;
    const Gallery g = Gallery::open(path, read_only);
    EXPECT_EQ(g.info().schema_version, 1);
    const auto top = g.search(faces[1].embedding, test_model(), 1);
    ASSERT_EQ(top.size(), 1U);
    EXPECT_EQ(top[0].person, "bob");
  }
  Gallery g = Gallery::open(path);
  EXPECT_EQ(g.info().schema_version, 3);  // through 2 (any embedding size) to 3 (issue 20)
  EXPECT_EQ(g.face_count(), 2);
  const auto alice = g.faces_of("alice");
  ASSERT_EQ(alice.size(), 1U);
  EXPECT_EQ(alice[0].embedding, faces[0].embedding);
  // Schema 2 takes any recognizer's size: a fresh gallery of 640-value (fused) rows.
  GalleryFace fused = make_face("carol", 3, test_model("fused"));
  fused.embedding.resize(640, 0.25F);
  Gallery other = Gallery::open(dir.file("fused.db"));
  other.add_face(fused);
  EXPECT_EQ(other.faces_of("carol").at(0).embedding.size(), 640U);
  // ...but one gallery holds one size.
  GalleryFace short_one = make_face("dave", 4, test_model("fused"));
  EXPECT_EQ(code_of([&] { other.add_face(short_one); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(other.face_count(), 1);
}

}  // namespace
}  // namespace siamface

namespace siamface {
namespace {

TEST_P(GalleryBackends, RecognizerIsTheCallersElseTheGallerysElseTheFallback) {
  Gallery g = open_gallery("r.db");
  EXPECT_EQ(resolve_recognizer(g, std::nullopt, Recognizer::kDlib), Recognizer::kDlib);  // empty
  GalleryFace fused = make_face("alice", 1, ModelInfo{"fused: dlib_face_recognition_resnet_model_v1 (face-api port) "
                                                      "x0.500 + MobileFaceNet fr_feature.onnx x0.433",
                                                      "v", std::string(64, 'a')});
  fused.embedding.resize(640, 0.1F);
  g.add_face(fused);
  EXPECT_EQ(resolve_recognizer(g, std::nullopt, Recognizer::kDlib), Recognizer::kFused);
  EXPECT_EQ(resolve_recognizer(g, Recognizer::kMobileFaceNet, Recognizer::kDlib), Recognizer::kMobileFaceNet);
  Gallery unknown = open_gallery("u.db");
  unknown.add_face(make_face("bob", 2));  // test-recognizer: not a model this build knows
  EXPECT_EQ(resolve_recognizer(unknown, std::nullopt, Recognizer::kMobileFaceNet), Recognizer::kMobileFaceNet);
}

}  // namespace
}  // namespace siamface

namespace siamface {
namespace {

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A large SQLite gallery keeps its approximate index in `<file>.faiss` (owner-only, like the
// gallery) and adopts it at the next open instead of rebuilding it.
TEST(GallerySnapshot, LargeGalleryWritesAPrivateSnapshotThatReopeningAdopts) {
  test::TempDir dir;
  const std::string path = dir.file("big.db");
  GalleryOptions options;
  options.index.approximate_min_rows = 8;
  std::vector<GalleryFace> faces;
  for (int i = 0; i < 40; ++i) faces.push_back(make_face("p" + std::to_string(i % 10), i));
  {
    Gallery g = Gallery::open(path, options);
    g.add_faces(faces);
    const auto top = g.search(faces[7].embedding, test_model(), 1);
    ASSERT_EQ(top.size(), 1U);
    EXPECT_EQ(top.front().person, faces[7].person);
  }
  const std::string snapshot = path + ".faiss";
  ASSERT_TRUE(std::filesystem::exists(snapshot));
  struct stat st {};
  ASSERT_EQ(::stat(snapshot.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  const std::string written = file_bytes(snapshot);
  const auto written_time = std::filesystem::last_write_time(snapshot);
  {
    Gallery g = Gallery::open(path, options);
    const auto top = g.search(faces[23].embedding, test_model(), 1);
    ASSERT_EQ(top.size(), 1U);
    EXPECT_EQ(top.front().person, faces[23].person);
  }
  // Adopted and unchanged: a reopen with no writes neither rebuilds nor rewrites it.
  EXPECT_EQ(file_bytes(snapshot), written);
  EXPECT_EQ(std::filesystem::last_write_time(snapshot), written_time);

  // A write after the snapshot makes it stale: the next close rewrites it.
  {
    Gallery g = Gallery::open(path, options);
    g.add_face(make_face("newcomer", 99));
    EXPECT_EQ(g.search(make_face("newcomer", 99).embedding, test_model(), 1).front().person, "newcomer");
  }
  EXPECT_NE(file_bytes(snapshot), written);
}

}  // namespace
}  // namespace siamface
