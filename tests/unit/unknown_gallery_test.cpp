// Gallery schema 3 (issue 20): unknown faces (de-dup, purge), persistent clusters, promote,
// dismiss, merge, split, negative examples and thumbnails, on synthetic embeddings.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <map>
#include <thread>

#include <random>
#include <set>

#include "common/postgres_server.hpp"
#include "siamface/errors.hpp"
#include "siamface/gallery.hpp"
#include "siamface/identify.hpp"
#include "unit/gallery_test_util.hpp"

namespace siamface {
namespace {

using test::code_of;
using test::exec_sql;
using test::make_face;
using test::TempDir;
using test::test_model;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// An unknown face near centre `group` (groups 1.0 apart), jittered by `seed`.
UnknownFace unknown_near(int group, int seed, const std::string& key = "") {
  UnknownFace u;
  u.face = make_face("x", seed * 100 + group);
  u.face.person.clear();
  u.face.id.clear();
  std::mt19937 rng(static_cast<unsigned>(seed * 31 + group));
  std::normal_distribution<float> noise(0.0F, 0.01F);  // ~0.16 between two faces of a group
  for (std::size_t i = 0; i < u.face.embedding.size(); ++i) u.face.embedding[i] = noise(rng);
  u.face.embedding[static_cast<std::size_t>(group)] += 0.71F;
  u.face.thumbnail_jpeg = {0xFF, 0xD8, static_cast<std::uint8_t>(seed), 0xFF, 0xD9};
  u.source_key = key.empty() ? "photo-" + std::to_string(seed) + "-" + std::to_string(group) : key;
  u.face.source_path = "/cam/" + std::to_string(group) + "/" + std::to_string(seed) + ".jpg";
  u.quality = 0.5F;
  return u;
}

enum class Backend { kSqlite, kPostgres };

// Every TEST_P runs on an SQLite file and on a PostgreSQL database (a server the test starts;
// skipped with the reason when PostgreSQL is not installed, a failure under CI=true).
class UnknownBackends : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kPostgres) {
      SIAMFACE_REQUIRE_POSTGRES();
    }
  }
  std::string location() {
    if (GetParam() == Backend::kSqlite) return dir_.file("g.db");
    if (url_.empty()) url_ = test::shared_postgres().create_database();
    return url_;
  }
  Gallery open_gallery() { return Gallery::open(location()); }
  const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_;
  std::string url_;
};

INSTANTIATE_TEST_SUITE_P(Both, UnknownBackends, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const auto& info) { return info.param == Backend::kSqlite ? "Sqlite" : "Postgres"; });

std::map<std::string, std::int64_t> cluster_of_each(const Gallery& g) {
  std::map<std::string, std::int64_t> out;
  for (const UnknownFace& u : g.list_unknown(0, 100000).items) {
    EXPECT_TRUE(u.cluster.has_value()) << u.face.id;
    if (u.cluster) out[u.face.id] = *u.cluster;
  }
  return out;
}

TEST_P(UnknownBackends, UnknownFacesKeptDeduplicatedPerSourceKeyAndListedNewestFirst) {
  Gallery g = open_gallery();
  EXPECT_FALSE(g.unknown_policy().keep);  // opt-in
  EXPECT_EQ(g.unknown_policy().max_faces, kDefaultUnknownMaxFaces);
  EXPECT_EQ(g.add_unknown(unknown_near(0, 1, "track-7")), UnknownAddStatus::kAdded);
  // The same face again in the same track: a duplicate; in another track: kept.
  EXPECT_EQ(g.add_unknown(unknown_near(0, 2, "track-7")), UnknownAddStatus::kDuplicate);
  EXPECT_EQ(g.add_unknown(unknown_near(0, 2, "track-8")), UnknownAddStatus::kAdded);
  // Another person in the same photo is not a duplicate.
  EXPECT_EQ(g.add_unknown(unknown_near(1, 3, "track-7")), UnknownAddStatus::kAdded);
  const UnknownPage page = g.list_unknown(0, 2);
  EXPECT_EQ(page.total, 3);
  ASSERT_EQ(page.items.size(), 2U);
  EXPECT_GE(page.items[0].face.created_unix_ms, page.items[1].face.created_unix_ms);
  EXPECT_EQ(g.list_unknown(2, 10).items.size(), 1U);
  const std::string id = page.items[0].face.id;
  EXPECT_EQ(g.unknown_thumbnail(id)->size(), 5U);
  EXPECT_FALSE(g.unknown_thumbnail("nope").has_value());
  // The first unknown face fixed the gallery's model: another model is refused.
  UnknownFace other = unknown_near(2, 4);
  other.face.model = test_model("b");
  EXPECT_EQ(code_of([&] { g.add_unknown(other); }), ErrorCode::kModelMismatch);
  EXPECT_EQ(code_of([&] { (void)g.list_unknown(-1, 5); }), ErrorCode::kInvalidArgument);
  // Settings are checked.
  EXPECT_EQ(code_of([&] { g.set_setting(kKeepUnknownSetting, "yes"); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { g.set_setting(kUnknownMaxFacesSetting, "0"); }), ErrorCode::kInvalidArgument);
  g.set_setting(kKeepUnknownSetting, "true");
  EXPECT_TRUE(g.unknown_policy().keep);
}

TEST_P(UnknownBackends, UnknownFacesPurgeKeepsTheNewestWithinCountAndAge) {
  Gallery g = open_gallery();
  g.set_setting(kUnknownMaxFacesSetting, "5");
  for (int i = 0; i < 8; ++i) g.add_unknown(unknown_near(i % 4, i));
  EXPECT_EQ(g.list_unknown(0, 100).total, 5);  // bounded on every add
  // A face seen 40 days ago is past the 30-day default and goes at the next add.
  UnknownFace old = unknown_near(5, 99);
  old.face.created_unix_ms = now_ms() - 40LL * 24 * 3600 * 1000;
  g.set_setting(kUnknownMaxFacesSetting, "100");
  g.add_unknown(old);
  EXPECT_EQ(g.list_unknown(0, 100).total, 5);
  for (const UnknownFace& u : g.list_unknown(0, 100).items) EXPECT_NE(u.face.source_path, old.face.source_path);
  g.set_setting(kUnknownMaxFacesSetting, "2");
  EXPECT_EQ(g.purge_unknown(), 3U);
  EXPECT_EQ(g.list_unknown(0, 100).total, 2);
  EXPECT_EQ(g.purge_unknown(/*all=*/true), 2U);
  EXPECT_EQ(g.list_unknown(0, 100).total, 0);
}

TEST_P(UnknownBackends, UnknownFacesClusterIdsSurviveReclusteringAfterMoreFaces) {
  Gallery g = open_gallery();
  for (int seed = 0; seed < 4; ++seed) {
    for (int group = 0; group < 3; ++group) g.add_unknown(unknown_near(group, seed));
  }
  const ClusterResult first = g.cluster_unknown();
  EXPECT_EQ(first.clusters, 3U);
  EXPECT_EQ(first.faces, 12U);
  const auto before = cluster_of_each(g);
  std::set<std::int64_t> ids;
  for (const auto& [face, cluster] : before) ids.insert(cluster);
  EXPECT_EQ(ids.size(), 3U);
  // More faces of the same people and of a new one; the old ids stay, the new one is fresh.
  for (int seed = 4; seed < 7; ++seed) {
    for (int group = 0; group < 4; ++group) g.add_unknown(unknown_near(group, seed));
  }
  const ClusterResult second = g.cluster_unknown();
  EXPECT_EQ(second.clusters, 4U);
  EXPECT_EQ(second.kept_ids, 3U);
  const auto after = cluster_of_each(g);
  for (const auto& [face, cluster] : before) EXPECT_EQ(after.at(face), cluster) << face;
  const ClusterPage page = g.clusters(0, 10);
  EXPECT_EQ(page.total, 4);
  ASSERT_EQ(page.items.size(), 4U);
  EXPECT_EQ(page.items[0].size, 7);  // largest first
  EXPECT_FALSE(ids.count(page.items[3].id));
  EXPECT_GT(page.items[3].id, *ids.rbegin());
  // Centroids 1.0 apart are not "close" at the default 0.5; at 1.1 every pair is.
  for (const auto& c : page.items) EXPECT_TRUE(c.close.empty());
  for (const auto& c : g.clusters(0, 10, 12, 1.1F).items) EXPECT_EQ(c.close.size(), 3U);
  // Dismissing frees nothing for reuse: the next new cluster gets a higher id still.
  const std::int64_t newest = page.items[3].id;
  EXPECT_EQ(g.dismiss_cluster(newest), 3U);
  EXPECT_EQ(code_of([&] { g.dismiss_cluster(newest); }), ErrorCode::kNotFound);
  for (int seed = 7; seed < 9; ++seed) g.add_unknown(unknown_near(5, seed));
  g.cluster_unknown();
  std::int64_t highest = 0;
  for (const auto& c : g.clusters(0, 10).items) highest = std::max(highest, c.id);
  EXPECT_GT(highest, newest);
}

TEST_P(UnknownBackends, UnknownFacesPromoteEnrolsTheClusterAndIdentifyNamesIt) {
  Gallery g = open_gallery();
  g.add_face(make_face("bob", 1));
  for (int seed = 0; seed < 3; ++seed) {
    for (int group = 0; group < 2; ++group) g.add_unknown(unknown_near(group, seed));
  }
  g.cluster_unknown();
  const ClusterPage page = g.clusters(0, 10);
  ASSERT_EQ(page.items.size(), 2U);
  const UnknownCluster& c = page.items[0];
  EXPECT_TRUE(c.faces[0].face.embedding.empty());  // lists do not carry embeddings
  // A subset that is not in the cluster is refused, nothing changes.
  EXPECT_EQ(code_of([&] { g.promote_cluster(c.id, "carol", {"not-a-face"}); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { g.promote_cluster(c.id, "bad/name"); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { g.promote_cluster(999, "carol"); }), ErrorCode::kNotFound);
  const auto ids = g.promote_cluster(c.id, "carol", {c.faces[0].face.id, c.faces[1].face.id});
  EXPECT_EQ(ids.size(), 2U);
  EXPECT_EQ(g.faces_of("carol").size(), 2U);
  EXPECT_EQ(g.list_unknown(0, 100).total, 4);
  EXPECT_TRUE(g.face_thumbnail(ids[0]).has_value());  // the thumbnail came along
  // The rest of the cluster joins carol too.
  EXPECT_EQ(g.promote_cluster(c.id, "carol").size(), 1U);
  EXPECT_EQ(g.clusters(0, 10).total, 1);
}

TEST_P(UnknownBackends, CorrectionsMergeSplitAndNegatives) {
  Gallery g = open_gallery();
  GalleryFace a1 = make_face("ann", 1), a2 = make_face("ann", 2), b1 = make_face("bob", 3);
  a1.thumbnail_jpeg = {1, 2, 3};
  const auto added = g.add_faces({a1, a2, b1});
  EXPECT_EQ(g.face_thumbnail(added[0].face_id), (std::vector<std::uint8_t>{1, 2, 3}));
  EXPECT_FALSE(g.face_thumbnail(added[1].face_id).has_value());
  // Split one of ann's faces off to a new person; a face that is not ann's is refused.
  EXPECT_EQ(code_of([&] { g.split_faces("ann", {added[2].face_id}, "cat"); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(g.split_faces("ann", {added[1].face_id}, "cat"), 1U);
  EXPECT_EQ(g.faces_of("cat").size(), 1U);
  EXPECT_EQ(g.search(a2.embedding, test_model(), 1).at(0).person, "cat");
  // Negatives: "this face is not bob"; mark_not moves a gallery face to the negatives.
  EXPECT_EQ(code_of([&] { g.add_negative("nobody", a1.embedding, test_model(), "x"); }), ErrorCode::kNotFound);
  g.add_negative("bob", a1.embedding, test_model(), "/probe.jpg");
  EXPECT_EQ(g.mark_not(added[1].face_id), "cat");
  EXPECT_EQ(code_of([&] { g.mark_not(added[1].face_id); }), ErrorCode::kNotFound);
  const auto near = g.nearest_negatives(a1.embedding);
  ASSERT_EQ(near.size(), 2U);
  EXPECT_EQ(near[0].first, "bob");
  EXPECT_EQ(near[0].second, 0.0F);
  EXPECT_EQ(near[1].first, "cat");
  // Merge: bob's faces and negatives go to ann; both must exist.
  EXPECT_EQ(code_of([&] { g.merge_people("bob", "nobody"); }), ErrorCode::kNotFound);
  EXPECT_EQ(g.merge_people("bob", "ann"), 1U);
  EXPECT_TRUE(g.faces_of("bob").empty());
  EXPECT_EQ(g.faces_of("ann").size(), 2U);
  EXPECT_EQ(g.negatives().size(), 2U);
  const std::string ann = "ann";
  EXPECT_EQ(g.negatives(&ann).size(), 1U);
  EXPECT_EQ(g.search(b1.embedding, test_model(), 1).at(0).person, "ann");
  // Another handle sees the negatives (they live in the file).
  const Gallery other = Gallery::open(location());
  EXPECT_EQ(other.nearest_negatives(a1.embedding).size(), 2U);  // ann (was bob's) and cat
  // People paged, with a face that has a thumbnail.
  const auto [total, items] = g.people_page(0, 10);
  EXPECT_EQ(total, 1);
  ASSERT_EQ(items.size(), 1U);
  EXPECT_EQ(items[0].thumbnail_face, added[0].face_id);
  // A removed face takes its thumbnail with it.
  g.remove_person("ann");
  EXPECT_FALSE(g.face_thumbnail(added[0].face_id).has_value());
}

TEST_P(UnknownBackends, CorrectionsNegativeExampleChangesIdentifyForEveryCaller) {
  Gallery g = open_gallery();
  GalleryFace ann = make_face("ann", 1);
  g.add_face(ann);
  // A probe near ann (0.2 away): named ann, until it is marked "not ann".
  FaceEmbedding probe;
  probe.embedding = ann.embedding;
  probe.embedding[0] += 0.2F;
  FaceEmbedding friend_of_ann = probe;  // same place as the probe: blocked too
  FaceEmbedding real_ann;
  real_ann.embedding = ann.embedding;
  real_ann.embedding[1] += 0.05F;  // nearer ann than the negative: still ann
  IdentifyOptions options;
  auto named = [&](const FaceEmbedding& f) { return identify_faces(g, test_model(), {f}, options).at(0).decision.person; };
  EXPECT_EQ(named(probe), "ann");
  g.add_negative("ann", probe.embedding, test_model(), "/wrong.jpg");
  EXPECT_EQ(named(probe), kUnknownPerson);
  EXPECT_EQ(named(friend_of_ann), kUnknownPerson);
  EXPECT_EQ(named(real_ann), "ann");
}

// Corrections survive a move to another gallery (export, import), and erasure takes them along.
TEST_P(UnknownBackends, CorrectionsNegativesTravelWithExportAndGoWithTheirPerson) {
  Gallery g = open_gallery();
  g.add_faces({make_face("ann", 1), make_face("bob", 2), make_face("cat", 3)});
  g.add_negative("ann", make_face("x", 4).embedding, test_model(), "/wrong-ann.jpg");
  g.add_negative("bob", make_face("x", 5).embedding, test_model(), "/wrong-bob.jpg");
  const std::string file = dir().file("export.jsonl");
  g.export_jsonl(file);

  Gallery copy = Gallery::open(dir().file("copy.db"));
  const ImportResult first = copy.import_jsonl(file);
  EXPECT_EQ(first.added, 3U);
  EXPECT_EQ(first.negatives, 2U);
  const auto copied = copy.negatives();
  ASSERT_EQ(copied.size(), 2U);
  EXPECT_EQ(copied, g.negatives());
  EXPECT_EQ(copy.nearest_negatives(make_face("x", 4).embedding).at(0).second, 0.0F);
  const ImportResult again = copy.import_jsonl(file);  // nothing twice
  EXPECT_EQ(again.duplicates, 3U);
  EXPECT_EQ(again.negatives, 0U);
  EXPECT_EQ(copy.negatives().size(), 2U);

  // Removing ann removes "not ann"; removing everyone removes every negative example.
  g.remove_person("ann");
  const std::string ann = "ann", bob = "bob";
  EXPECT_TRUE(g.negatives(&ann).empty());
  EXPECT_EQ(g.negatives(&bob).size(), 1U);
  for (const auto& [person, distance] : g.nearest_negatives(make_face("x", 4).embedding)) EXPECT_NE(person, "ann");
  g.remove_all();
  EXPECT_TRUE(g.negatives().empty());
  EXPECT_TRUE(g.nearest_negatives(make_face("x", 5).embedding).empty());
  EXPECT_TRUE(Gallery::open(location()).negatives().empty());
}

TEST(UnknownFaces, SchemaTwoFilesAreMigrated) {
  TempDir dir;
  const std::string path = dir.file("v2.db");
  { Gallery::open(path).add_face(make_face("ann", 1)); }
  exec_sql(path,
                           "BEGIN; DROP TABLE unknown_faces; DROP TABLE clusters; DROP TABLE negatives; DROP TABLE counters;"
                           "DROP TRIGGER face_thumbnail_goes_with_its_face; DROP TABLE face_thumbnails; PRAGMA user_version = 2; COMMIT;");
  Gallery g = Gallery::open(path);
  EXPECT_EQ(g.info().schema_version, 3);
  EXPECT_EQ(g.face_count(), 1);
  EXPECT_FALSE(g.face_thumbnail(g.faces_of("ann").at(0).id).has_value());
  EXPECT_EQ(g.add_unknown(unknown_near(0, 1)), UnknownAddStatus::kAdded);
}

// A second PostgreSQL node sees the negative examples another node stored, through the
// change feed: its identify decisions change too.
TEST(UnknownFacesPostgres, NegativesReachOtherNodes) {
  SIAMFACE_REQUIRE_POSTGRES();
  const std::string url = test::shared_postgres().create_database();
  Gallery a = Gallery::open(url);
  const Gallery b = Gallery::open(url);
  GalleryFace ann = make_face("ann", 1);
  a.add_face(ann);
  FaceEmbedding probe;
  probe.embedding = ann.embedding;
  probe.embedding[0] += 0.2F;
  IdentifyOptions options;
  auto named = [&](const Gallery& g) { return identify_faces(g, test_model(), {probe}, options).at(0).decision.person; };
  // Within two seconds, b names the probe as `expected` (the feed is asynchronous).
  auto becomes = [&](const std::string& expected) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (named(b) != expected && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return named(b);
  };
  ASSERT_EQ(becomes("ann"), "ann");
  a.add_negative("ann", probe.embedding, test_model(), "/wrong.jpg");
  EXPECT_EQ(becomes(kUnknownPerson), kUnknownPerson);
}

}  // namespace
}  // namespace siamface
