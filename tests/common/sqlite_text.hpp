// The first column of the first row a query gives on a gallery file, as text, for tests that
// check a database from outside the library (e.g. "PRAGMA integrity_check" -> "ok").
#pragma once

#include <sqlite3.h>

#include <string>

namespace siamface::test {

inline std::string sqlite_text(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string text = "<open failed>";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    text = "<query failed>";
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
      const auto* t = sqlite3_column_text(st, 0);
      text = t ? reinterpret_cast<const char*>(t) : "";
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return text;
}

}  // namespace siamface::test
