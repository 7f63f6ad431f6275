#include "gallery/sqlite_db.hpp"

#include <sqlite3.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "siamface/errors.hpp"

namespace siamface::gallery {

namespace {

// "file:" URI for sqlite3_open_v2 with SQLITE_OPEN_URI: percent-encodes everything unusual.
std::string file_uri(const std::string& path, const char* query) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string uri = "file:";
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '.' || c == '-' || c == '_') {
      uri += static_cast<char>(c);
    } else {
      uri += '%';
      uri += kHex[c >> 4];
      uri += kHex[c & 0x0F];
    }
  }
  return uri + "?" + query;
}

bool disk_full_errno(int e) { return e == ENOSPC || e == EFBIG || e == EDQUOT; }

}  // namespace

Database::Database(const std::string& path, int busy_timeout_ms, bool read_only)
    : path_(path), busy_timeout_ms_(busy_timeout_ms), read_only_(read_only) {
  const auto open = [&](const std::string& name, int flags) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
    const int rc = sqlite3_open_v2(name.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      if ((rc & 0xff) == SQLITE_CANTOPEN && ::access(path.c_str(), F_OK) == 0 &&
          ::access(path.c_str(), R_OK) != 0) {
        message = "no read permission";
      }
      sqlite3_close(db_);
      db_ = nullptr;
      throw Error(ErrorCode::kGallery, "cannot open gallery " + path + ": " + message);
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, busy_timeout_ms);
  };
  if (!read_only) {
    open(path, SQLITE_OPEN_READWRITE);
    return;
  }
  open(path, SQLITE_OPEN_READONLY);
  // Probe: a WAL database needs its -shm file, which a read-only connection cannot create.
  const int rc = sqlite3_exec(db_, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr);
  const int primary = rc & 0xff;
  if ((primary == SQLITE_READONLY || primary == SQLITE_CANTOPEN) &&
      ::access((path + "-wal").c_str(), F_OK) != 0) {
    open(file_uri(path, "mode=ro&immutable=1"), SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
  }
}

Database::~Database() { sqlite3_close_v2(db_); }

void Database::fail(int rc, const std::string& what) const {
  const int primary = rc & 0xff;
  const std::string detail = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    throw Error(ErrorCode::kGalleryBusy,
                "gallery " + path_ + " is locked by another process or thread (waited " +
                    std::to_string(busy_timeout_ms_) + " ms while " + what +
                    "); try again, or raise the busy timeout");
  }
  if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT) {
    throw Error(ErrorCode::kGallery, "gallery " + path_ +
                                         " is corrupt or not a siamface gallery (" + detail +
                                         " while " + what + "); restore it from an export");
  }
  if (primary == SQLITE_READONLY) {
    throw Error(ErrorCode::kGallery,
                "gallery " + path_ + " is read-only (" + detail + " while " + what +
                    "); check the permissions of the file and its folder");
  }
  // SQLite reports ENOSPC as SQLITE_FULL but EFBIG (file size limit) and EDQUOT as a plain
  // write error, and does not keep errno reliably; a write error is most often one of these.
  const int os_error = db_ ? sqlite3_system_errno(db_) : 0;
  if (primary == SQLITE_FULL || rc == SQLITE_IOERR_WRITE ||
      (primary == SQLITE_IOERR && disk_full_errno(os_error))) {
    throw Error(ErrorCode::kGallery,
                "gallery " + path_ + ": could not write: disk full, a quota or file size limit, " +
                    "or a failing disk (" + detail + " while " + what +
                    "); free some space and try again");
  }
  throw Error(ErrorCode::kGallery, "gallery " + path_ + ": " + detail + " while " + what);
}

void Database::exec(const char* sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
  sqlite3_free(message);
  if (rc != SQLITE_OK) fail(rc, std::string("running '") + sql + "'");
}

std::int64_t Database::query_int64(const char* sql) {
  Statement st(*this, sql);
  if (!st.step()) fail(SQLITE_ERROR, std::string("reading '") + sql + "'");
  return st.column_int64(0);
}

int Database::changes() const { return sqlite3_changes(db_); }

Statement::Statement(Database& db, const char* sql) : db_(db) {
  const int rc = sqlite3_prepare_v2(db.handle(), sql, -1, &stmt_, nullptr);
  if (rc != SQLITE_OK) db.fail(rc, std::string("preparing '") + sql + "'");
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::bind(int index, std::int64_t value) {
  if (const int rc = sqlite3_bind_int64(stmt_, index, value); rc != SQLITE_OK) {
    db_.fail(rc, "binding a value");
  }
  return *this;
}

Statement& Statement::bind(int index, double value) {
  if (const int rc = sqlite3_bind_double(stmt_, index, value); rc != SQLITE_OK) {
    db_.fail(rc, "binding a value");
  }
  return *this;
}

Statement& Statement::bind(int index, const std::string& value) {
  const int rc = sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT,
                                     SQLITE_UTF8);
  if (rc != SQLITE_OK) db_.fail(rc, "binding a value");
  return *this;
}

Statement& Statement::bind_blob(int index, std::span<const std::uint8_t> bytes) {
  const int rc = sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) db_.fail(rc, "binding a value");
  return *this;
}

Statement& Statement::bind_null(int index) {
  if (const int rc = sqlite3_bind_null(stmt_, index); rc != SQLITE_OK) {
    db_.fail(rc, "binding a value");
  }
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  const std::string sql = sqlite3_sql(stmt_) ? sqlite3_sql(stmt_) : "";
  sqlite3_reset(stmt_);
  db_.fail(rc, "running '" + sql.substr(0, 60) + "'");
}

void Statement::run() {
  while (step()) {
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Statement::is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}
std::int64_t Statement::column_int64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}
double Statement::column_double(int column) const { return sqlite3_column_double(stmt_, column); }
std::string Statement::column_text(int column) const {
  const auto* text = sqlite3_column_text(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  return text ? std::string(reinterpret_cast<const char*>(text), size) : std::string();
}
std::span<const std::uint8_t> Statement::column_blob(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  return {static_cast<const std::uint8_t*>(data), data ? static_cast<std::size_t>(size) : 0U};
}

Transaction::Transaction(Database& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (open_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  db_.exec("COMMIT");
  open_ = false;
}

ReadTransaction::ReadTransaction(Database& db) : db_(db) { db_.exec("BEGIN"); }

ReadTransaction::~ReadTransaction() {
  sqlite3_exec(db_.handle(), "COMMIT", nullptr, nullptr, nullptr);
}

}  // namespace siamface::gallery
