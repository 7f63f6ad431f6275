// EmbeddingIndex's approximate path (FAISS HNSW + exact re-ranking) against the exact scan:
// recall, incremental adds and removals, the snapshot file beside the gallery (round trip, stale
// and corrupt files rebuilt), the size threshold, and FAISS's thread use.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "common/synthetic_embeddings.hpp"
#include "common/temp_dir_test.hpp"
#include "common/thread_count.hpp"
#include "siamface/gallery.hpp"

namespace siamface {
namespace {

using test::SyntheticFaces;

constexpr std::size_t kDims = 128;
constexpr std::size_t kPersons = 400;
constexpr std::size_t kFacesPerPerson = 8;  // 3200 rows
constexpr std::size_t kThreshold = 1000;

EmbeddingIndexOptions approximate_options(std::size_t threshold = kThreshold) {
  EmbeddingIndexOptions options;
  options.threads = 1;
  options.approximate_min_rows = threshold;
  return options;
}

EmbeddingIndexOptions exact_options() {
  EmbeddingIndexOptions options;
  options.threads = 1;
  options.approximate_min_rows = 0;
  return options;
}

// Adds every face, person by person (or in reverse: the same rows in another order).
void fill(EmbeddingIndex& index, const SyntheticFaces& faces, bool reverse = false) {
  for (std::size_t i = 0; i < faces.persons(); ++i) {
    const std::size_t p = reverse ? faces.persons() - 1 - i : i;
    const Embedding centre = faces.centre(p);
    for (std::size_t f = 0; f < kFacesPerPerson; ++f) {
      index.add(SyntheticFaces::face_id(p, f), SyntheticFaces::person_name(p), faces.face(p, f, centre));
    }
  }
}

// Fresh photos of enrolled persons (face numbers past the enrolled ones).
std::vector<Embedding> known_queries(const SyntheticFaces& faces, std::size_t count) {
  std::vector<Embedding> queries;
  for (std::size_t q = 0; q < count; ++q) queries.push_back(faces.face((q * 37) % faces.persons(), 1000 + q));
  return queries;
}

double recall_at_1(const EmbeddingIndex& approximate, const EmbeddingIndex& exact,
                   const std::vector<Embedding>& queries, IdentityDistance mode) {
  std::size_t same = 0;
  for (const Embedding& q : queries) {
    const auto a = approximate.search(q, 1, mode);
    const auto e = exact.search(q, 1, mode);
    EXPECT_EQ(a.size(), 1U);
    EXPECT_EQ(e.size(), 1U);
    if (!a.empty() && !e.empty() && a[0].person == e[0].person) {
      ++same;
      EXPECT_NEAR(a[0].distance, e[0].distance, 1e-5F);  // re-ranked exactly: the same distance
    }
  }
  return static_cast<double>(same) / static_cast<double>(queries.size());
}

TEST(ApproximateIndex, RecallAtOneMatchesExactSearch) {
  const SyntheticFaces faces(kDims, kPersons);
  EmbeddingIndex approximate(approximate_options());
  EmbeddingIndex exact(exact_options());
  fill(approximate, faces);
  fill(exact, faces);
  const auto queries = known_queries(faces, 300);
  EXPECT_GE(recall_at_1(approximate, exact, queries, IdentityDistance::kMin), 0.99);
  EXPECT_TRUE(approximate.approximate_active());
  EXPECT_FALSE(exact.approximate_active());

  // Top-5: the same identities in the same order for nearly every query.
  std::size_t same_top5 = 0;
  for (const Embedding& q : queries) {
    const auto a = approximate.search(q, 5);
    const auto e = exact.search(q, 5);
    ASSERT_EQ(a.size(), 5U);
    bool equal = true;
    for (std::size_t i = 0; i < 5; ++i) equal = equal && a[i].person == e[i].person;
    same_top5 += equal ? 1 : 0;
  }
  EXPECT_GE(same_top5, queries.size() * 95 / 100);

  // Batches go the same way as single queries.
  const auto batch = approximate.search_batch(queries, 3);
  ASSERT_EQ(batch.size(), queries.size());
  for (std::size_t q = 0; q < queries.size(); ++q) {
    const auto single = approximate.search(queries[q], 3);
    ASSERT_EQ(batch[q].size(), single.size());
    for (std::size_t i = 0; i < single.size(); ++i) EXPECT_EQ(batch[q][i].face_id, single[i].face_id);
  }
}

TEST(ApproximateIndex, MeanModeOverManyIdentitiesMatchesExact) {
  // 400 identities past a threshold of 300: kMean takes its candidates from the face index too.
  const SyntheticFaces faces(kDims, kPersons);
  EmbeddingIndex approximate(approximate_options(300));
  EmbeddingIndex exact(exact_options());
  fill(approximate, faces);
  fill(exact, faces);
  EXPECT_GE(recall_at_1(approximate, exact, known_queries(faces, 200), IdentityDistance::kMean), 0.99);
  const auto match = approximate.search(faces.face(7, 2000), 1, IdentityDistance::kMean);
  ASSERT_EQ(match.size(), 1U);
  EXPECT_TRUE(match[0].face_id.empty());
}

TEST(ApproximateIndex, ThresholdSwitchesBetweenExactAndApproximate) {
  const SyntheticFaces faces(kDims, 200);
  EmbeddingIndex index(approximate_options(kThreshold));
  EmbeddingIndex exact(exact_options());
  std::size_t added = 0;
  for (std::size_t p = 0; p < 200 && added < kThreshold - 1; ++p) {
    for (std::size_t f = 0; f < 5 && added < kThreshold - 1; ++f, ++added) {
      index.add(SyntheticFaces::face_id(p, f), SyntheticFaces::person_name(p), faces.face(p, f));
      exact.add(SyntheticFaces::face_id(p, f), SyntheticFaces::person_name(p), faces.face(p, f));
    }
  }
  const Embedding query = faces.face(12, 777);
  EXPECT_EQ(index.search(query, 1)[0].face_id, exact.search(query, 1)[0].face_id);
  EXPECT_FALSE(index.approximate_active()) << "below the threshold every search is exact";

  index.add("extra", "person199", faces.face(199, 4));
  exact.add("extra", "person199", faces.face(199, 4));
  EXPECT_EQ(index.search(query, 1)[0].face_id, exact.search(query, 1)[0].face_id);
  EXPECT_TRUE(index.approximate_active()) << "at the threshold the first search builds the index";
  // k == 0 (every identity) always scans exactly, even above the threshold.
  EXPECT_EQ(index.search(query, 0).size(), exact.search(query, 0).size());

  // Shrinking: kept down to half the threshold (no flapping at the edge), exact below that.
  std::size_t removed = 0;
  for (std::size_t p = 0; p < 200 && index.size() >= kThreshold / 2; ++p) removed += index.remove_person(SyntheticFaces::person_name(p));
  EXPECT_GT(removed, 0U);
  EXPECT_LT(index.size(), kThreshold / 2);
  EXPECT_FALSE(index.approximate_active());
  EXPECT_FALSE(index.search(query, 1).empty());
}

TEST(ApproximateIndex, IncrementalAddsAreFoundAndRemovedFacesNeverReturned) {
  const SyntheticFaces faces(kDims, kPersons);
  EmbeddingIndex index(approximate_options());
  fill(index, faces);
  ASSERT_FALSE(index.search(faces.face(0, 999), 1).empty());
  ASSERT_TRUE(index.approximate_active());

  // New persons after the build: some still pending (scanned exactly), most flushed into FAISS.
  const SyntheticFaces more(kDims, kPersons + 300);
  for (std::size_t p = kPersons; p < kPersons + 300; ++p) {
    for (std::size_t f = 0; f < 5; ++f) {
      index.add(SyntheticFaces::face_id(p, f), SyntheticFaces::person_name(p), more.face(p, f));
    }
  }
  for (std::size_t p = kPersons; p < kPersons + 300; p += 7) {
    const auto match = index.search(more.face(p, 3), 1);
    ASSERT_EQ(match.size(), 1U);
    EXPECT_EQ(match[0].face_id, SyntheticFaces::face_id(p, 3));
    EXPECT_NEAR(match[0].distance, 0.0F, 1e-4F);
  }

  // Removed faces: their own embedding as the query must find someone else.
  std::set<std::string> removed;
  for (std::size_t p = 0; p < kPersons + 300; p += 3) {
    const std::string id = SyntheticFaces::face_id(p, 1);
    ASSERT_TRUE(index.remove(id));
    removed.insert(id);
  }
  ASSERT_TRUE(index.approximate_active()) << "a few removals are filtered, not rebuilt";
  for (std::size_t p = 0; p < kPersons + 300; p += 3) {
    for (const auto& match : index.search(more.face(p, 1), 5)) {
      EXPECT_EQ(removed.count(match.face_id), 0U) << match.face_id << " was removed";
    }
    const auto best = index.search(more.face(p, 1), 1);
    ASSERT_EQ(best.size(), 1U);
    EXPECT_EQ(best[0].person, SyntheticFaces::person_name(p)) << "their other faces remain";
  }
  // A whole person removed is never named again.
  ASSERT_EQ(index.remove_person(SyntheticFaces::person_name(42)), kFacesPerPerson - 1);
  for (std::size_t f = 0; f < kFacesPerPerson; ++f) {
    for (const auto& match : index.search(faces.face(42, f), 5)) EXPECT_NE(match.person, "person42");
  }
  // Renamed persons are named by their new name (the FAISS labels do not change).
  ASSERT_GT(index.rename_person("person43", "renamed"), 0U);
  EXPECT_EQ(index.search(faces.face(43, 0), 1)[0].person, "renamed");
}

TEST(ApproximateIndex, ManyRemovalsTriggerARebuildThatStaysCorrect) {
  const SyntheticFaces faces(kDims, kPersons);
  EmbeddingIndex index(approximate_options());
  fill(index, faces);
  ASSERT_FALSE(index.search(faces.face(0, 999), 1).empty());
  for (std::size_t p = 0; p < kPersons / 2; ++p) index.remove_person(SyntheticFaces::person_name(p));
  EXPECT_EQ(index.size(), kPersons / 2 * kFacesPerPerson);
  for (std::size_t p = 0; p < kPersons; p += 5) {
    const auto match = index.search(faces.face(p, 0), 1);
    ASSERT_EQ(match.size(), 1U);
    if (p < kPersons / 2) {
      EXPECT_NE(match[0].person, SyntheticFaces::person_name(p));
    } else {
      EXPECT_EQ(match[0].face_id, SyntheticFaces::face_id(p, 0));
    }
  }
  EXPECT_TRUE(index.approximate_active());
}

class ApproximateSnapshot : public test::TempDirTest {};

TEST_F(ApproximateSnapshot, RoundTripIsAdoptedAndAnswersLikeTheOriginal) {
  const SyntheticFaces faces(kDims, kPersons);
  EmbeddingIndex original(approximate_options());
  fill(original, faces);
  const std::string path = (temp_ / "gallery.db.faiss").string();
  original.save_approximate(path);
  ASSERT_TRUE(std::filesystem::exists(path));
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600U) << "embeddings are biometric data";

  EmbeddingIndex reloaded(approximate_options());
  fill(reloaded, faces, /*reverse=*/true);  // rows in another order: labels map by face id
  EXPECT_TRUE(reloaded.load_approximate(path));
  EXPECT_TRUE(reloaded.approximate_active());
  for (const Embedding& q : known_queries(faces, 100)) {
    const auto a = original.search(q, 3);
    const auto b = reloaded.search(q, 3);
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].face_id, b[i].face_id);
  }
  // After the reload, incremental updates keep working.
  reloaded.add("late", "latecomer", faces.face(5, 4242));
  EXPECT_EQ(reloaded.search(faces.face(5, 4242), 1)[0].face_id, "late");
  ASSERT_TRUE(reloaded.remove(SyntheticFaces::face_id(6, 0)));
  for (const auto& match : reloaded.search(faces.face(6, 0), 5)) EXPECT_NE(match.face_id, SyntheticFaces::face_id(6, 0));
}

TEST_F(ApproximateSnapshot, StaleFilesAreRebuiltNeverTrusted) {
  const SyntheticFaces faces(kDims, kPersons);
  const std::string path = (temp_ / "gallery.db.faiss").string();
  {
    EmbeddingIndex original(approximate_options());
    fill(original, faces);
    original.save_approximate(path);
  }
  // One more face than the file knows.
  EmbeddingIndex grown(approximate_options());
  fill(grown, faces);
  grown.add("new", "newcomer", faces.face(1, 5555));
  EXPECT_FALSE(grown.load_approximate(path));
  EXPECT_TRUE(grown.approximate_active()) << "rebuilt";
  EXPECT_EQ(grown.search(faces.face(1, 5555), 1)[0].face_id, "new");

  // The same count, but one embedding changed (e.g. `siamface reindex`): the checksum differs.
  EmbeddingIndex changed(approximate_options());
  fill(changed, faces);
  ASSERT_TRUE(changed.remove(SyntheticFaces::face_id(3, 3)));
  changed.add(SyntheticFaces::face_id(3, 3), "person3", faces.face(3, 3333));
  EXPECT_FALSE(changed.load_approximate(path));
  EXPECT_EQ(changed.search(faces.face(3, 3333), 1)[0].face_id, SyntheticFaces::face_id(3, 3));

  // The same rows under one other id.
  EmbeddingIndex renamed_id(approximate_options());
  fill(renamed_id, faces);
  ASSERT_TRUE(renamed_id.remove(SyntheticFaces::face_id(4, 4)));
  renamed_id.add("other-id", "person4", faces.face(4, 4));
  EXPECT_FALSE(renamed_id.load_approximate(path));
}

TEST_F(ApproximateSnapshot, CorruptOrTruncatedFilesAreRebuilt) {
  const SyntheticFaces faces(kDims, kPersons);
  const std::string path = (temp_ / "gallery.db.faiss").string();
  EmbeddingIndex index(approximate_options());
  fill(index, faces);
  index.save_approximate(path);
  const auto size = std::filesystem::file_size(path);
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_EQ(bytes.size(), size);
  const auto write = [&](const std::string& content) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  };
  const Embedding query = faces.face(9, 9999);
  const std::string expected = index.search(query, 1)[0].face_id;

  for (const std::size_t offset : {std::size_t{3}, size / 2, size - 9}) {  // magic, FAISS graph, tail
    std::string corrupt = bytes;
    corrupt[offset] = static_cast<char>(corrupt[offset] ^ 0x5A);
    write(corrupt);
    EmbeddingIndex reloaded(approximate_options());
    fill(reloaded, faces);
    EXPECT_FALSE(reloaded.load_approximate(path)) << "byte " << offset << " flipped";
    EXPECT_TRUE(reloaded.approximate_active());
    EXPECT_EQ(reloaded.search(query, 1)[0].face_id, expected);
  }
  for (const std::size_t length : {std::size_t{0}, std::size_t{20}, size / 3, size - 1}) {
    write(bytes.substr(0, length));
    EmbeddingIndex reloaded(approximate_options());
    fill(reloaded, faces);
    EXPECT_FALSE(reloaded.load_approximate(path)) << "truncated to " << length;
    EXPECT_EQ(reloaded.search(query, 1)[0].face_id, expected);
  }
  std::filesystem::remove(path);
  EmbeddingIndex absent(approximate_options());
  fill(absent, faces);
  EXPECT_FALSE(absent.load_approximate(path));
  EXPECT_TRUE(absent.approximate_active());
}

TEST_F(ApproximateSnapshot, SmallIndexesWriteNoFileAndRemoveAStaleOne) {
  const SyntheticFaces faces(kDims, 50);
  const std::string path = (temp_ / "gallery.db.faiss").string();
  std::ofstream(path) << "left from a larger gallery";
  EmbeddingIndex small(approximate_options());
  fill(small, faces);  // 400 rows < 1000
  small.save_approximate(path);
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(small.load_approximate(path));
  EXPECT_FALSE(small.approximate_active());
}

TEST(ApproximateIndex, SingleThreadedOptionsStartNoThreads) {
  const SyntheticFaces faces(kDims, kPersons);
  EmbeddingIndex index(approximate_options());  // threads = 1
  fill(index, faces);
  const std::size_t before = test::process_thread_count();
  ASSERT_FALSE(index.search(faces.face(1, 123), 1).empty());  // builds with 1 thread, then searches
  index.add("extra", "person1", faces.face(1, 321));
  EXPECT_EQ(index.search_batch(known_queries(faces, 8), 2).size(), 8U);
  ASSERT_TRUE(index.approximate_active());
  EXPECT_EQ(test::process_thread_count(), before) << "FAISS/OpenMP started threads nobody asked for";
}

}  // namespace
}  // namespace siamface
