#include "siamface/gallery.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "gallery/sqlite_db.hpp"
#include "siamface/errors.hpp"

namespace siamface {

namespace fs = std::filesystem;
using gallery::Database;
using gallery::Statement;
using gallery::Transaction;
using nlohmann::json;

namespace {

static_assert(std::endian::native == std::endian::little, "blobs are stored little-endian");

// 1: 128-d dlib embeddings only. 2: any recognizer's size (issue 16: 512-d MobileFaceNet, 640-d
// fused); version 1 files are migrated when first opened for writing.
constexpr std::int64_t kSchemaVersion = 2;
// Floats per embedding a row may hold (the largest recognizer has 640).
constexpr std::size_t kMaxEmbeddingFloats = 4096;
constexpr std::int64_t kApplicationId = 0x53464731;  // "SFG1"
constexpr std::size_t kMaxPersonBytes = 256;

// The faces table, created under the name {table} (a migration builds it beside the old one).
constexpr const char* kFacesTableSql = R"sql(
CREATE TABLE {table} (
  rowid INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  person TEXT NOT NULL,
  source_path TEXT NOT NULL,
  image_sha256 TEXT NOT NULL,
  box_left REAL NOT NULL, box_top REAL NOT NULL, box_width REAL NOT NULL, box_height REAL NOT NULL,
  score REAL NOT NULL,
  landmarks BLOB NOT NULL CHECK (length(landmarks) = 544),
  face_size_px REAL NOT NULL, brightness REAL NOT NULL, contrast REAL NOT NULL,
  sharpness REAL NOT NULL, noise REAL NOT NULL, yaw REAL NOT NULL, grayscale INTEGER NOT NULL,
  embedding BLOB NOT NULL CHECK (length(embedding) % 4 = 0 AND length(embedding) BETWEEN 4 AND 16384),
  model_name TEXT NOT NULL, model_version TEXT NOT NULL, model_weights_sha256 TEXT NOT NULL,
  created_unix_ms INTEGER NOT NULL,
  UNIQUE (person, image_sha256)
);
)sql";

std::string faces_table_sql(const std::string& table) {
  std::string sql = kFacesTableSql;
  sql.replace(sql.find("{table}"), 7, table);
  return sql;
}

constexpr const char* kSchemaSql = R"sql(
CREATE INDEX faces_by_image ON faces (image_sha256);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE model (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  name TEXT NOT NULL, version TEXT NOT NULL, weights_sha256 TEXT NOT NULL
);
)sql";

constexpr const char* kFaceColumns =
    "id, person, source_path, image_sha256, box_left, box_top, box_width, box_height, score, "
    "landmarks, face_size_px, brightness, contrast, sharpness, noise, yaw, grayscale, embedding, "
    "model_name, model_version, model_weights_sha256, created_unix_ms";

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Random v4 UUID from the kernel (getrandom), so forked processes never repeat each other.
std::string new_face_id() {
  std::uint8_t b[16];
  std::size_t got = 0;
  while (got < sizeof b) {
    const ssize_t n = ::getrandom(b + got, sizeof b - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(ErrorCode::kInternal, std::string("getrandom failed: ") + std::strerror(errno));
    }
    got += static_cast<std::size_t>(n);
  }
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0F) | 0x40);  // version 4
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  id.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) id.push_back('-');
    id.push_back(kHex[b[i] >> 4]);
    id.push_back(kHex[b[i] & 0x0F]);
  }
  return id;
}

bool is_hex(const std::string& s, std::size_t size) {
  if (s.size() != size) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool is_face_id(const std::string& s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (s[i] == '-')) return false;
    if (!dash && !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  }
  return true;
}

void validate_person(const std::string& person, const std::string& where) {
  if (person.empty()) throw Error(ErrorCode::kInvalidArgument, where + "person name is empty");
  if (person.size() > kMaxPersonBytes) {
    throw Error(ErrorCode::kInvalidArgument, where + "person name is longer than 256 bytes");
  }
  for (unsigned char c : person) {
    if (c < 0x20 || c == 0x7f) {
      throw Error(ErrorCode::kInvalidArgument,
                  where + "person name '" + person + "' contains a control character");
    }
    // Names are never used as paths, but keep them unable to be one (imports included).
    if (c == '/' || c == '\\') {
      throw Error(ErrorCode::kInvalidArgument,
                  where + "person name '" + person + "' contains a path separator");
    }
  }
  if (person == "." || person == "..") {
    throw Error(ErrorCode::kInvalidArgument, where + "person name '" + person + "' is not a name");
  }
}

void require_finite(float v, const std::string& where, const char* field) {
  if (!std::isfinite(v)) {
    throw Error(ErrorCode::kInvalidArgument, where + field + " is not a finite number");
  }
}

void validate_model(const ModelInfo& model, const std::string& where) {
  if (model.name.empty() || model.weights_sha256.empty()) {
    throw Error(ErrorCode::kInvalidArgument, where + "model name and weights_sha256 are required");
  }
}

void validate_face(const GalleryFace& f, const std::string& where) {
  validate_person(f.person, where);
  if (!f.id.empty() && !is_face_id(f.id)) {
    throw Error(ErrorCode::kInvalidArgument, where + "face id '" + f.id + "' is not a UUID");
  }
  if (!is_hex(f.image_sha256, 64)) {
    throw Error(ErrorCode::kInvalidArgument,
                where + "image_sha256 must be 64 lower-case hex digits");
  }
  require_finite(f.face.box.left, where, "box.left");
  require_finite(f.face.box.top, where, "box.top");
  require_finite(f.face.box.width, where, "box.width");
  require_finite(f.face.box.height, where, "box.height");
  require_finite(f.face.score, where, "score");
  for (const Point& p : f.face.landmarks) {
    require_finite(p.x, where, "landmarks");
    require_finite(p.y, where, "landmarks");
  }
  const FaceQuality& q = f.face.quality;
  for (float v : {q.face_size_px, q.brightness, q.contrast, q.sharpness, q.noise, q.yaw}) {
    require_finite(v, where, "quality");
  }
  for (float v : f.embedding) require_finite(v, where, "embedding");
  validate_model(f.model, where);
}

bool same_model(const ModelInfo& a, const ModelInfo& b) {
  return a.name == b.name && a.version == b.version && a.weights_sha256 == b.weights_sha256;
}

std::string describe(const ModelInfo& m) {
  return m.name + " " + m.version + " (weights sha256 " + m.weights_sha256.substr(0, 12) + ")";
}

[[noreturn]] void throw_mismatch(const std::string& path, const ModelInfo& gallery,
                                 const ModelInfo& given) {
  throw Error(ErrorCode::kModelMismatch,
              "gallery " + path + " holds embeddings from model " + describe(gallery) +
                  " but this request uses " + describe(given) +
                  "; run `siamface reindex` to recompute the gallery with the current model");
}

// Fixed-size values only (landmarks); embeddings go through embedding_bytes.
template <typename T>
  requires std::is_trivially_copyable_v<T>
std::span<const std::uint8_t> bytes_of(const T& value) {
  return {reinterpret_cast<const std::uint8_t*>(&value), sizeof(T)};
}

std::span<const std::uint8_t> embedding_bytes(const Embedding& embedding) {
  return {reinterpret_cast<const std::uint8_t*>(embedding.data()), embedding.size() * sizeof(float)};
}

// An embedding blob: a whole number of floats, at most kMaxEmbeddingFloats. nullopt otherwise.
std::optional<Embedding> embedding_from_blob(std::span<const std::uint8_t> blob) {
  if (blob.empty() || blob.size() % sizeof(float) != 0 || blob.size() > kMaxEmbeddingFloats * sizeof(float)) {
    return std::nullopt;
  }
  Embedding embedding(blob.size() / sizeof(float));
  std::memcpy(embedding.data(), blob.data(), blob.size());
  return embedding;
}

void bind_face(Statement& st, const GalleryFace& f) {
  const Face& face = f.face;
  st.bind(1, f.id).bind(2, f.person).bind(3, f.source_path).bind(4, f.image_sha256);
  st.bind(5, double{face.box.left}).bind(6, double{face.box.top});
  st.bind(7, double{face.box.width}).bind(8, double{face.box.height});
  st.bind(9, double{face.score});
  static_assert(sizeof(Landmarks) == 544);
  st.bind_blob(10, bytes_of(face.landmarks));
  const FaceQuality& q = face.quality;
  st.bind(11, double{q.face_size_px}).bind(12, double{q.brightness}).bind(13, double{q.contrast});
  st.bind(14, double{q.sharpness}).bind(15, double{q.noise}).bind(16, double{q.yaw});
  st.bind(17, std::int64_t{q.grayscale ? 1 : 0});
  st.bind_blob(18, embedding_bytes(f.embedding));
  st.bind(19, f.model.name).bind(20, f.model.version).bind(21, f.model.weights_sha256);
  st.bind(22, f.created_unix_ms);
}

// Reads the kFaceColumns row at `first`.
GalleryFace read_face(const Statement& st, const std::string& path, int first = 0) {
  GalleryFace f;
  const auto c = [first](int i) { return first + i; };
  f.id = st.column_text(c(0));
  f.person = st.column_text(c(1));
  f.source_path = st.column_text(c(2));
  f.image_sha256 = st.column_text(c(3));
  f.face.box = {float(st.column_double(c(4))), float(st.column_double(c(5))),
                float(st.column_double(c(6))), float(st.column_double(c(7)))};
  f.face.score = float(st.column_double(c(8)));
  const auto landmarks = st.column_blob(c(9));
  auto embedding = embedding_from_blob(st.column_blob(c(17)));
  if (landmarks.size() != sizeof(Landmarks) || !embedding) {
    throw Error(ErrorCode::kGallery,
                "gallery " + path + " is corrupt: face " + f.id + " has a malformed blob");
  }
  std::memcpy(f.face.landmarks.data(), landmarks.data(), sizeof(Landmarks));
  f.embedding = std::move(*embedding);
  FaceQuality& q = f.face.quality;
  q.face_size_px = float(st.column_double(c(10)));
  q.brightness = float(st.column_double(c(11)));
  q.contrast = float(st.column_double(c(12)));
  q.sharpness = float(st.column_double(c(13)));
  q.noise = float(st.column_double(c(14)));
  q.yaw = float(st.column_double(c(15)));
  q.grayscale = st.column_int64(c(16)) != 0;
  f.model = {st.column_text(c(18)), st.column_text(c(19)), st.column_text(c(20))};
  f.created_unix_ms = st.column_int64(c(21));
  return f;
}

std::optional<ModelInfo> read_model(Database& db) {
  Statement st(db, "SELECT name, version, weights_sha256 FROM model WHERE id = 1");
  if (!st.step()) return std::nullopt;
  return ModelInfo{st.column_text(0), st.column_text(1), st.column_text(2)};
}

void write_model(Database& db, const ModelInfo& m) {
  Statement st(db,
               "INSERT INTO model (id, name, version, weights_sha256) VALUES (1, ?, ?, ?) "
               "ON CONFLICT (id) DO UPDATE SET name = excluded.name, version = excluded.version, "
               "weights_sha256 = excluded.weights_sha256");
  st.bind(1, m.name).bind(2, m.version).bind(3, m.weights_sha256).run();
}

void validate_setting(const std::string& key, const std::string& value) {
  if (key.empty()) throw Error(ErrorCode::kInvalidArgument, "setting key is empty");
  if (key == kThresholdSetting) {
    char* end = nullptr;
    const float v = std::strtof(value.c_str(), &end);
    // The whole string must be the number: an embedded NUL ("0.5\u0000x" in an import file)
    // would stop strtof short of the end.
    if (value.empty() || end != value.c_str() + value.size() || !std::isfinite(v) || v <= 0.0F) {
      throw Error(ErrorCode::kInvalidArgument,
                  "setting 'threshold' must be a positive number, got '" + value + "'");
    }
  }
}

// Creates `path` with mode 0600 unless it exists (SQLite then gives -wal/-shm the same mode).
void create_private_file(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty() && !fs::exists(parent)) {
    fs::create_directories(parent, ec);
    if (ec) {
      throw Error(ErrorCode::kIo,
                  "cannot create the gallery directory " + parent.string() + ": " + ec.message());
    }
  }
  const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return;
    throw Error(ErrorCode::kIo,
                "cannot create gallery " + path + ": " + std::strerror(errno));
  }
  ::fchmod(fd, 0600);  // in case the umask removed owner bits
  ::close(fd);
}

std::int64_t file_size_or_zero(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return ec ? 0 : static_cast<std::int64_t>(size);
}

// ---- JSON lines ----

json model_json(const ModelInfo& m) {
  return {{"name", m.name}, {"version", m.version}, {"weights_sha256", m.weights_sha256}};
}

json face_json(const GalleryFace& f) {
  json landmarks = json::array();
  for (const Point& p : f.face.landmarks) landmarks.push_back({double{p.x}, double{p.y}});
  json embedding = json::array();
  for (float v : f.embedding) embedding.push_back(double{v});
  const FaceQuality& q = f.face.quality;
  return {{"id", f.id},
          {"person", f.person},
          {"source_path", f.source_path},
          {"image_sha256", f.image_sha256},
          {"box", {double{f.face.box.left}, double{f.face.box.top}, double{f.face.box.width},
                   double{f.face.box.height}}},
          {"score", double{f.face.score}},
          {"landmarks", landmarks},
          {"quality",
           {{"face_size_px", double{q.face_size_px}},
            {"brightness", double{q.brightness}},
            {"contrast", double{q.contrast}},
            {"sharpness", double{q.sharpness}},
            {"noise", double{q.noise}},
            {"yaw", double{q.yaw}},
            {"grayscale", q.grayscale}}},
          {"embedding", embedding},
          {"model", model_json(f.model)},
          {"created_unix_ms", f.created_unix_ms}};
}

// Field readers for import: each names the line and the field on failure.
struct LineReader {
  std::string where;  // "file:line: "

  [[noreturn]] void fail(const std::string& field, const std::string& problem) const {
    throw Error(ErrorCode::kInvalidArgument, where + "field '" + field + "' " + problem);
  }
  const json& get(const json& obj, const std::string& key, const std::string& field) const {
    if (!obj.is_object()) fail(field, "must be an object");
    const auto it = obj.find(key);
    if (it == obj.end()) fail(field, "is missing");
    return *it;
  }
  std::string str(const json& obj, const std::string& key, const std::string& prefix = "") const {
    const json& v = get(obj, key, prefix + key);
    if (!v.is_string()) fail(prefix + key, "must be a string");
    return v.get<std::string>();
  }
  float number(const json& v, const std::string& field) const {
    if (!v.is_number()) fail(field, "must be a number");
    const double d = v.get<double>();
    const float f = static_cast<float>(d);
    if (!std::isfinite(d) || !std::isfinite(f)) fail(field, "is not a finite float");
    return f;
  }
  float num(const json& obj, const std::string& key, const std::string& prefix = "") const {
    return number(get(obj, key, prefix + key), prefix + key);
  }
  ModelInfo model(const json& obj, const std::string& key) const {
    const json& m = get(obj, key, key);
    if (!m.is_object()) fail(key, "must be an object");
    ModelInfo info{str(m, "name", key + "."), str(m, "version", key + "."),
                   str(m, "weights_sha256", key + ".")};
    if (info.name.empty() || info.weights_sha256.empty()) {
      fail(key, "needs a non-empty name and weights_sha256");
    }
    return info;
  }

  GalleryFace face(const json& obj) const {
    if (!obj.is_object()) throw Error(ErrorCode::kInvalidArgument, where + "not a JSON object");
    GalleryFace f;
    f.id = str(obj, "id");
    if (!is_face_id(f.id)) fail("id", "must be a lower-case UUID");
    f.person = str(obj, "person");
    try {
      validate_person(f.person, "");
    } catch (const Error& e) {
      fail("person", std::string("is invalid: ") + e.what());
    }
    f.source_path = str(obj, "source_path");
    f.image_sha256 = str(obj, "image_sha256");
    if (!is_hex(f.image_sha256, 64)) fail("image_sha256", "must be 64 lower-case hex digits");
    const json& box = get(obj, "box", "box");
    if (!box.is_array() || box.size() != 4) fail("box", "must be [left, top, width, height]");
    f.face.box = {number(box[0], "box[0]"), number(box[1], "box[1]"), number(box[2], "box[2]"),
                  number(box[3], "box[3]")};
    f.face.score = num(obj, "score");
    const json& lm = get(obj, "landmarks", "landmarks");
    if (!lm.is_array() || lm.size() != kLandmarkCount) fail("landmarks", "must hold 68 [x, y] pairs");
    for (std::size_t i = 0; i < lm.size(); ++i) {
      const std::string field = "landmarks[" + std::to_string(i) + "]";
      if (!lm[i].is_array() || lm[i].size() != 2) fail(field, "must be [x, y]");
      f.face.landmarks[i] = {number(lm[i][0], field), number(lm[i][1], field)};
    }
    const json& q = get(obj, "quality", "quality");
    if (!q.is_object()) fail("quality", "must be an object");
    FaceQuality& fq = f.face.quality;
    fq.face_size_px = num(q, "face_size_px", "quality.");
    fq.brightness = num(q, "brightness", "quality.");
    fq.contrast = num(q, "contrast", "quality.");
    fq.sharpness = num(q, "sharpness", "quality.");
    fq.noise = num(q, "noise", "quality.");
    fq.yaw = num(q, "yaw", "quality.");
    const json& gray = get(q, "grayscale", "quality.grayscale");
    if (!gray.is_boolean()) fail("quality.grayscale", "must be true or false");
    fq.grayscale = gray.get<bool>();
    const json& emb = get(obj, "embedding", "embedding");
    if (!emb.is_array() || emb.empty() || emb.size() > kMaxEmbeddingFloats) {
      fail("embedding", "must hold 1 to " + std::to_string(kMaxEmbeddingFloats) + " numbers");
    }
    f.embedding.resize(emb.size());
    for (std::size_t i = 0; i < emb.size(); ++i) {
      f.embedding[i] = number(emb[i], "embedding[" + std::to_string(i) + "]");
    }
    f.model = model(obj, "model");
    const json& created = get(obj, "created_unix_ms", "created_unix_ms");
    if (!created.is_number_integer()) fail("created_unix_ms", "must be an integer");
    f.created_unix_ms = created.get<std::int64_t>();
    static const std::set<std::string> kKnown = {
        "id",        "person",    "source_path", "image_sha256", "box",           "score",
        "landmarks", "quality",   "embedding",   "model",        "created_unix_ms"};
    for (const auto& [key, value] : obj.items()) {
      if (!kKnown.count(key)) fail(key, "is unknown");
    }
    return f;
  }
};

}  // namespace

std::string default_gallery_path() {
  if (const char* env = std::getenv("SIAMFACE_GALLERY"); env && *env) return env;
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) {
    return (fs::path(xdg) / "siamface" / "gallery.db").string();
  }
  const char* home = std::getenv("HOME");
  return (fs::path(home && *home ? home : ".") / ".local" / "share" / "siamface" / "gallery.db")
      .string();
}

struct Gallery::Impl {
  std::string path;
  GalleryOptions options;

  std::mutex db_mutex;  // guards db and data_version
  std::unique_ptr<Database> db;
  std::int64_t data_version = -1;

  std::shared_mutex index_mutex;  // guards index and model (lock order: db_mutex first)
  EmbeddingIndex index;
  std::optional<ModelInfo> model;

  void init_schema() {
    const std::int64_t app_id = db->query_int64("PRAGMA application_id");
    const std::int64_t version = db->query_int64("PRAGMA user_version");
    check_version(version, app_id);
    if (options.read_only) {
      if (version == 0) {
        throw Error(ErrorCode::kGallery, "gallery " + path +
                                             " is empty or not a siamface gallery (opened read-only)");
      }
      return;
    }
    db->exec("PRAGMA journal_mode = WAL");
    db->exec("PRAGMA secure_delete = ON");
    db->exec("PRAGMA synchronous = FULL");
    if (version == 0) {
      Transaction txn(*db);
      const std::int64_t again = db->query_int64("PRAGMA user_version");
      if (again == 0) {
        if (db->query_int64("SELECT count(*) FROM sqlite_master") != 0) {
          throw Error(ErrorCode::kGallery, "gallery " + path +
                                               " is an SQLite database but not a siamface "
                                               "gallery; choose another file");
        }
        db->exec(faces_table_sql("faces").c_str());
        db->exec(kSchemaSql);
        db->exec(("PRAGMA application_id = " + std::to_string(kApplicationId)).c_str());
        db->exec(("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str());
      } else {
        check_version(again, db->query_int64("PRAGMA application_id"));
      }
      txn.commit();
    } else if (version < kSchemaVersion) {
      migrate_to_current();
    }
  }

  // Version 1 -> 2: the faces table is rebuilt without the 128-float embedding check (SQLite
  // cannot alter a CHECK constraint in place), in one transaction.
  void migrate_to_current() {
    Transaction txn(*db);
    if (db->query_int64("PRAGMA user_version") == 1) {
      db->exec(faces_table_sql("faces_v2").c_str());
      db->exec(("INSERT INTO faces_v2 (rowid, " + std::string(kFaceColumns) + ") SELECT rowid, " + kFaceColumns +
                " FROM faces")
                   .c_str());
      db->exec("DROP TABLE faces");
      db->exec("ALTER TABLE faces_v2 RENAME TO faces");
      db->exec("CREATE INDEX faces_by_image ON faces (image_sha256)");
      db->exec("PRAGMA user_version = 2");
    }
    txn.commit();
  }

  void check_version(std::int64_t version, std::int64_t app_id) const {
    if (version > kSchemaVersion) {
      throw Error(ErrorCode::kGallery,
                  "gallery " + path + " has schema version " + std::to_string(version) +
                      ", newer than this siamface supports (" + std::to_string(kSchemaVersion) +
                      "); upgrade siamface");
    }
    if (version != 0 && app_id != kApplicationId) {
      throw Error(ErrorCode::kGallery, "gallery " + path +
                                           " is an SQLite database but not a siamface gallery");
    }
  }

  // Re-reads every embedding and the model. Caller holds db_mutex.
  void load_locked() {
    EmbeddingIndex fresh(options.index);
    std::optional<ModelInfo> fresh_model;
    std::int64_t version = 0;
    {
      gallery::ReadTransaction read(*db);
      version = db->query_int64("PRAGMA data_version");
      fresh_model = read_model(*db);
      fresh.reserve(static_cast<std::size_t>(db->query_int64("SELECT count(*) FROM faces")));
      Statement st(*db, "SELECT id, person, embedding FROM faces ORDER BY rowid");
      while (st.step()) {
        const std::string id = st.column_text(0);
        const auto embedding = embedding_from_blob(st.column_blob(2));
        if (!embedding || (fresh.dimensions() != 0 && embedding->size() != fresh.dimensions())) {
          throw Error(ErrorCode::kGallery,
                      "gallery " + path + " is corrupt: face " + id + " has a malformed embedding");
        }
        fresh.add(id, st.column_text(1), *embedding);
      }
    }
    std::unique_lock lock(index_mutex);
    index = std::move(fresh);
    model = std::move(fresh_model);
    data_version = version;
  }

  // Reloads when another connection committed since the last load. Caller holds db_mutex.
  void refresh_locked() {
    if (db->query_int64("PRAGMA data_version") != data_version) load_locked();
  }

  void refresh() {
    std::lock_guard lock(db_mutex);
    refresh_locked();
  }

  void checkpoint_locked(bool must) {
    Statement st(*db, "PRAGMA wal_checkpoint(TRUNCATE)");
    if (st.step() && st.column_int64(0) != 0 && must) {
      throw Error(ErrorCode::kGalleryBusy, "gallery " + path +
                                               ": could not checkpoint the WAL while other "
                                               "connections were reading; try again");
    }
  }

  void best_effort_checkpoint_locked() {
    try {
      checkpoint_locked(false);
    } catch (const Error&) {
      // Another process holds the file; its next checkpoint will do it.
    }
  }

  // Inserts inside an open transaction; fills `added` with the faces actually stored.
  std::vector<AddOutcome> insert_locked(const std::vector<GalleryFace>& batch,
                                        std::vector<GalleryFace>& added) {
    std::optional<ModelInfo> current = read_model(*db);
    // The first face fixes the model of a gallery that has none or holds no faces.
    if (!batch.empty() && (!current || (!same_model(*current, batch.front().model) &&
                                         db->query_int64("SELECT count(*) FROM faces") == 0))) {
      write_model(*db, batch.front().model);
      current = batch.front().model;
    }
    Statement insert(*db,
                     "INSERT INTO faces (id, person, source_path, image_sha256, box_left, box_top, "
                     "box_width, box_height, score, landmarks, face_size_px, brightness, contrast, "
                     "sharpness, noise, yaw, grayscale, embedding, model_name, model_version, "
                     "model_weights_sha256, created_unix_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                     "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    Statement same_image(*db, "SELECT id FROM faces WHERE person = ? AND image_sha256 = ?");
    Statement same_id(*db, "SELECT 1 FROM faces WHERE id = ?");
    const auto id_taken = [&](const std::string& id) {
      same_id.reset();
      same_id.bind(1, id);
      return same_id.step();
    };
    std::vector<AddOutcome> outcomes;
    outcomes.reserve(batch.size());
    const std::int64_t now = now_unix_ms();
    for (const GalleryFace& in : batch) {
      if (current && !same_model(*current, in.model)) throw_mismatch(path, *current, in.model);
      same_image.reset();
      same_image.bind(1, in.person).bind(2, in.image_sha256);
      if (same_image.step()) {
        outcomes.push_back({AddStatus::kDuplicate, same_image.column_text(0)});
        continue;
      }
      // A given id (an import) that exists is the same face again; a generated one is retried.
      if (!in.id.empty() && id_taken(in.id)) {
        outcomes.push_back({AddStatus::kDuplicate, in.id});
        continue;
      }
      GalleryFace f = in;
      if (f.id.empty()) {
        do {
          f.id = new_face_id();
        } while (id_taken(f.id));
      }
      if (f.created_unix_ms == 0) f.created_unix_ms = now;
      insert.reset();
      bind_face(insert, f);
      insert.run();
      outcomes.push_back({AddStatus::kAdded, f.id});
      added.push_back(std::move(f));
    }
    return outcomes;
  }

  void index_add(const std::vector<GalleryFace>& added) {
    std::unique_lock lock(index_mutex);
    if (!added.empty()) model = added.front().model;
    for (const GalleryFace& f : added) index.add(f.id, f.person, f.embedding);
  }

  std::vector<std::string> ids_where(const char* sql, const std::string& arg) {
    Statement st(*db, sql);
    st.bind(1, arg);
    std::vector<std::string> ids;
    while (st.step()) ids.push_back(st.column_text(0));
    return ids;
  }

  void check_search_model(const ModelInfo& given) const {
    if (model && index.size() > 0 && !same_model(*model, given)) {
      throw_mismatch(path, *model, given);
    }
  }
};

Gallery::Gallery(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Gallery::~Gallery() = default;
Gallery::Gallery(Gallery&&) noexcept = default;
Gallery& Gallery::operator=(Gallery&&) noexcept = default;

Gallery Gallery::open(const std::string& path, const GalleryOptions& options) {
  if (path.empty()) throw Error(ErrorCode::kInvalidArgument, "gallery path is empty");
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (fs::exists(status)) {
    if (!fs::is_regular_file(status)) {
      throw Error(ErrorCode::kGallery, "gallery " + path + " is not a regular file");
    }
    // SQLite would open it read-only and fail only at the first write; say so now. It also
    // needs the folder for its -wal and -shm files.
    if (!options.read_only) {
      const fs::path parent = fs::path(path).parent_path();
      const char* cannot = ::access(path.c_str(), W_OK) != 0 ? "the file"
                           : ::access(parent.empty() ? "." : parent.c_str(), W_OK) != 0
                               ? "its folder"
                               : nullptr;
      if (cannot) {
        throw Error(ErrorCode::kGallery, "gallery " + path + " is read-only (" + cannot +
                                             " is not writable: " + std::strerror(errno) +
                                             "); only reading commands can use it");
      }
    }
  } else if (!options.create || options.read_only) {
    throw Error(ErrorCode::kNotFound, "gallery " + path + " does not exist");
  } else {
    create_private_file(path);
  }
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->options = options;
  impl->index = EmbeddingIndex(options.index);
  impl->db = std::make_unique<Database>(path, options.busy_timeout_ms, options.read_only);
  impl->init_schema();
  {
    std::lock_guard lock(impl->db_mutex);
    impl->load_locked();
  }
  return Gallery(std::move(impl));
}

const std::string& Gallery::path() const { return impl_->path; }

std::vector<AddOutcome> Gallery::add_faces(const std::vector<GalleryFace>& batch) {
  for (std::size_t i = 0; i < batch.size(); ++i) {
    validate_face(batch[i], "face " + std::to_string(i) + " of the batch: ");
  }
  if (batch.empty()) return {};
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  im.refresh_locked();
  // Every row of a gallery has one size (its recognizer's); checked before anything is written.
  std::size_t dims = im.index.dimensions();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (dims == 0) dims = batch[i].embedding.size();
    if (batch[i].embedding.size() != dims || dims > kMaxEmbeddingFloats) {
      throw Error(ErrorCode::kInvalidArgument, "face " + std::to_string(i) + " of the batch: embedding has " +
                                                   std::to_string(batch[i].embedding.size()) +
                                                   " values, the gallery holds " + std::to_string(dims) + " per face");
    }
  }
  std::vector<GalleryFace> added;
  std::vector<AddOutcome> outcomes;
  {
    Transaction txn(*im.db);
    outcomes = im.insert_locked(batch, added);
    txn.commit();
  }
  im.index_add(added);
  return outcomes;
}

AddOutcome Gallery::add_face(const GalleryFace& face) { return add_faces({face}).front(); }

bool Gallery::has_image(const std::string& image_sha256) const {
  std::lock_guard lock(impl_->db_mutex);
  Statement st(*impl_->db, "SELECT 1 FROM faces WHERE image_sha256 = ? LIMIT 1");
  st.bind(1, image_sha256);
  return st.step();
}

bool Gallery::has_image(const std::string& image_sha256, const std::string& person) const {
  std::lock_guard lock(impl_->db_mutex);
  Statement st(*impl_->db, "SELECT 1 FROM faces WHERE image_sha256 = ? AND person = ? LIMIT 1");
  st.bind(1, image_sha256).bind(2, person);
  return st.step();
}

std::optional<GalleryFace> Gallery::face(const std::string& face_id) const {
  std::lock_guard lock(impl_->db_mutex);
  Statement st(*impl_->db, (std::string("SELECT ") + kFaceColumns + " FROM faces WHERE id = ?").c_str());
  st.bind(1, face_id);
  if (!st.step()) return std::nullopt;
  return read_face(st, impl_->path);
}

std::vector<GalleryFace> Gallery::faces_of(const std::string& person) const {
  std::lock_guard lock(impl_->db_mutex);
  Statement st(*impl_->db, (std::string("SELECT ") + kFaceColumns +
                            " FROM faces WHERE person = ? ORDER BY rowid").c_str());
  st.bind(1, person);
  std::vector<GalleryFace> out;
  while (st.step()) out.push_back(read_face(st, impl_->path));
  return out;
}

std::vector<PersonSummary> Gallery::people() const {
  std::lock_guard lock(impl_->db_mutex);
  Statement st(*impl_->db, "SELECT person, count(*) FROM faces GROUP BY person ORDER BY person");
  std::vector<PersonSummary> out;
  while (st.step()) out.push_back({st.column_text(0), st.column_int64(1)});
  return out;
}

std::int64_t Gallery::face_count() const {
  std::lock_guard lock(impl_->db_mutex);
  return impl_->db->query_int64("SELECT count(*) FROM faces");
}

std::size_t Gallery::remove_person(const std::string& person) {
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  im.refresh_locked();
  std::size_t removed = 0;
  {
    Transaction txn(*im.db);
    Statement st(*im.db, "DELETE FROM faces WHERE person = ?");
    st.bind(1, person).run();
    removed = static_cast<std::size_t>(im.db->changes());
    if (removed == 0) {
      throw Error(ErrorCode::kNotFound, "no person named '" + person + "' in gallery " + im.path);
    }
    txn.commit();
  }
  {
    std::unique_lock ilock(im.index_mutex);
    im.index.remove_person(person);
  }
  im.best_effort_checkpoint_locked();
  return removed;
}

void Gallery::remove_face(const std::string& face_id) {
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  im.refresh_locked();
  {
    Transaction txn(*im.db);
    Statement st(*im.db, "DELETE FROM faces WHERE id = ?");
    st.bind(1, face_id).run();
    if (im.db->changes() == 0) {
      throw Error(ErrorCode::kNotFound, "no face with id " + face_id + " in gallery " + im.path);
    }
    txn.commit();
  }
  {
    std::unique_lock ilock(im.index_mutex);
    im.index.remove(face_id);
  }
  im.best_effort_checkpoint_locked();
}

std::size_t Gallery::rename_person(const std::string& from, const std::string& to) {
  validate_person(to, "rename: new ");
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  im.refresh_locked();
  std::vector<std::string> dropped;
  std::size_t moved = 0;
  {
    Transaction txn(*im.db);
    Statement count(*im.db, "SELECT count(*) FROM faces WHERE person = ?");
    count.bind(1, from);
    count.step();
    if (count.column_int64(0) == 0) {
      throw Error(ErrorCode::kNotFound, "no person named '" + from + "' in gallery " + im.path);
    }
    if (from == to) return static_cast<std::size_t>(count.column_int64(0));
    // A photo `to` already has would violate UNIQUE(person, image_sha256): drop it.
    Statement dup(*im.db,
                  "SELECT id FROM faces WHERE person = ?1 AND image_sha256 IN "
                  "(SELECT image_sha256 FROM faces WHERE person = ?2)");
    dup.bind(1, from).bind(2, to);
    while (dup.step()) dropped.push_back(dup.column_text(0));
    Statement del(*im.db, "DELETE FROM faces WHERE id = ?");
    for (const auto& id : dropped) {
      del.reset();
      del.bind(1, id).run();
    }
    Statement update(*im.db, "UPDATE faces SET person = ?2 WHERE person = ?1");
    update.bind(1, from).bind(2, to).run();
    moved = static_cast<std::size_t>(im.db->changes());
    txn.commit();
  }
  {
    std::unique_lock ilock(im.index_mutex);
    for (const auto& id : dropped) im.index.remove(id);
    im.index.rename_person(from, to);
  }
  if (!dropped.empty()) im.best_effort_checkpoint_locked();
  return moved;
}

std::size_t Gallery::remove_all() {
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  std::size_t removed = 0;
  {
    Transaction txn(*im.db);
    im.db->exec("DELETE FROM faces");
    removed = static_cast<std::size_t>(im.db->changes());
    txn.commit();
  }
  {
    std::unique_lock ilock(im.index_mutex);
    im.index.clear();
  }
  im.best_effort_checkpoint_locked();
  return removed;
}

std::size_t Gallery::export_jsonl(const std::string& file) const {
  auto& im = *impl_;
  const int fd = ::open(file.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw Error(ErrorCode::kIo, "cannot create export file " + file + ": " + std::strerror(errno));
  }
  ::fchmod(fd, 0600);  // an existing file keeps its old mode otherwise
  std::FILE* out = ::fdopen(fd, "w");
  if (!out) {
    ::close(fd);
    throw Error(ErrorCode::kIo, "cannot write export file " + file);
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> guard(out, &std::fclose);
  const auto write_line = [&](const json& j) {
    const std::string line = j.dump() + "\n";
    if (std::fwrite(line.data(), 1, line.size(), out) != line.size()) {
      throw Error(ErrorCode::kIo, "cannot write export file " + file + ": " + std::strerror(errno));
    }
  };
  std::size_t count = 0;
  {
    std::lock_guard lock(im.db_mutex);
    gallery::ReadTransaction read(*im.db);
    json settings = json::object();
    Statement ss(*im.db, "SELECT key, value FROM settings ORDER BY key");
    while (ss.step()) settings[ss.column_text(0)] = ss.column_text(1);
    const auto model = read_model(*im.db);
    write_line({{"format", "siamface-gallery"},
                {"version", 1},
                {"model", model ? model_json(*model) : json(nullptr)},
                {"settings", settings}});
    Statement st(*im.db, (std::string("SELECT ") + kFaceColumns + " FROM faces ORDER BY rowid").c_str());
    while (st.step()) {
      write_line(face_json(read_face(st, im.path)));
      ++count;
    }
  }
  if (std::fflush(out) != 0 || ::fsync(fd) != 0) {
    throw Error(ErrorCode::kIo, "cannot write export file " + file + ": " + std::strerror(errno));
  }
  return count;
}

ImportResult Gallery::import_jsonl(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw Error(ErrorCode::kIo, "cannot read import file " + file);
  return import_jsonl(in, file);
}

ImportResult Gallery::import_jsonl(std::istream& in, const std::string& file) {
  std::string line;
  std::size_t number = 0;
  std::optional<ModelInfo> header_model;
  std::vector<std::pair<std::string, std::string>> settings;
  std::vector<GalleryFace> faces;
  bool header_seen = false;
  while (std::getline(in, line)) {
    ++number;
    LineReader reader{file + ":" + std::to_string(number) + ": "};
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers past double (1e400)
      throw Error(ErrorCode::kInvalidArgument, reader.where + "invalid JSON: " + e.what());
    }
    if (!header_seen) {
      header_seen = true;
      if (!j.is_object() || !j.contains("format") || j["format"] != "siamface-gallery") {
        throw Error(ErrorCode::kInvalidArgument,
                    reader.where + "not a siamface gallery export (header line expected)");
      }
      if (!j.contains("version") || !j["version"].is_number_integer() || j["version"] != 1) {
        throw Error(ErrorCode::kInvalidArgument, reader.where + "unsupported export version");
      }
      if (j.contains("model") && !j["model"].is_null()) header_model = reader.model(j, "model");
      if (j.contains("settings")) {
        if (!j["settings"].is_object()) reader.fail("settings", "must be an object");
        for (const auto& [key, value] : j["settings"].items()) {
          if (!value.is_string()) reader.fail("settings." + key, "must be a string");
          try {
            validate_setting(key, value.get<std::string>());
          } catch (const Error& e) {
            throw Error(ErrorCode::kInvalidArgument, reader.where + e.what());
          }
          settings.emplace_back(key, value.get<std::string>());
        }
      }
      continue;
    }
    GalleryFace f = reader.face(j);
    if (!header_model || !same_model(*header_model, f.model)) {
      reader.fail("model", "differs from the model in the header line");
    }
    faces.push_back(std::move(f));
  }
  if (in.bad()) throw Error(ErrorCode::kIo, "cannot read import file " + file);
  if (!header_seen) {
    throw Error(ErrorCode::kInvalidArgument, file + ": empty file, not a siamface gallery export");
  }

  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  im.refresh_locked();
  std::vector<GalleryFace> added;
  ImportResult result;
  {
    Transaction txn(*im.db);
    Statement set(*im.db,
                  "INSERT INTO settings (key, value) VALUES (?, ?) "
                  "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    for (const auto& [key, value] : settings) {
      set.reset();
      set.bind(1, key).bind(2, value).run();
    }
    for (const AddOutcome& o : im.insert_locked(faces, added)) {
      (o.status == AddStatus::kAdded ? result.added : result.duplicates)++;
    }
    txn.commit();
  }
  im.index_add(added);
  return result;
}

GalleryInfo Gallery::info() const {
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  GalleryInfo info;
  info.path = im.path;
  info.schema_version = static_cast<int>(im.db->query_int64("PRAGMA user_version"));
  info.model = read_model(*im.db);
  info.face_count = im.db->query_int64("SELECT count(*) FROM faces");
  info.person_count = im.db->query_int64("SELECT count(DISTINCT person) FROM faces");
  Statement st(*im.db, "SELECT value FROM settings WHERE key = ?");
  st.bind(1, std::string(kThresholdSetting));
  if (st.step()) info.threshold = std::strtof(st.column_text(0).c_str(), nullptr);
  info.file_bytes = file_size_or_zero(im.path) + file_size_or_zero(im.path + "-wal");
  return info;
}

std::optional<ModelInfo> Gallery::model() const {
  std::lock_guard lock(impl_->db_mutex);
  return read_model(*impl_->db);
}

std::optional<std::string> Gallery::setting(const std::string& key) const {
  std::lock_guard lock(impl_->db_mutex);
  Statement st(*impl_->db, "SELECT value FROM settings WHERE key = ?");
  st.bind(1, key);
  if (!st.step()) return std::nullopt;
  return st.column_text(0);
}

void Gallery::set_setting(const std::string& key, const std::string& value) {
  validate_setting(key, value);
  std::lock_guard lock(impl_->db_mutex);
  Statement st(*impl_->db,
               "INSERT INTO settings (key, value) VALUES (?, ?) "
               "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  st.bind(1, key).bind(2, value).run();
}

bool Gallery::erase_setting(const std::string& key) {
  std::lock_guard lock(impl_->db_mutex);
  Statement st(*impl_->db, "DELETE FROM settings WHERE key = ?");
  st.bind(1, key).run();
  return impl_->db->changes() > 0;
}

std::vector<FaceSource> Gallery::face_sources() const {
  std::lock_guard lock(impl_->db_mutex);
  Statement st(*impl_->db, (std::string("SELECT ") + kFaceColumns + " FROM faces ORDER BY rowid").c_str());
  std::vector<FaceSource> out;
  while (st.step()) {
    GalleryFace f = read_face(st, impl_->path);
    out.push_back({f.id, f.person, f.source_path, f.image_sha256, f.face});
  }
  return out;
}

void Gallery::reindex(const std::vector<ReindexUpdate>& updates, const ModelInfo& model,
                      bool remove_unlisted) {
  validate_model(model, "reindex: ");
  std::unordered_map<std::string, const ReindexUpdate*> by_id;
  for (const ReindexUpdate& u : updates) {
    for (float v : u.embedding) require_finite(v, "reindex of face " + u.face_id + ": ", "embedding");
    if (!by_id.emplace(u.face_id, &u).second) {
      throw Error(ErrorCode::kInvalidArgument, "reindex: face " + u.face_id + " listed twice");
    }
  }
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  {
    Transaction txn(*im.db);
    std::vector<std::string> ids;
    {
      Statement st(*im.db, "SELECT id FROM faces");
      while (st.step()) ids.push_back(st.column_text(0));
    }
    const std::unordered_set<std::string> present(ids.begin(), ids.end());
    for (const auto& [id, u] : by_id) {
      if (!present.count(id)) {
        throw Error(ErrorCode::kNotFound, "reindex: no face with id " + id + " in gallery " + im.path);
      }
    }
    Statement del(*im.db, "DELETE FROM faces WHERE id = ?");
    for (const auto& id : ids) {
      if (by_id.count(id)) continue;
      if (!remove_unlisted) {
        throw Error(ErrorCode::kInvalidArgument,
                    "reindex: face " + id + " has no new embedding; nothing was changed");
      }
      del.reset();
      del.bind(1, id).run();
    }
    Statement emb(*im.db,
                  "UPDATE faces SET embedding = ?2, model_name = ?3, model_version = ?4, "
                  "model_weights_sha256 = ?5 WHERE id = ?1");
    Statement geo(*im.db,
                  "UPDATE faces SET box_left = ?2, box_top = ?3, box_width = ?4, box_height = ?5, "
                  "score = ?6, landmarks = ?7, face_size_px = ?8, brightness = ?9, contrast = ?10, "
                  "sharpness = ?11, noise = ?12, yaw = ?13, grayscale = ?14 WHERE id = ?1");
    for (const ReindexUpdate& u : updates) {
      emb.reset();
      emb.bind(1, u.face_id).bind_blob(2, embedding_bytes(u.embedding));
      emb.bind(3, model.name).bind(4, model.version).bind(5, model.weights_sha256).run();
      if (u.face) {
        const Face& f = *u.face;
        const FaceQuality& q = f.quality;
        geo.reset();
        geo.bind(1, u.face_id).bind(2, double{f.box.left}).bind(3, double{f.box.top});
        geo.bind(4, double{f.box.width}).bind(5, double{f.box.height}).bind(6, double{f.score});
        geo.bind_blob(7, bytes_of(f.landmarks)).bind(8, double{q.face_size_px});
        geo.bind(9, double{q.brightness}).bind(10, double{q.contrast});
        geo.bind(11, double{q.sharpness}).bind(12, double{q.noise}).bind(13, double{q.yaw});
        geo.bind(14, std::int64_t{q.grayscale ? 1 : 0}).run();
      }
    }
    write_model(*im.db, model);
    txn.commit();
  }
  im.load_locked();
  im.best_effort_checkpoint_locked();
}

std::vector<IdentityMatch> Gallery::search(const Embedding& query, const ModelInfo& model,
                                           std::size_t k, IdentityDistance mode) const {
  impl_->refresh();
  std::shared_lock lock(impl_->index_mutex);
  impl_->check_search_model(model);
  return impl_->index.search(query, k, mode);
}

std::vector<std::vector<IdentityMatch>> Gallery::search_batch(std::span<const Embedding> queries,
                                                              const ModelInfo& model,
                                                              std::size_t k,
                                                              IdentityDistance mode) const {
  impl_->refresh();
  std::shared_lock lock(impl_->index_mutex);
  impl_->check_search_model(model);
  return impl_->index.search_batch(queries, k, mode);
}

void Gallery::reload() {
  std::lock_guard lock(impl_->db_mutex);
  impl_->load_locked();
}

void Gallery::checkpoint() {
  std::lock_guard lock(impl_->db_mutex);
  impl_->checkpoint_locked(true);
}

}  // namespace siamface
