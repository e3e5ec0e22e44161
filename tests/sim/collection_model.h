// A tiny, obviously-correct model of one collection's semantics (chroma.md 1.7), used by
// the simulation and crash tests to check the engine. Written independently of
// db/record_table so the two can disagree.
#pragma once

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fathom/db.h"

namespace fathom::testing {

struct ModelRecord {
  uint64_t order = 0;
  std::vector<float> embedding;
  std::optional<std::string> document;
  std::optional<std::string> uri;
  Metadata metadata;  // empty = none
};

class CollectionModel {
 public:
  void Add(const std::vector<WriteRecord>& records) {
    for (const WriteRecord& r : records) {
      if (records_.count(r.id)) continue;
      Insert(r);
    }
  }
  void Upsert(const std::vector<WriteRecord>& records) {
    for (const WriteRecord& r : records) {
      if (records_.count(r.id)) {
        Merge(r);
      } else {
        Insert(r);
      }
    }
  }
  void Update(const std::vector<WriteRecord>& records) {
    for (const WriteRecord& r : records) {
      if (records_.count(r.id)) Merge(r);
    }
  }
  void Delete(const std::vector<std::string>& ids) {
    for (const std::string& id : ids) records_.erase(id);
  }
  // Deletes (up to limit) records whose integer metadata "n" is below `bound`, in order.
  uint64_t DeleteWhereNBelow(int64_t bound, uint64_t limit) {
    uint64_t n = 0;
    for (const std::string& id : OrderedIds()) {
      if (n >= limit) break;
      const auto& md = records_.at(id).metadata;
      auto it = md.find("n");
      if (it != md.end() && std::holds_alternative<int64_t>(it->second) && std::get<int64_t>(it->second) < bound) {
        records_.erase(id);
        ++n;
      }
    }
    return n;
  }

  std::vector<std::string> OrderedIds() const {
    std::vector<std::pair<uint64_t, std::string>> v;
    for (const auto& [id, r] : records_) v.push_back({r.order, id});
    std::sort(v.begin(), v.end());
    std::vector<std::string> out;
    for (auto& p : v) out.push_back(p.second);
    return out;
  }
  const std::map<std::string, ModelRecord>& records() const { return records_; }
  bool operator==(const CollectionModel& o) const { return Same(o); }

  // Compares everything a full Get returns; returns "" when equal, else a description.
  std::string Diff(const GetResult& got) const {
    std::vector<std::string> ids = OrderedIds();
    if (got.ids != ids) return "ids differ: got " + Join(got.ids) + " want " + Join(ids);
    for (size_t i = 0; i < ids.size(); ++i) {
      const ModelRecord& r = records_.at(ids[i]);
      if (got.embeddings[i] != r.embedding) return "embedding of " + ids[i];
      if (got.documents[i] != r.document) return "document of " + ids[i];
      if (got.uris[i] != r.uri) return "uri of " + ids[i];
      // As Chroma: a record with a URI has metadata, empty if nothing else ({} not null).
      std::optional<Metadata> want =
          r.metadata.empty() && !r.uri ? std::nullopt : std::optional<Metadata>(r.metadata);
      if (got.metadatas[i] != want) return "metadata of " + ids[i];
    }
    return "";
  }

 private:
  static std::string Join(const std::vector<std::string>& v) {
    std::string s = "[";
    for (const auto& x : v) s += x + ",";
    return s + "]";
  }
  bool Same(const CollectionModel& o) const {
    if (records_.size() != o.records_.size()) return false;
    for (const auto& [id, r] : records_) {
      auto it = o.records_.find(id);
      if (it == o.records_.end()) return false;
      const ModelRecord& q = it->second;
      if (r.embedding != q.embedding || r.document != q.document || r.uri != q.uri || r.metadata != q.metadata) {
        return false;
      }
    }
    return OrderedIds() == o.OrderedIds();
  }
  static void Patch(Metadata* md, const MetadataPatch& patch) {
    for (const auto& [k, v] : patch) {
      if (v) {
        (*md)[k] = *v;
      } else {
        md->erase(k);
      }
    }
  }
  void Insert(const WriteRecord& r) {
    ModelRecord m;
    m.order = next_order_++;
    m.embedding = *r.embedding;
    m.document = r.document;
    m.uri = r.uri;
    if (r.metadata) Patch(&m.metadata, *r.metadata);
    records_[r.id] = std::move(m);
  }
  void Merge(const WriteRecord& r) {
    ModelRecord& m = records_[r.id];
    if (r.embedding) m.embedding = *r.embedding;
    if (r.document) m.document = r.document;
    if (r.uri) m.uri = r.uri;
    if (r.metadata) Patch(&m.metadata, *r.metadata);
  }

  std::map<std::string, ModelRecord> records_;
  uint64_t next_order_ = 0;
};

// Random operations over a small id space, so ids collide often.
class OperationGenerator {
 public:
  explicit OperationGenerator(uint64_t seed, int dimension = 4) : rng_(seed), dimension_(dimension) {}

  std::string Id() { return "id" + std::to_string(Uniform(0, 40)); }
  std::vector<float> Embedding() {
    std::vector<float> v(dimension_);
    for (float& x : v) x = static_cast<float>(Uniform(-8, 8)) / 4.0f;
    return v;
  }
  WriteRecord Record(bool full) {
    WriteRecord r;
    r.id = Id();
    if (full || Chance(0.5)) r.embedding = Embedding();
    if (full ? Chance(0.8) : Chance(0.4)) r.document = "doc " + std::to_string(Uniform(0, 1000));
    if (Chance(0.2)) r.uri = "uri://" + std::to_string(Uniform(0, 100));
    if (Chance(0.7)) {
      MetadataPatch patch;
      int keys = Uniform(1, 3);
      for (int k = 0; k < keys; ++k) {
        switch (Uniform(0, 4)) {
          case 0: patch["n"] = MetadataValue(int64_t{Uniform(0, 10)}); break;
          case 1: patch["f"] = MetadataValue(Uniform(0, 100) / 8.0); break;
          case 2: patch["s"] = MetadataValue(std::string(1, static_cast<char>('a' + Uniform(0, 5)))); break;
          case 3: patch["b"] = MetadataValue(Chance(0.5)); break;
          case 4: patch["tags"] = MetadataValue(std::vector<std::string>{"x", std::to_string(Uniform(0, 3))}); break;
        }
        if (!full && Chance(0.2)) patch[Chance(0.5) ? "n" : "s"] = std::nullopt;  // delete a key
      }
      r.metadata = std::move(patch);
    }
    return r;
  }
  std::vector<WriteRecord> Batch(bool full) {
    std::vector<WriteRecord> out;
    int n = Uniform(1, 5);
    for (int i = 0; i < n; ++i) out.push_back(Record(full));
    return out;
  }
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
  int dimension_;
};

inline GetRequest FullGet() {
  GetRequest r;
  r.include = Include{.embeddings = true, .documents = true, .metadatas = true, .uris = true};
  return r;
}

inline Where NBelow(int64_t bound) {
  Where w;
  w.kind = Where::Kind::kField;
  w.key = "n";
  w.op = CompareOp::kLt;
  w.operands = {Scalar(bound)};
  return w;
}

}  // namespace fathom::testing
