// Random metadata, documents and where / where_document trees for property tests of the
// filter path. Small value pools so predicates collide with the data: a few keys, ints and
// floats that meet on the number line (1 and 1.0, 2^53 and 2^53 + 1), -0.0, strings,
// bools, arrays with repeated elements, missing keys and missing metadata.
#pragma once

#include <cctype>
#include <cmath>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "fathom/types.h"

namespace fathom::testing {

class RandomWhere {
 public:
  explicit RandomWhere(uint64_t seed) : rng_(seed) {}

  size_t Below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  std::string Key() { return kKeys[Below(std::size(kKeys))]; }

  Scalar AnyScalar() {
    switch (Below(4)) {
      case 0: return Scalar(Chance(0.5));
      case 1: return Scalar(Int());
      case 2: return Scalar(Float());
      default: return Scalar(String());
    }
  }
  Scalar Number() { return Chance(0.5) ? Scalar(Int()) : Scalar(Float()); }

  MetadataValue Value() {
    const size_t n = 1 + Below(3);
    switch (Below(8)) {
      case 0: return Chance(0.5);
      case 1: return Int();
      case 2: return Float();
      case 3: return String();
      case 4: { std::vector<bool> v; for (size_t i = 0; i < n; ++i) v.push_back(Chance(0.5)); return v; }
      case 5: { std::vector<int64_t> v; for (size_t i = 0; i < n; ++i) v.push_back(Int()); return v; }
      case 6: { std::vector<double> v; for (size_t i = 0; i < n; ++i) v.push_back(Float()); return v; }
      default: { std::vector<std::string> v; for (size_t i = 0; i < n; ++i) v.push_back(String()); return v; }
    }
  }

  std::optional<Metadata> MaybeMetadata() {
    if (Chance(0.15)) return std::nullopt;
    Metadata m;
    const size_t keys = 1 + Below(3);
    for (size_t i = 0; i < keys; ++i) m[Key()] = Value();
    return m;
  }

  // MaybeMetadata() as the patch an add or upsert carries.
  std::optional<MetadataPatch> MaybeMetadataPatch() {
    std::optional<Metadata> m = MaybeMetadata();
    if (!m) return std::nullopt;
    MetadataPatch patch;
    for (auto& [k, v] : *m) patch[k] = std::move(v);
    return patch;
  }

  // A patch for an update: sets, overwrites or deletes (nullopt) a few keys.
  MetadataPatch Patch() {
    MetadataPatch p;
    const size_t keys = 1 + Below(2);
    for (size_t i = 0; i < keys; ++i) {
      if (Chance(0.25)) {
        p[Key()] = std::nullopt;
      } else {
        p[Key()] = Value();
      }
    }
    return p;
  }

  std::optional<std::string> Document() {
    if (Chance(0.2)) return std::nullopt;
    std::string d;
    const size_t words = 1 + Below(3);
    for (size_t i = 0; i < words; ++i) d += std::string(i ? " " : "") + kWords[Below(std::size(kWords))];
    return d;
  }

  // A where tree of at most `depth` levels; ids are drawn from `ids`.
  Where Clause(int depth, const std::vector<std::string>& ids) {
    Where w;
    const size_t pick = Below(depth > 0 ? 10 : 7);
    if (pick >= 7) {
      w.kind = pick == 7 ? Where::Kind::kOr : Where::Kind::kAnd;
      const size_t n = 1 + Below(3);
      for (size_t i = 0; i < n; ++i) w.children.push_back(Clause(depth - 1, ids));
      return w;
    }
    if (pick == 6 && !ids.empty()) {
      w.kind = Where::Kind::kId;
      static constexpr CompareOp kOps[] = {CompareOp::kEq, CompareOp::kNe, CompareOp::kIn, CompareOp::kNin};
      w.op = kOps[Below(4)];
      const size_t n = (w.op == CompareOp::kIn || w.op == CompareOp::kNin) ? 1 + Below(3) : 1;
      for (size_t i = 0; i < n; ++i) w.operands.push_back(Chance(0.8) ? ids[Below(ids.size())] : "missing");
      return w;
    }
    if (pick == 5) {
      w.kind = Where::Kind::kDocument;
      w.document.push_back(DocumentClause(0));
      return w;
    }
    w.kind = Where::Kind::kField;
    w.key = Key();
    static constexpr CompareOp kOps[] = {CompareOp::kEq,  CompareOp::kNe,  CompareOp::kGt,       CompareOp::kGte,
                                         CompareOp::kLt,  CompareOp::kLte, CompareOp::kIn,       CompareOp::kNin,
                                         CompareOp::kContains, CompareOp::kNotContains};
    w.op = kOps[Below(std::size(kOps))];
    switch (w.op) {
      case CompareOp::kGt:
      case CompareOp::kGte:
      case CompareOp::kLt:
      case CompareOp::kLte:
        w.operands.push_back(Number());
        break;
      case CompareOp::kIn:
      case CompareOp::kNin: {
        const size_t n = 1 + Below(3);
        for (size_t i = 0; i < n; ++i) w.operands.push_back(AnyScalar());
        break;
      }
      default:
        w.operands.push_back(AnyScalar());
    }
    return w;
  }

  WhereDocument DocumentClause(int depth) {
    WhereDocument d;
    const size_t pick = Below(depth > 0 ? 6 : 4);
    if (pick >= 4) {
      d.kind = pick == 4 ? WhereDocument::Kind::kAnd : WhereDocument::Kind::kOr;
      const size_t n = 1 + Below(2);
      for (size_t i = 0; i < n; ++i) d.children.push_back(DocumentClause(depth - 1));
      return d;
    }
    static constexpr WhereDocument::Kind kKinds[] = {WhereDocument::Kind::kContains, WhereDocument::Kind::kNotContains,
                                                     WhereDocument::Kind::kRegex, WhereDocument::Kind::kNotRegex};
    d.kind = kKinds[pick];
    d.pattern = kWords[Below(std::size(kWords))];
    if (d.kind == WhereDocument::Kind::kContains || d.kind == WhereDocument::Kind::kNotContains) {
      // Words, spans across words and case variants: short and long patterns exercise
      // the trigram index's narrowing and its fallback.
      if (Chance(0.3)) d.pattern = std::string(d.pattern) + " " + kWords[Below(std::size(kWords))];
      if (Chance(0.2)) d.pattern[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(d.pattern[0])));
    } else {
      static constexpr const char* kRegexForms[] = {"^%", "%", "(?i)%", "%|fox", "%.*dog", "f.x|%", "%s?$"};
      std::string form = kRegexForms[Below(std::size(kRegexForms))];
      form.replace(form.find('%'), 1, d.pattern);
      d.pattern = form;
    }
    return d;
  }

 private:
  int64_t Int() {
    static constexpr int64_t kInts[] = {-2, 0, 1, 2, 3, 9007199254740993, INT64_MAX, INT64_MIN};
    return kInts[Below(std::size(kInts))];
  }
  double Float() {
    static constexpr double kFloats[] = {-2.0, -0.0, 0.0, 0.5, 1.0, 2.5, 9007199254740992.0, 1e300};
    return kFloats[Below(std::size(kFloats))];
  }
  std::string String() {
    static const char* kStrings[] = {"x", "y", "z", "", "1"};
    return kStrings[Below(std::size(kStrings))];
  }

  static constexpr const char* kKeys[] = {"a", "b", "c", "d"};
  static constexpr const char* kWords[] = {"fox", "dog", "cat", "fo", "Fox", "foxes", "DOG"};
  std::mt19937_64 rng_;
};

}  // namespace fathom::testing
