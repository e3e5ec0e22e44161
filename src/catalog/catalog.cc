#include "catalog/catalog.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "common/assert.h"
#include "common/checksum.h"
#include "common/coding.h"
#include "common/limits.h"
#include "common/value_coding.h"
#include "index/text/analyzer.h"
#include "io/commit_object.h"

namespace fathom {

namespace {

bool GetString(Decoder* in, std::string* out, size_t max = limits::kCatalogStringBytesMax) {
  std::string_view s;
  if (!in->GetLengthPrefixed(&s, max)) return false;
  out->assign(s);
  return true;
}

Status CheckString(const std::string& value, const char* what, size_t max = limits::kCatalogStringBytesMax,
                   const char* limit_name = "limits::kCatalogStringBytesMax") {
  if (value.size() > max) {
    return Status::InvalidArgument(std::string("catalog: ") + what + " of " + std::to_string(value.size()) +
                                   " bytes exceeds " + limit_name + " (" + std::to_string(max) + " bytes)");
  }
  return Status::Ok();
}

Status CheckTextAnalyzer(const CatalogCollection& c) {
  const TextAnalyzerOptions& options = *c.text_analyzer;
  FATHOM_RETURN_IF_ERROR(CheckString(options.stemmer, "stemmer name", kCatalogStemmerBytesMax,
                                     "kCatalogStemmerBytesMax"));
  if (options.stop_words.size() > kAnalyzerStopWordsMax) {
    return Status::InvalidArgument("catalog: collection " + c.name + ": " + std::to_string(options.stop_words.size()) +
                                   " stop words exceed kAnalyzerStopWordsMax (" +
                                   std::to_string(kAnalyzerStopWordsMax) + ")");
  }
  for (const std::string& word : options.stop_words) {
    FATHOM_RETURN_IF_ERROR(CheckString(word, "stop word", kAnalyzerStopWordBytesMax, "kAnalyzerStopWordBytesMax"));
  }
  return Status::Ok();
}

// Every limit DecodeCatalog enforces, so that no catalog is committed that fails to load
// (which would make the whole database unopenable).
Status CheckCatalog(const CatalogState& state) {
  for (const TenantInfo& t : state.tenants) FATHOM_RETURN_IF_ERROR(CheckString(t.name, "tenant name"));
  for (const DatabaseInfo& d : state.databases) {
    FATHOM_RETURN_IF_ERROR(CheckString(d.id, "database id"));
    FATHOM_RETURN_IF_ERROR(CheckString(d.name, "database name"));
    FATHOM_RETURN_IF_ERROR(CheckString(d.tenant, "database tenant"));
  }
  if (state.collections.size() > limits::kCollectionsMax) {
    return Status::InvalidArgument("catalog: " + std::to_string(state.collections.size()) +
                                   " collections exceed limits::kCollectionsMax (" +
                                   std::to_string(limits::kCollectionsMax) + ")");
  }
  for (const CatalogCollection& c : state.collections) {
    FATHOM_RETURN_IF_ERROR(CheckString(c.id, "collection id"));
    FATHOM_RETURN_IF_ERROR(CheckString(c.name, "collection name"));
    FATHOM_RETURN_IF_ERROR(CheckString(c.tenant, "collection tenant"));
    FATHOM_RETURN_IF_ERROR(CheckString(c.database, "collection database"));
    FATHOM_RETURN_IF_ERROR(CheckString(c.configuration_json, "collection configuration",
                                       limits::kCatalogConfigurationBytesMax,
                                       "limits::kCatalogConfigurationBytesMax"));
    if (static_cast<uint8_t>(c.space) > 2) return Status::InvalidArgument("catalog: unknown distance space");
    if (c.text_analyzer) FATHOM_RETURN_IF_ERROR(CheckTextAnalyzer(c));
    if (c.sparse_key) {
      FATHOM_RETURN_IF_ERROR(CheckString(*c.sparse_key, "sparse vector key", limits::kMetadataKeyBytesMax,
                                         "limits::kMetadataKeyBytesMax"));
    }
    if (c.metadata) {
      if (Status s = CheckMetadataLimits(*c.metadata); !s.ok()) {
        return Status::InvalidArgument("catalog: collection " + c.name + ": " + s.message());
      }
    }
  }
  return Status::Ok();
}

void PutTextAnalyzer(std::string* out, const std::optional<TextAnalyzerOptions>& options) {
  out->push_back(options ? 1 : 0);
  if (!options) return;
  out->push_back(options->remove_diacritics ? 1 : 0);
  PutLengthPrefixed(out, options->stemmer);
  PutVarint64(out, options->stop_words.size());
  for (const std::string& word : options->stop_words) PutLengthPrefixed(out, word);
}

bool GetTextAnalyzer(Decoder* in, std::optional<TextAnalyzerOptions>* out) {
  uint8_t present, remove_diacritics;
  if (!in->GetU8(&present) || present > 1) return false;
  if (present == 0) return true;
  TextAnalyzerOptions options;
  uint64_t n;
  if (!in->GetU8(&remove_diacritics) || remove_diacritics > 1 ||
      !GetString(in, &options.stemmer, kCatalogStemmerBytesMax) || !in->GetVarint64(&n) ||
      n > kAnalyzerStopWordsMax || n > in->remaining()) {
    return false;
  }
  options.remove_diacritics = remove_diacritics == 1;
  options.stop_words.resize(n);
  for (std::string& word : options.stop_words) {
    if (!GetString(in, &word, kAnalyzerStopWordBytesMax)) return false;
  }
  *out = std::move(options);
  return true;
}

}  // namespace

std::string CatalogKey(uint64_t version) {
  return "catalog/" + FixedWidthNumber(version);
}

Result<std::string> EncodeCatalog(const CatalogState& state) {
  FATHOM_RETURN_IF_ERROR(CheckCatalog(state));
  const bool any_analyzer = std::any_of(state.collections.begin(), state.collections.end(),
                                        [](const CatalogCollection& c) { return c.text_analyzer.has_value(); });
  const bool any_sparse = std::any_of(state.collections.begin(), state.collections.end(),
                                      [](const CatalogCollection& c) { return c.sparse_key.has_value(); });
  const uint16_t format_version = any_sparse ? 3 : (any_analyzer ? 2 : kCatalogFormatVersionMin);
  std::string out(kCatalogMagic, 4);
  PutFixed16(&out, format_version);
  PutFixed16(&out, 0);
  PutFixed64(&out, state.version);
  PutVarint64(&out, state.tenants.size());
  for (const TenantInfo& t : state.tenants) PutLengthPrefixed(&out, t.name);
  PutVarint64(&out, state.databases.size());
  for (const DatabaseInfo& d : state.databases) {
    PutLengthPrefixed(&out, d.id);
    PutLengthPrefixed(&out, d.name);
    PutLengthPrefixed(&out, d.tenant);
  }
  PutVarint64(&out, state.collections.size());
  for (const CatalogCollection& c : state.collections) {
    PutLengthPrefixed(&out, c.id);
    PutLengthPrefixed(&out, c.name);
    PutLengthPrefixed(&out, c.tenant);
    PutLengthPrefixed(&out, c.database);
    out.push_back(c.metadata ? 1 : 0);
    if (c.metadata) FATHOM_CHECK(EncodeMetadata(&out, *c.metadata).ok());  // checked above
    out.push_back(static_cast<char>(c.space));
    PutLengthPrefixed(&out, c.configuration_json);
    if (format_version >= 2) PutTextAnalyzer(&out, c.text_analyzer);
    if (format_version >= 3) {
      out.push_back(c.sparse_key ? 1 : 0);
      if (c.sparse_key) PutLengthPrefixed(&out, *c.sparse_key);
    }
  }
  PutFixed64(&out, Checksum64(out));
  return out;
}

Result<CatalogState> DecodeCatalog(std::string_view bytes) {
  if (bytes.size() < 4 + 12 + 3 + 8) return Status::Corruption("catalog too short");
  if (std::memcmp(bytes.data(), kCatalogMagic, 4) != 0) return Status::Corruption("catalog: bad magic");
  std::string_view body = bytes.substr(0, bytes.size() - 8);
  if (Checksum64(body) != DecodeFixed64(bytes.data() + body.size())) {
    return Status::Corruption("catalog: checksum mismatch");
  }
  Decoder in(body.substr(4));
  uint16_t version, flags;
  CatalogState state;
  uint64_t n;
  auto bad = [] { return Status::Corruption("catalog: malformed"); };
  if (!in.GetFixed16(&version) || !in.GetFixed16(&flags) || !in.GetFixed64(&state.version)) return bad();
  if (version < kCatalogFormatVersionMin || version > kCatalogFormatVersion || flags != 0) {
    return Status::Corruption("catalog: unsupported version " + std::to_string(version));
  }
  if (!in.GetVarint64(&n) || n > in.remaining()) return bad();
  for (uint64_t i = 0; i < n; ++i) {
    TenantInfo t;
    if (!GetString(&in, &t.name)) return bad();
    state.tenants.push_back(std::move(t));
  }
  if (!in.GetVarint64(&n) || n > in.remaining()) return bad();
  for (uint64_t i = 0; i < n; ++i) {
    DatabaseInfo d;
    if (!GetString(&in, &d.id) || !GetString(&in, &d.name) || !GetString(&in, &d.tenant)) return bad();
    state.databases.push_back(std::move(d));
  }
  if (!in.GetVarint64(&n) || n > in.remaining() || n > limits::kCollectionsMax) return bad();
  for (uint64_t i = 0; i < n; ++i) {
    CatalogCollection c;
    uint8_t has_metadata, space;
    if (!GetString(&in, &c.id) || !GetString(&in, &c.name) || !GetString(&in, &c.tenant) ||
        !GetString(&in, &c.database) || !in.GetU8(&has_metadata) || has_metadata > 1) {
      return bad();
    }
    if (has_metadata) {
      Metadata m;
      if (!DecodeMetadata(&in, &m)) return bad();
      c.metadata = std::move(m);
    }
    if (!in.GetU8(&space) || space > 2 || !GetString(&in, &c.configuration_json, limits::kCatalogConfigurationBytesMax)) return bad();
    c.space = static_cast<DistanceSpace>(space);
    if (version >= 2 && !GetTextAnalyzer(&in, &c.text_analyzer)) return bad();
    if (version >= 3) {
      uint8_t has_sparse_key;
      if (!in.GetU8(&has_sparse_key) || has_sparse_key > 1) return bad();
      if (has_sparse_key == 1) {
        std::string key;
        if (!GetString(&in, &key, limits::kMetadataKeyBytesMax)) return bad();
        c.sparse_key = std::move(key);
      }
    }
    state.collections.push_back(std::move(c));
  }
  if (!in.empty()) return bad();
  return state;
}

Result<CatalogState> CatalogStore::Load() {
  const Clock::TimePoint started = clock_->Now();
  FATHOM_ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, store_->List("catalog/"));
  if (objects.empty()) {
    current_version_ = 0;
    confirmed_at_ = started;
    return CatalogState{};
  }
  const std::string& latest = objects.back().key;
  FATHOM_ASSIGN_OR_RETURN(std::string bytes, store_->Get(latest));
  auto state = DecodeCatalog(bytes);
  if (!state.ok()) return state.status().WithContext(latest);
  if (CatalogKey(state->version) != latest) {
    return Status::Corruption(latest + ": holds catalog version " + std::to_string(state->version));
  }
  current_version_ = state->version;
  confirmed_at_ = started;
  return state;
}

Status CatalogStore::Commit(CatalogState* next) {
  const Clock::TimePoint started = clock_->Now();
  next->version = current_version_ + 1;
  const std::string key = CatalogKey(next->version);
  FATHOM_ASSIGN_OR_RETURN(std::string bytes, EncodeCatalog(*next));
  FATHOM_RETURN_IF_ERROR(CommitObject(*store_, key, bytes));
  // A writer whose view is older than the versions already pruned could re-create an old
  // key: such a commit is not the latest, so it is withdrawn and reported as lost.
  auto listed = store_->List("catalog/", key, 1);
  for (int attempt = 1; !listed.ok() && attempt < limits::kStorePutAttemptsMax; ++attempt) {
    listed = store_->List("catalog/", key, 1);
  }
  // Still unknown whether it is the latest: the caller reloads before deciding anything.
  FATHOM_RETURN_IF_ERROR(listed.status().WithContext("catalog commit check"));
  const std::vector<ObjectInfo>& newer = *listed;
  if (!newer.empty()) {
    (void)store_->Delete(key);
    return Status::AlreadyExists("catalog changed concurrently (found " + newer[0].key + ")");
  }
  current_version_ = next->version;
  confirmed_at_ = started;
  DeleteSuperseded();
  return Status::Ok();
}

Result<bool> CatalogStore::NewerExists(uint64_t version) {
  const Clock::TimePoint started = clock_->Now();
  bool newer;
  if (confirmed_at_ && version == current_version_ && started - *confirmed_at_ < grace_ / 2) {
    // catalog/<version+1> can be gone only if it was written after the confirmation and
    // superseded and kept for a grace period since: more than half a grace from now.
    auto next = store_->Get(CatalogKey(version + 1));
    if (!next.ok() && !next.status().IsNotFound()) return next.status().WithContext("catalog check");
    newer = next.ok();
  } else {
    FATHOM_ASSIGN_OR_RETURN(std::vector<ObjectInfo> listed, store_->List("catalog/", CatalogKey(version), 1));
    newer = !listed.empty();
  }
  if (!newer && version == current_version_) confirmed_at_ = started;
  return newer;
}

void CatalogStore::DeleteSuperseded() {
  if (current_version_ <= limits::kCatalogVersionsKept) return;
  auto old = store_->List("catalog/", "", 0);
  if (!old.ok()) return;  // tried again at the next commit
  const std::string keep_from = CatalogKey(current_version_ - limits::kCatalogVersionsKept + 1);
  const Clock::TimePoint now = clock_->Now();
  std::unordered_map<std::string, Clock::TimePoint> still;
  std::vector<std::string> due;
  std::vector<Clock::TimePoint> due_since;
  for (const ObjectInfo& o : *old) {
    if (o.key >= keep_from) break;
    auto found = superseded_since_.find(o.key);
    const Clock::TimePoint since = found == superseded_since_.end() ? now : found->second;
    if (now - since >= grace_) {
      due.push_back(o.key);
      due_since.push_back(since);
    } else {
      still.emplace(o.key, since);
    }
  }
  const std::vector<Status> deleted = store_->DeleteMany(due);
  for (size_t i = 0; i < due.size(); ++i) {
    if (!deleted[i].ok()) still.emplace(due[i], due_since[i]);
  }
  superseded_since_ = std::move(still);
}

}  // namespace fathom
