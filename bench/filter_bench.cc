// filter_bench: metadata filters on one large collection through the C++ API, with the
// peers the engine issue's bar names measured in the same process on the same data:
//
//   get    Collection::Get with a `where` (ids only) at selectivities of about 50 %, 10 %,
//          1 % and 0.1 %: the first 100 ids, every matching id, and Collection::Count
//          with the same `where`
//          vs  SQLite (SELECT id ... LIMIT 100, SELECT id, SELECT COUNT(*); in memory, one
//          column per metadata key, a (tag, row) table for the array, an index on every
//          column, ANALYZE, one prepared statement per query)
//   k-NN   Collection::Query with the same kind of `where` at 10 %, 1 %, 0.1 %, swept over
//          search_effort  vs  hnswlib (M=16, ef_construction=200, one index over every
//          row) searching with a filter functor over a precomputed bitset, ef swept;
//          recall@k against exact filtered k-NN by brute force over the allowed rows.
//
// Each record: a synthetic clustered vector (bench_data.h, the data of collection_bench)
// and metadata drawn from a seeded generator: a high-cardinality string (`user`, about two
// records per value), a skewed low-cardinality category (20 values, Zipf), an int
// (`views`, uniform 0..999999), a float (`price`, uniform 0..1000 in cents), a bool
// (`in_stock`, 60 % true) and an array of strings (`tags`, 0-4 of 50, Zipf; absent when 0).
// Metadata are independent of the vectors. Every count fathom returns is checked against
// SQLite's COUNT(*) and the generator's own bitset: a disagreement prints MISMATCH.
//
// hnswlib's filter functor (searchKnn(query, k, isIdAllowed)) arrived in hnswlib 0.7;
// Debian ships 0.6.2, so HnswFilteredKnn below is that same search written against 0.6.2's
// public members (the bench checks it against 0.6.2's own searchKnn with every row allowed).
//
// Prints tables; not a test. Usage:
//   filter_bench --rows 1000000 --dim 128 [--hnsw-cache /tmp/hnsw-1m.bin] [--no-hnsw]
//   filter_bench --rows 100000            (a quick run)
#include <hnswlib/hnswlib.h>
#include <sqlite3.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <queue>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_data.h"
#include "bench_util.h"
#include "fathom/db.h"
#include "hnsw_peer.h"
#include "index/vector/synthetic_data.h"

namespace {

using fathom::bench::Check;
using fathom::bench::Clock;
using fathom::bench::Die;
using fathom::bench::Seconds;
using fathom::bench::ThreadCpuSeconds;
using fathom::bench::ParseDoubles;

// A small seeded generator (splitmix64), one stream per row so metadata do not depend on
// the order rows are generated in.
struct SplitMix {
  uint64_t state;
  uint64_t Next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double Uniform() { return (Next() >> 11) * 0x1.0p-53; }
  uint64_t Below(uint64_t n) { return Next() % n; }
};

// ---------------------------------------------------------------- metadata

constexpr std::array<const char*, 20> kCategories = {
    "news",   "sports",   "tech",   "finance", "health",  "travel", "food",   "music",     "movies",  "books",
    "science", "politics", "gaming", "fashion", "autos",  "homes",  "education", "pets", "weather", "art"};
constexpr size_t kTagCount = 50;
constexpr size_t kTagsPerRecordMax = 4;
constexpr double kInStockFraction = 0.6;
constexpr int64_t kViewsMax = 1000000;  // exclusive
constexpr double kPriceMax = 1000.0;     // exclusive

std::string TagName(size_t tag) {
  char name[16];
  std::snprintf(name, sizeof(name), "tag%02zu", tag);
  return name;
}
std::string UserName(uint32_t user) { return "user_" + std::to_string(user); }

// Cumulative Zipf(1) weights over n values: value v has weight 1 / (v + 1).
std::vector<double> ZipfCumulative(size_t n) {
  std::vector<double> cumulative(n);
  double sum = 0;
  for (size_t v = 0; v < n; ++v) cumulative[v] = (sum += 1.0 / (v + 1));
  for (double& c : cumulative) c /= sum;
  return cumulative;
}
size_t DrawFrom(const std::vector<double>& cumulative, double u) {
  return std::min<size_t>(std::lower_bound(cumulative.begin(), cumulative.end(), u) - cumulative.begin(),
                          cumulative.size() - 1);
}

// The metadata of every record, one column per key (row i is record id "i").
struct Columns {
  std::vector<uint32_t> user;     // "user_<n>"
  std::vector<uint8_t> category;  // index into kCategories
  std::vector<int64_t> views;
  std::vector<double> price;
  std::vector<uint8_t> in_stock;
  std::vector<uint64_t> tags;  // bit t: the record has TagName(t)
  size_t rows() const { return user.size(); }
};

Columns GenerateMetadata(size_t rows, uint64_t seed) {
  const std::vector<double> category_cdf = ZipfCumulative(kCategories.size());
  const std::vector<double> tag_cdf = ZipfCumulative(kTagCount);
  const uint64_t users = std::max<uint64_t>(1, rows / 2);
  Columns c;
  c.user.resize(rows);
  c.category.resize(rows);
  c.views.resize(rows);
  c.price.resize(rows);
  c.in_stock.resize(rows);
  c.tags.resize(rows);
  for (size_t i = 0; i < rows; ++i) {
    SplitMix rng{fathom::MixSeed(seed ^ 0x6d657461ULL, i)};
    c.user[i] = static_cast<uint32_t>(rng.Below(users));
    c.category[i] = static_cast<uint8_t>(DrawFrom(category_cdf, rng.Uniform()));
    c.views[i] = static_cast<int64_t>(rng.Below(kViewsMax));
    c.price[i] = static_cast<double>(rng.Below(static_cast<uint64_t>(kPriceMax * 100))) / 100.0;
    c.in_stock[i] = rng.Uniform() < kInStockFraction;
    const size_t tag_count = rng.Below(kTagsPerRecordMax + 1);
    uint64_t mask = 0;
    while (static_cast<size_t>(std::popcount(mask)) < tag_count) mask |= uint64_t{1} << DrawFrom(tag_cdf, rng.Uniform());
    c.tags[i] = mask;
  }
  return c;
}

fathom::MetadataPatch MetadataOf(const Columns& c, size_t row) {
  fathom::MetadataPatch m;
  m["user"] = fathom::MetadataValue(UserName(c.user[row]));
  m["category"] = fathom::MetadataValue(std::string(kCategories[c.category[row]]));
  m["views"] = fathom::MetadataValue(c.views[row]);
  m["price"] = fathom::MetadataValue(c.price[row]);
  m["in_stock"] = fathom::MetadataValue(c.in_stock[row] != 0);
  if (c.tags[row] != 0) {
    std::vector<std::string> tags;
    for (size_t t = 0; t < kTagCount; ++t) {
      if ((c.tags[row] >> t) & 1) tags.push_back(TagName(t));
    }
    m["tags"] = fathom::MetadataValue(std::move(tags));
  }
  return m;
}

// ---------------------------------------------------------------- predicates

enum class Key : uint8_t { kUser, kCategory, kViews, kPrice, kInStock, kTags };
const char* KeyName(Key key) {
  switch (key) {
    case Key::kUser: return "user";
    case Key::kCategory: return "category";
    case Key::kViews: return "views";
    case Key::kPrice: return "price";
    case Key::kInStock: return "in_stock";
    case Key::kTags: return "tags";
  }
  return "?";
}

// One comparison; a predicate is the $and of its leaves (one leaf: the comparison alone).
struct Leaf {
  Key key;
  fathom::CompareOp op;
  std::vector<fathom::Scalar> operands;
};

struct Predicate {
  double target;     // the selectivity aimed at
  std::string kind;  // what the predicate exercises
  std::vector<Leaf> leaves;
  bool knn = false;  // also used for filtered k-NN
};

const char* OpName(fathom::CompareOp op) {
  switch (op) {
    case fathom::CompareOp::kEq: return "$eq";
    case fathom::CompareOp::kNe: return "$ne";
    case fathom::CompareOp::kGt: return "$gt";
    case fathom::CompareOp::kGte: return "$gte";
    case fathom::CompareOp::kLt: return "$lt";
    case fathom::CompareOp::kLte: return "$lte";
    case fathom::CompareOp::kIn: return "$in";
    case fathom::CompareOp::kNin: return "$nin";
    case fathom::CompareOp::kContains: return "$contains";
    case fathom::CompareOp::kNotContains: return "$not_contains";
  }
  return "?";
}
const char* SqlOp(fathom::CompareOp op) {
  switch (op) {
    case fathom::CompareOp::kEq: return "=";
    case fathom::CompareOp::kGt: return ">";
    case fathom::CompareOp::kGte: return ">=";
    case fathom::CompareOp::kLt: return "<";
    case fathom::CompareOp::kLte: return "<=";
    default: Die(std::string("no SQL for ") + OpName(op));
  }
}

std::string ScalarJson(const fathom::Scalar& s) {
  if (const auto* b = std::get_if<bool>(&s)) return *b ? "true" : "false";
  if (const auto* i = std::get_if<int64_t>(&s)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&s)) {
    char text[32];
    std::snprintf(text, sizeof(text), "%.2f", *d);
    return text;
  }
  return "\"" + std::get<std::string>(s) + "\"";
}

// The where clause as Chroma's JSON, for the tables (a long $in list is shortened).
std::string WhereJson(const Predicate& p) {
  auto leaf_json = [](const Leaf& l) {
    std::string value;
    if (l.op == fathom::CompareOp::kIn || l.op == fathom::CompareOp::kNin) {
      value = "[";
      for (size_t i = 0; i < l.operands.size() && i < 3; ++i) value += (i ? "," : "") + ScalarJson(l.operands[i]);
      if (l.operands.size() > 3) value += ",... " + std::to_string(l.operands.size()) + " values";
      value += "]";
    } else {
      value = ScalarJson(l.operands[0]);
    }
    return std::string("{\"") + KeyName(l.key) + "\":{\"" + OpName(l.op) + "\":" + value + "}}";
  };
  if (p.leaves.size() == 1) return leaf_json(p.leaves[0]);
  std::string out = "{\"$and\":[";
  for (size_t i = 0; i < p.leaves.size(); ++i) out += (i ? "," : "") + leaf_json(p.leaves[i]);
  return out + "]}";
}

fathom::Where ToWhere(const Predicate& p) {
  auto leaf_where = [](const Leaf& l) {
    fathom::Where w;
    w.kind = fathom::Where::Kind::kField;
    w.key = KeyName(l.key);
    w.op = l.op;
    w.operands = l.operands;
    return w;
  };
  if (p.leaves.size() == 1) return leaf_where(p.leaves[0]);
  fathom::Where w;
  w.kind = fathom::Where::Kind::kAnd;
  for (const Leaf& l : p.leaves) w.children.push_back(leaf_where(l));
  return w;
}

// The query after SELECT: records joined with one alias of tags per $contains (a record
// holds a tag at most once, so no row repeats), then the other leaves as the WHERE.
// Operands bind in the order the text names them (BindOperands).
std::string SqlFrom(const Predicate& p) {
  std::string joins, where;
  int alias = 0;
  for (const Leaf& l : p.leaves) {
    if (l.key == Key::kTags) {
      if (l.op != fathom::CompareOp::kContains) Die("tags: only $contains");
      const std::string t = "t" + std::to_string(alias++);
      joins += " JOIN tags " + t + " ON " + t + ".seq = records.seq AND " + t + ".tag = ?";
      continue;
    }
    where += where.empty() ? " WHERE " : " AND ";
    where += std::string("records.") + KeyName(l.key);
    if (l.op == fathom::CompareOp::kIn) {
      where += " IN (";
      for (size_t i = 0; i < l.operands.size(); ++i) where += i ? ",?" : "?";
      where += ")";
    } else {
      where += std::string(" ") + SqlOp(l.op) + " ?";
    }
  }
  return " FROM records" + joins + where;
}

void BindOperands(sqlite3_stmt* stmt, const Predicate& p) {
  int index = 1;
  auto bind = [&](const fathom::Scalar& s) {
    if (const auto* b = std::get_if<bool>(&s)) {
      sqlite3_bind_int(stmt, index++, *b ? 1 : 0);
    } else if (const auto* i = std::get_if<int64_t>(&s)) {
      sqlite3_bind_int64(stmt, index++, *i);
    } else if (const auto* d = std::get_if<double>(&s)) {
      sqlite3_bind_double(stmt, index++, *d);
    } else {
      const std::string& text = std::get<std::string>(s);
      sqlite3_bind_text(stmt, index++, text.c_str(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    }
  };
  for (bool joined : {true, false}) {
    for (const Leaf& l : p.leaves) {
      if ((l.key == Key::kTags) != joined) continue;
      for (const fathom::Scalar& s : l.operands) bind(s);
    }
  }
}

// Which rows a predicate selects, computed from the columns directly: the truth that
// fathom's and SQLite's answers are checked against.
std::vector<uint64_t> AllowedRows(const Predicate& p, const Columns& c, size_t* count) {
  std::vector<uint64_t> bits((c.rows() + 63) / 64, ~uint64_t{0});
  if (c.rows() % 64) bits.back() = (uint64_t{1} << (c.rows() % 64)) - 1;
  for (const Leaf& l : p.leaves) {
    std::vector<uint32_t> codes;  // category, tag or user numbers named by the operands
    for (const fathom::Scalar& s : l.operands) {
      if (!std::holds_alternative<std::string>(s)) continue;
      const std::string& text = std::get<std::string>(s);
      if (l.key == Key::kCategory) {
        codes.push_back(static_cast<uint32_t>(std::find(kCategories.begin(), kCategories.end(), text) -
                                              kCategories.begin()));
      } else if (l.key == Key::kTags) {
        codes.push_back(static_cast<uint32_t>(std::stoul(text.substr(3))));
      } else if (l.key == Key::kUser) {
        codes.push_back(static_cast<uint32_t>(std::stoul(text.substr(5))));
      }
    }
    std::sort(codes.begin(), codes.end());
    const bool is_number = l.key == Key::kViews || l.key == Key::kPrice;
    const double number = !is_number ? 0.0
                          : std::holds_alternative<int64_t>(l.operands[0])
                              ? static_cast<double>(std::get<int64_t>(l.operands[0]))
                              : std::get<double>(l.operands[0]);
    auto compare = [&](double v) {
      switch (l.op) {
        case fathom::CompareOp::kEq: return v == number;
        case fathom::CompareOp::kGt: return v > number;
        case fathom::CompareOp::kGte: return v >= number;
        case fathom::CompareOp::kLt: return v < number;
        case fathom::CompareOp::kLte: return v <= number;
        default: Die("unsupported numeric operator");
      }
    };
    for (size_t row = 0; row < c.rows(); ++row) {
      bool match = false;
      switch (l.key) {
        case Key::kUser: match = std::binary_search(codes.begin(), codes.end(), c.user[row]); break;
        case Key::kCategory: match = std::binary_search(codes.begin(), codes.end(), c.category[row]); break;
        case Key::kTags: match = (c.tags[row] >> codes.at(0)) & 1; break;
        case Key::kInStock: match = (c.in_stock[row] != 0) == std::get<bool>(l.operands[0]); break;
        case Key::kViews: match = compare(static_cast<double>(c.views[row])); break;
        case Key::kPrice: match = compare(c.price[row]); break;
      }
      if (!match) bits[row >> 6] &= ~(uint64_t{1} << (row & 63));
    }
  }
  *count = 0;
  for (uint64_t w : bits) *count += std::popcount(w);
  return bits;
}

// The predicates of the get table, chosen on the generated data so their selectivity is
// close to each target (categories and tags by their measured frequency); the ones marked
// knn are the k-NN filters (10 %, 1 %, 0.1 %).
std::vector<Predicate> ChoosePredicates(const Columns& c, uint64_t seed) {
  const double rows = static_cast<double>(c.rows());
  std::vector<double> category_fraction(kCategories.size()), tag_fraction(kTagCount);
  double in_stock_fraction = 0;
  for (size_t row = 0; row < c.rows(); ++row) {
    category_fraction[c.category[row]] += 1 / rows;
    in_stock_fraction += c.in_stock[row] / rows;
    for (uint64_t m = c.tags[row]; m != 0; m &= m - 1) tag_fraction[std::countr_zero(m)] += 1 / rows;
  }
  auto closest = [](const std::vector<double>& fractions, double target) {
    size_t best = 0;
    for (size_t i = 1; i < fractions.size(); ++i) {
      if (std::abs(std::log(fractions[i] / target)) < std::abs(std::log(fractions[best] / target))) best = i;
    }
    return best;
  };
  auto category = [](size_t i) { return fathom::Scalar(std::string(kCategories[i])); };
  auto cents = [](double v) { return fathom::Scalar(std::round(v * 100) / 100); };
  using Op = fathom::CompareOp;
  std::vector<Predicate> out;

  // ~50 %
  out.push_back({0.5, "int $lt", {{Key::kViews, Op::kLt, {int64_t{kViewsMax / 2}}}}});
  {
    std::vector<size_t> order(kCategories.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return category_fraction[a] > category_fraction[b]; });
    std::vector<fathom::Scalar> names;
    double sum = 0;
    for (size_t i : order) {
      if (!names.empty() && std::abs(sum + category_fraction[i] - 0.5) > std::abs(sum - 0.5)) break;
      names.push_back(category(i));
      sum += category_fraction[i];
    }
    out.push_back({0.5, "category $in", {{Key::kCategory, Op::kIn, names}}});
  }
  out.push_back({0.5, "$and bool, float $lt",
                 {{Key::kInStock, Op::kEq, {true}}, {Key::kPrice, Op::kLt, {cents(kPriceMax * 0.5 / in_stock_fraction)}}}});

  // ~10 %
  out.push_back({0.1, "float $gte", {{Key::kPrice, Op::kGte, {cents(kPriceMax * 0.9)}}}});
  const size_t category_10 = closest(category_fraction, 0.1);
  out.push_back({0.1, "category $eq", {{Key::kCategory, Op::kEq, {category(category_10)}}}, true});
  out.push_back({0.1, "tags $contains", {{Key::kTags, Op::kContains, {TagName(closest(tag_fraction, 0.1))}}}});

  // ~1 %
  out.push_back({0.01, "int range ($and)",
                 {{Key::kViews, Op::kGte, {int64_t{300000}}}, {Key::kViews, Op::kLt, {int64_t{310000}}}}});
  out.push_back({0.01, "$and category, float $lt",
                 {{Key::kCategory, Op::kEq, {category(category_10)}},
                  {Key::kPrice, Op::kLt, {cents(kPriceMax * 0.01 / category_fraction[category_10])}}}});
  out.push_back({0.01, "tags $contains", {{Key::kTags, Op::kContains, {TagName(closest(tag_fraction, 0.01))}}}, true});

  // ~0.1 %
  out.push_back({0.001, "float range ($and)", {{Key::kPrice, Op::kGte, {500.0}}, {Key::kPrice, Op::kLt, {501.0}}}});
  const size_t category_5 = closest(category_fraction, 0.05);
  out.push_back({0.001, "$and category, int $lt",
                 {{Key::kCategory, Op::kEq, {category(category_5)}},
                  {Key::kViews, Op::kLt,
                   {static_cast<int64_t>(std::llround(kViewsMax * 0.001 / category_fraction[category_5]))}}},
                true});
  {
    // Users hold about two records each, so rows / 2000 users select about 0.1 %.
    SplitMix rng{fathom::MixSeed(seed ^ 0x75736572ULL, 0)};
    const uint64_t users = std::max<uint64_t>(1, c.rows() / 2);
    std::vector<uint32_t> chosen;
    const size_t want = std::max<size_t>(1, c.rows() / 2000);
    while (chosen.size() < want && chosen.size() < users) {
      const auto u = static_cast<uint32_t>(rng.Below(users));
      if (std::find(chosen.begin(), chosen.end(), u) == chosen.end()) chosen.push_back(u);
    }
    std::vector<fathom::Scalar> names;
    for (uint32_t u : chosen) names.push_back(UserName(u));
    out.push_back({0.001, "user $in", {{Key::kUser, Op::kIn, names}}});
    out.push_back({2.0 / rows, "user $eq", {{Key::kUser, Op::kEq, {UserName(c.user[c.rows() / 3])}}}});
  }
  return out;
}

std::string Percent(double fraction) {
  char text[16];
  if (fraction >= 0.01) {
    std::snprintf(text, sizeof(text), "%.1f%%", fraction * 100);
  } else if (fraction >= 0.0001) {
    std::snprintf(text, sizeof(text), "%.2f%%", fraction * 100);
  } else {
    std::snprintf(text, sizeof(text), "%.4f%%", fraction * 100);
  }
  return text;
}

// ---------------------------------------------------------------- timing

// A query is repeated until it has run at least min_reps times and for at least
// min_seconds, or (a slow query) for max_seconds and at least 3 times; one untimed run
// comes first. The mean is reported.
struct RepeatPolicy {
  size_t min_reps = 20;
  double min_seconds = 0.5;
  double max_seconds = 4.0;
};

template <typename Fn>
double MeanMicros(const RepeatPolicy& policy, Fn&& run_once) {
  run_once();
  size_t reps = 0;
  const auto start = Clock::now();
  for (;;) {
    run_once();
    ++reps;
    const double elapsed = Seconds(start);
    if ((reps >= policy.min_reps && elapsed >= policy.min_seconds) || (elapsed >= policy.max_seconds && reps >= 3)) {
      return elapsed * 1e6 / reps;
    }
  }
}

// ---------------------------------------------------------------- SQLite peer

// One in-memory SQLite database holding the same records: records(seq INTEGER PRIMARY
// KEY, id, user, category, views, price, in_stock) and tags(seq, tag), an index on every
// metadata column and on (tag, seq), statistics gathered by ANALYZE.
class SqlitePeer {
 public:
  explicit SqlitePeer(const Columns& c) {
    if (sqlite3_open(":memory:", &db_) != SQLITE_OK) Die("sqlite3_open failed");
    Exec("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
         "CREATE TABLE records (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, user TEXT, category TEXT,"
         "  views INTEGER, price REAL, in_stock INTEGER);"
         "CREATE TABLE tags (seq INTEGER NOT NULL, tag TEXT NOT NULL);");
    Exec("BEGIN");
    sqlite3_stmt* record = Prepare("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)");
    sqlite3_stmt* tag = Prepare("INSERT INTO tags VALUES (?, ?)");
    for (size_t row = 0; row < c.rows(); ++row) {
      const std::string id = std::to_string(row), user = UserName(c.user[row]);
      sqlite3_bind_int64(record, 1, static_cast<int64_t>(row));
      sqlite3_bind_text(record, 2, id.c_str(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
      sqlite3_bind_text(record, 3, user.c_str(), static_cast<int>(user.size()), SQLITE_TRANSIENT);
      sqlite3_bind_text(record, 4, kCategories[c.category[row]], -1, SQLITE_STATIC);
      sqlite3_bind_int64(record, 5, c.views[row]);
      sqlite3_bind_double(record, 6, c.price[row]);
      sqlite3_bind_int(record, 7, c.in_stock[row]);
      Step(record);
      for (uint64_t m = c.tags[row]; m != 0; m &= m - 1) {
        const std::string name = TagName(std::countr_zero(m));
        sqlite3_bind_int64(tag, 1, static_cast<int64_t>(row));
        sqlite3_bind_text(tag, 2, name.c_str(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
        Step(tag);
      }
    }
    sqlite3_finalize(record);
    sqlite3_finalize(tag);
    Exec("COMMIT");
    Exec("CREATE INDEX records_user ON records(user); CREATE INDEX records_category ON records(category);"
         "CREATE INDEX records_views ON records(views); CREATE INDEX records_price ON records(price);"
         "CREATE INDEX records_in_stock ON records(in_stock); CREATE INDEX tags_tag ON tags(tag, seq);"
         "ANALYZE;");
  }
  ~SqlitePeer() { sqlite3_close(db_); }
  SqlitePeer(const SqlitePeer&) = delete;
  SqlitePeer& operator=(const SqlitePeer&) = delete;

  sqlite3_stmt* Prepare(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      Die("sqlite prepare: " + sql + ": " + sqlite3_errmsg(db_));
    }
    return stmt;
  }

  // The rows of one run of a prepared id query (column 0: the id text).
  static std::vector<std::string> Ids(sqlite3_stmt* stmt) {
    std::vector<std::string> ids;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      ids.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)),
                       static_cast<size_t>(sqlite3_column_bytes(stmt, 0)));
    }
    sqlite3_reset(stmt);
    return ids;
  }
  // EXPLAIN QUERY PLAN's steps, joined by "; ".
  std::string Plan(const std::string& sql, const Predicate& p) {
    sqlite3_stmt* stmt = Prepare("EXPLAIN QUERY PLAN " + sql);
    BindOperands(stmt, p);
    std::string plan;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      if (!plan.empty()) plan += "; ";
      plan += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3));
    }
    sqlite3_finalize(stmt);
    return plan;
  }
  static int64_t Count(sqlite3_stmt* stmt) {
    int64_t count = -1;
    if (sqlite3_step(stmt) == SQLITE_ROW) count = sqlite3_column_int64(stmt, 0);
    sqlite3_reset(stmt);
    return count;
  }

 private:
  void Exec(const char* sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) Die(std::string("sqlite: ") + error);
  }
  void Step(sqlite3_stmt* stmt) {
    if (sqlite3_step(stmt) != SQLITE_DONE) Die(std::string("sqlite insert: ") + sqlite3_errmsg(db_));
    sqlite3_reset(stmt);
  }
  sqlite3* db_ = nullptr;
};

// ---------------------------------------------------------------- hnswlib filtered search

// hnswlib's searchKnn(query, k, isIdAllowed) as of 0.7/0.8, over 0.6.2's public members:
// the greedy descent through the upper layers ignores the filter; the base-layer beam
// search walks through disallowed nodes but lets only allowed ones into the result set,
// and (unlike the unfiltered search) does not stop before that set holds ef nodes.
std::vector<uint32_t> HnswFilteredKnn(const hnswlib::HierarchicalNSW<float>& index, const float* query, size_t k,
                                      const uint64_t* allowed) {
  using Id = hnswlib::tableint;
  using Entry = std::pair<float, Id>;
  using Heap = std::priority_queue<Entry, std::vector<Entry>, hnswlib::HierarchicalNSW<float>::CompareByFirst>;
  if (index.cur_element_count == 0) return {};
  auto distance = [&](Id id) { return index.fstdistfunc_(query, index.getDataByInternalId(id), index.dist_func_param_); };
  auto is_allowed = [&](Id id) {
    return fathom::BitsetContains(allowed, static_cast<uint32_t>(index.getExternalLabel(id)));
  };
  Id entry = index.enterpoint_node_;
  float entry_distance = distance(entry);
  for (int level = index.maxlevel_; level > 0; --level) {
    for (bool changed = true; changed;) {
      changed = false;
      hnswlib::linklistsizeint* list = index.get_linklist(entry, level);
      const int size = index.getListCount(list);
      const Id* neighbours = reinterpret_cast<const Id*>(list + 1);
      for (int i = 0; i < size; ++i) {
        const float d = distance(neighbours[i]);
        if (d < entry_distance) {
          entry_distance = d;
          entry = neighbours[i];
          changed = true;
        }
      }
    }
  }

  const size_t ef = std::max(index.ef_, k);
  hnswlib::VisitedList* visited = index.visited_list_pool_->getFreeVisitedList();
  hnswlib::vl_type* mark = visited->mass;
  const hnswlib::vl_type tag = visited->curV;
  Heap top, candidates;  // candidates hold -distance, so the nearest is on top
  float bound = std::numeric_limits<float>::max();
  if (is_allowed(entry)) {
    bound = entry_distance;
    top.emplace(entry_distance, entry);
    candidates.emplace(-entry_distance, entry);
  } else {
    candidates.emplace(-bound, entry);
  }
  mark[entry] = tag;
  const char* level0 = index.data_level0_memory_;
  const size_t stride = index.size_data_per_element_;
  while (!candidates.empty()) {
    const Entry current = candidates.top();
    if (-current.first > bound && top.size() == ef) break;
    candidates.pop();
    const int* list = reinterpret_cast<const int*>(index.get_linklist0(current.second));
    const size_t size = index.getListCount(reinterpret_cast<hnswlib::linklistsizeint*>(const_cast<int*>(list)));
#ifdef USE_SSE
    _mm_prefetch(reinterpret_cast<const char*>(mark + list[1]), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(mark + list[1] + 64), _MM_HINT_T0);
    _mm_prefetch(level0 + list[1] * stride + index.offsetData_, _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(list + 2), _MM_HINT_T0);
#endif
    for (size_t j = 1; j <= size; ++j) {
      const Id id = static_cast<Id>(list[j]);
#ifdef USE_SSE
      _mm_prefetch(reinterpret_cast<const char*>(mark + list[j + 1]), _MM_HINT_T0);
      _mm_prefetch(level0 + list[j + 1] * stride + index.offsetData_, _MM_HINT_T0);
#endif
      if (mark[id] == tag) continue;
      mark[id] = tag;
      const float d = distance(id);
      if (top.size() < ef || bound > d) {
        candidates.emplace(-d, id);
#ifdef USE_SSE
        _mm_prefetch(level0 + candidates.top().second * stride + index.offsetLevel0_, _MM_HINT_T0);
#endif
        if (is_allowed(id)) top.emplace(d, id);
        if (top.size() > ef) top.pop();
        if (!top.empty()) bound = top.top().first;
      }
    }
  }
  index.visited_list_pool_->releaseVisitedList(visited);
  while (top.size() > k) top.pop();
  std::vector<uint32_t> labels(top.size());
  for (size_t i = labels.size(); i-- > 0; top.pop()) labels[i] = static_cast<uint32_t>(index.getExternalLabel(top.top().second));
  return labels;
}

// ---------------------------------------------------------------- the runs

struct Config {
  size_t batch = 5000;
  uint32_t k = 10;
  std::vector<double> efforts;
  std::vector<double> efs;
  double knn_seconds = 8;  // per setting: stop after this long (at least 20 queries)
  // Untimed queries before each setting's timed pass. The default, every query once,
  // measures the steady state: the first pass after a reopen fills fathom's block cache
  // from the cold parts (hnswlib holds everything in RAM from its load).
  int knn_warm_up = -1;  // -1: every query once
  RepeatPolicy repeat;
  std::string get_only;  // get: only the predicates whose kind contains this (empty: all)
  bool reuse_dir = false;  // open the collection an earlier run left in --dir instead of ingesting
};

fathom::Include IdsOnly() {
  return fathom::Include{.embeddings = false, .documents = false, .metadatas = false, .uris = false,
                         .distances = false};
}

// Every id names a row the predicate selects, and there are `expected` of them.
bool IdsMatch(const std::vector<std::string>& ids, const std::vector<uint64_t>& allowed, size_t expected) {
  if (ids.size() != expected) return false;
  for (const std::string& id : ids) {
    const unsigned long row = std::stoul(id);
    if (row >= allowed.size() * 64 || !fathom::BitsetContains(allowed.data(), static_cast<uint32_t>(row))) return false;
  }
  return true;
}

struct GetRow {
  const Predicate* predicate;
  size_t matches = 0;
  double fathom_limit_us = 0, sqlite_limit_us = 0;
  double fathom_all_us = 0, sqlite_all_us = 0, sqlite_count_us = 0, fathom_count_us = 0;
  std::string check;  // "ok", or what disagreed
  std::string sqlite_plan;  // of SELECT id ... LIMIT
};

void RunGets(const std::vector<Predicate>& predicates, const Columns& columns, fathom::Collection& col,
             const Config& config) {
  auto start = Clock::now();
  SqlitePeer sqlite(columns);
  std::printf("# SQLite: in memory, %zu records + tags table, an index per column, ANALYZE: loaded in %.1f s\n",
              columns.rows(), Seconds(start));
  std::fflush(stdout);
  constexpr uint32_t kLimit = 100;
  std::vector<GetRow> rows;
  for (const Predicate& p : predicates) {
    if (p.kind.find(config.get_only) == std::string::npos) continue;
    GetRow row;
    row.predicate = &p;
    const std::vector<uint64_t> allowed = AllowedRows(p, columns, &row.matches);
    const std::string from = SqlFrom(p);
    sqlite3_stmt* limit_stmt = sqlite.Prepare("SELECT records.id" + from + " LIMIT " + std::to_string(kLimit));
    sqlite3_stmt* all_stmt = sqlite.Prepare("SELECT records.id" + from);
    sqlite3_stmt* count_stmt = sqlite.Prepare("SELECT COUNT(*)" + from);
    for (sqlite3_stmt* s : {limit_stmt, all_stmt, count_stmt}) BindOperands(s, p);
    row.sqlite_plan = sqlite.Plan("SELECT records.id" + from, p);

    fathom::GetRequest limited{.where = ToWhere(p), .limit = kLimit, .include = IdsOnly()};
    fathom::GetRequest all{.where = ToWhere(p), .include = IdsOnly()};
    const fathom::CountRequest count{.where = ToWhere(p)};
    auto fathom_count = [&] {
      auto result = col.Count(count);
      Check(result.status(), "count");
      return *result;
    };
    auto fathom_ids = [&](const fathom::GetRequest& request) {
      auto result = col.Get(request);
      Check(result.status(), "get");
      return std::move(result->ids);
    };
    // Correctness first: every engine's answer against the generator's bitset.
    const size_t limited_expected = std::min<size_t>(kLimit, row.matches);
    const int64_t sqlite_count = SqlitePeer::Count(count_stmt);
    std::vector<std::string> problems;
    if (!IdsMatch(fathom_ids(all), allowed, row.matches)) problems.push_back("fathom all ids");
    if (!IdsMatch(fathom_ids(limited), allowed, limited_expected)) problems.push_back("fathom limit");
    if (sqlite_count != static_cast<int64_t>(row.matches)) problems.push_back("sqlite COUNT(*)");
    if (fathom_count() != row.matches) problems.push_back("fathom count");
    if (!IdsMatch(SqlitePeer::Ids(all_stmt), allowed, row.matches)) problems.push_back("sqlite all ids");
    if (!IdsMatch(SqlitePeer::Ids(limit_stmt), allowed, limited_expected)) problems.push_back("sqlite limit");
    row.check = "ok";
    if (!problems.empty()) {
      row.check = "MISMATCH";
      for (const std::string& what : problems) row.check += " " + what;
      std::printf("!!! MISMATCH on %s: %s (expected %zu matches, SQLite COUNT(*) %lld)\n", WhereJson(p).c_str(),
                  row.check.c_str(), row.matches, static_cast<long long>(sqlite_count));
    }

    row.fathom_limit_us = MeanMicros(config.repeat, [&] { (void)fathom_ids(limited); });
    row.sqlite_limit_us = MeanMicros(config.repeat, [&] { (void)SqlitePeer::Ids(limit_stmt); });
    row.fathom_all_us = MeanMicros(config.repeat, [&] { (void)fathom_ids(all); });
    row.sqlite_all_us = MeanMicros(config.repeat, [&] { (void)SqlitePeer::Ids(all_stmt); });
    row.sqlite_count_us = MeanMicros(config.repeat, [&] { (void)SqlitePeer::Count(count_stmt); });
    row.fathom_count_us = MeanMicros(config.repeat, [&] { (void)fathom_count(); });
    for (sqlite3_stmt* s : {limit_stmt, all_stmt, count_stmt}) sqlite3_finalize(s);
    std::fprintf(stderr, "# get %-26s done\n", p.kind.c_str());
    rows.push_back(row);
  }

  std::printf("\n## get with where, ids only, limit %u: mean us per query (fathom Collection::Get vs SQLite "
              "SELECT id ... LIMIT %u)\n", kLimit, kLimit);
  std::printf("%-7s %-9s %-26s %12s %12s %9s  %s\n", "target", "measured", "kind", "fathom_us", "sqlite_us",
              "f/sqlite", "where");
  for (const GetRow& r : rows) {
    std::printf("%-7s %-9s %-26s %12.1f %12.1f %9.2f  %s\n", Percent(r.predicate->target).c_str(),
                Percent(double(r.matches) / columns.rows()).c_str(), r.predicate->kind.c_str(), r.fathom_limit_us,
                r.sqlite_limit_us, r.fathom_limit_us / r.sqlite_limit_us, WhereJson(*r.predicate).c_str());
  }
  // A table of whole-match timings: one fathom and one SQLite column of GetRow.
  auto print_matches = [&](const char* heading, double GetRow::*fathom_us, double GetRow::*sqlite_us) {
    std::printf("%s", heading);
    std::printf("%-7s %-9s %-26s %9s %12s %12s %9s  %s\n", "target", "measured", "kind", "matches", "fathom_us",
                "sqlite_us", "f/sqlite", "check");
    for (const GetRow& r : rows) {
      std::printf("%-7s %-9s %-26s %9zu %12.1f %12.1f %9.2f  %s\n", Percent(r.predicate->target).c_str(),
                  Percent(double(r.matches) / columns.rows()).c_str(), r.predicate->kind.c_str(), r.matches,
                  r.*fathom_us, r.*sqlite_us, r.*fathom_us / r.*sqlite_us, r.check.c_str());
    }
  };
  print_matches("\n## get with where, every matching id (no limit): mean us per query\n"
                "#   fathom: Collection::Get, include nothing; SQLite: SELECT id (all rows fetched)\n",
                &GetRow::fathom_all_us, &GetRow::sqlite_all_us);
  print_matches("\n## count with where: mean us per query\n"
                "#   fathom: Collection::Count(CountRequest{.where}); SQLite: SELECT COUNT(*)\n",
                &GetRow::fathom_count_us, &GetRow::sqlite_count_us);
  std::printf("# SQLite plans (EXPLAIN QUERY PLAN of SELECT id):\n");
  for (const GetRow& r : rows) std::printf("#   %-26s %s\n", r.predicate->kind.c_str(), r.sqlite_plan.c_str());
  std::fflush(stdout);
}

// One k-NN filter: its bitset, its exact truth and the best settings found.
struct KnnCase {
  const Predicate* predicate;
  std::vector<uint64_t> allowed;
  size_t matches = 0;
  std::vector<std::vector<uint32_t>> truth;
};

struct KnnPoint {
  std::string setting;
  double recall = 0, qps = 0;
  size_t queries = 0;
  // Queries per second of the querying thread's CPU time: on a shared, loaded machine
  // wall-clock QPS measures the scheduler's share as much as the engine.
  double cpu_qps = 0;
};

// Runs `search` over the queries in order (at least 20, at most all, stopping after
// knn_seconds), timing the whole pass after an untimed warm-up (knn_warm_up); recall over
// the queries answered.
template <typename Search>
KnnPoint MeasureKnn(const std::string& setting, const fathom::Dataset& queries, const KnnCase& c,
                    const Config& config, Search&& search) {
  const size_t warm = config.knn_warm_up < 0 ? queries.rows : std::min<size_t>(config.knn_warm_up, queries.rows);
  const auto warm_start = Clock::now();
  for (size_t q = 0; q < warm; ++q) {
    (void)search(queries.Row(q));
    if (q >= 3 && Seconds(warm_start) > config.knn_seconds) break;  // a slow setting warms for as long as it is timed
  }
  std::vector<std::vector<uint32_t>> found;
  const auto start = Clock::now();
  const double cpu_start = ThreadCpuSeconds();
  for (size_t q = 0; q < queries.rows; ++q) {
    found.push_back(search(queries.Row(q)));
    if (found.size() >= 20 && Seconds(start) > config.knn_seconds) break;
  }
  const double elapsed = Seconds(start);
  const double cpu = ThreadCpuSeconds() - cpu_start;
  const std::vector<std::vector<uint32_t>> truth(c.truth.begin(), c.truth.begin() + found.size());
  return {setting, fathom::RecallAtK(truth, found, config.k), found.size() / elapsed, found.size(),
          found.size() / cpu};
}

void PrintKnnPoint(const KnnCase& c, const char* engine, const KnnPoint& p, size_t rows) {
  std::printf("%-7s %-9s %-8s %-14s %10.4f %10.1f %10.1f %8zu\n", Percent(c.predicate->target).c_str(),
              Percent(double(c.matches) / rows).c_str(), engine, p.setting.c_str(), p.recall, p.qps, p.cpu_qps,
              p.queries);
  std::fflush(stdout);
}

void PrintKnnHeader() {
  std::printf("%-7s %-9s %-8s %-14s %10s %10s %10s %8s\n", "target", "measured", "engine", "setting", "recall@k", "QPS",
              "cpu_QPS", "queries");
}

// The fastest point (by CPU time) at or above the recall bar, as text.
std::string BestAt(const std::vector<KnnPoint>& points, double recall_bar) {
  const KnnPoint* best = nullptr;
  for (const KnnPoint& p : points) {
    if (p.recall >= recall_bar && (best == nullptr || p.cpu_qps > best->cpu_qps)) best = &p;
  }
  if (best == nullptr) return "none reaches it";
  char text[128];
  std::snprintf(text, sizeof(text), "%.1f QPS, %.1f cpu_QPS (%s, recall %.4f)", best->qps, best->cpu_qps,
                best->setting.c_str(), best->recall);
  return text;
}

// Ingests every record through Collection::Add, compacts (the vector index is built),
// closes, and returns a fresh open of the directory, as a restarted server would see it.
std::unique_ptr<fathom::Database> LoadFathom(fathom::DatabaseOptions options, const fathom::Dataset& base,
                                             const Columns& columns, const Config& config, bool bulk) {
  options.background_compaction = !bulk;
  auto start = Clock::now();
  if (!config.reuse_dir) {
    auto db = fathom::Database::Open(options);
    Check(db.status(), "open");
    auto col = (*db)->CreateCollection(fathom::Database::kDefaultTenant, fathom::Database::kDefaultDatabase,
                                       {.name = "bench"});
    Check(col.status(), "create");
    for (size_t first = 0; first < base.rows; first += config.batch) {
      std::vector<fathom::WriteRecord> batch;
      for (size_t i = first; i < std::min(base.rows, first + config.batch); ++i) {
        fathom::WriteRecord r;
        r.id = std::to_string(i);
        r.embedding = std::vector<float>(base.Row(i), base.Row(i) + base.dim);
        r.metadata = MetadataOf(columns, i);
        batch.push_back(std::move(r));
      }
      Check((*col)->Add(std::move(batch)), "add");
    }
    const double ingest_s = Seconds(start);
    start = Clock::now();
    Check((*col)->Compact(), "compact");
    std::printf("# fathom: ingest %.1f s (%.0f records/s), compact %.1f s\n", ingest_s, base.rows / ingest_s,
                Seconds(start));
  }
  options.background_compaction = true;
  start = Clock::now();
  auto db = fathom::Database::Open(options);
  Check(db.status(), "reopen");
  auto col = (*db)->GetCollection(fathom::Database::kDefaultTenant, fathom::Database::kDefaultDatabase, "bench");
  Check(col.status(), "get collection");
  auto stats = (*col)->IndexStats();  // opens (recovers) the collection
  Check(stats.status(), "stats");
  std::printf("# fathom: reopen %.1f s; index %s, %u clusters, plan %s, default probes %u, rerank x%u, "
              "calibrated recall %.3f; %llu indexed / %llu pending rows; %llu hot / %llu cold vectors\n",
              Seconds(start), stats->active ? "active" : "inactive", stats->clusters,
              stats->plan == fathom::VectorIndexStats::Plan::kIndex ? "index" : "exact scan", stats->default_probes,
              stats->default_rerank_factor, stats->calibrated_recall,
              static_cast<unsigned long long>(stats->indexed_rows), static_cast<unsigned long long>(stats->pending_rows),
              static_cast<unsigned long long>(stats->hot_vectors), static_cast<unsigned long long>(stats->cold_vectors));
  (*db)->WaitIdle();
  std::fflush(stdout);
  return std::move(*db);
}

std::vector<KnnPoint> FathomKnn(const fathom::Collection& col, const KnnCase& c, const fathom::Dataset& queries,
                                const Config& config, size_t rows) {
  fathom::QueryRequest request;
  request.n_results = config.k;
  request.where = ToWhere(*c.predicate);
  request.include = IdsOnly();
  request.query_embeddings.resize(1);
  std::vector<KnnPoint> points;
  for (double effort : config.efforts) {
    request.search_effort = effort;
    char setting[32];
    std::snprintf(setting, sizeof(setting), "effort %g", effort);
    points.push_back(MeasureKnn(setting, queries, c, config, [&](const float* q) {
      request.query_embeddings[0].assign(q, q + queries.dim);
      auto result = col.Query(request);
      Check(result.status(), "query");
      std::vector<uint32_t> found;
      for (const std::string& id : result->rows[0].ids) found.push_back(static_cast<uint32_t>(std::stoul(id)));
      return found;
    }));
    PrintKnnPoint(c, "fathom", points.back(), rows);
  }
  std::printf("# %s where %s\n", c.predicate->kind.c_str(), WhereJson(*c.predicate).c_str());
  return points;
}

// hnswlib over `base`, from `cache` when it holds these vectors (count and a sample
// compared), else built with `threads` and saved to `cache` (when named).
bench::HnswPeer LoadOrBuildHnsw(const fathom::Dataset& base, const std::string& cache, int threads, uint64_t seed) {
  const auto start = Clock::now();
  bench::HnswPeer peer;
  bool loaded = false;
  if (!cache.empty() && std::filesystem::exists(cache)) {
    peer.l2 = std::make_unique<hnswlib::L2Space>(base.dim);
    peer.index = std::make_unique<hnswlib::HierarchicalNSW<float>>(peer.l2.get(), cache, false, base.rows);
    loaded = peer.index->cur_element_count == base.rows;
    for (size_t i = 0; loaded && i < base.rows; i += std::max<size_t>(1, base.rows / 97)) {
      const std::vector<float> stored = peer.index->getDataByLabel<float>(i);
      loaded = std::equal(stored.begin(), stored.end(), base.Row(i));
    }
    if (!loaded) std::printf("# hnswlib cache %s holds other data: rebuilding\n", cache.c_str());
  }
  if (!loaded) {
    peer = bench::BuildHnsw(base.values.data(), base.rows, base.dim, fathom::DistanceSpace::kL2, threads, seed);
    if (!cache.empty()) peer.index->saveIndex(cache);
  }
  std::printf("\n## hnswlib M=16 ef_construction=200 (%s in %.1f s, %d threads), filter functor over the same "
              "bitset\n", loaded ? "loaded" : "built", Seconds(start), threads);
  return peer;
}

// HnswFilteredKnn with every row allowed against hnswlib's own searchKnn at the same ef.
void CheckFilterPort(hnswlib::HierarchicalNSW<float>& index, const fathom::Dataset& queries, size_t k) {
  std::vector<uint64_t> everything((index.cur_element_count + 63) / 64, ~uint64_t{0});
  index.setEf(80);
  size_t same = 0, total = 0;
  for (size_t q = 0; q < std::min<size_t>(queries.rows, 50); ++q) {
    const std::vector<uint32_t> mine = HnswFilteredKnn(index, queries.Row(q), k, everything.data());
    for (auto theirs = index.searchKnn(queries.Row(q), k); !theirs.empty(); theirs.pop()) {
      same += std::count(mine.begin(), mine.end(), static_cast<uint32_t>(theirs.top().second));
      ++total;
    }
  }
  std::printf("# filter port check: every row allowed, ef 80: %zu of %zu ids as hnswlib's searchKnn\n", same, total);
}

std::vector<KnnPoint> HnswKnn(hnswlib::HierarchicalNSW<float>& index, const KnnCase& c, const fathom::Dataset& queries,
                              const Config& config, size_t rows) {
  std::vector<KnnPoint> points;
  for (double ef : config.efs) {
    index.setEf(static_cast<size_t>(ef));
    char setting[32];
    std::snprintf(setting, sizeof(setting), "ef %g", ef);
    points.push_back(MeasureKnn(setting, queries, c, config, [&](const float* q) {
      return HnswFilteredKnn(index, q, config.k, c.allowed.data());
    }));
    PrintKnnPoint(c, "hnswlib", points.back(), rows);
  }
  return points;
}

void PrintKnnSummary(const std::vector<KnnCase>& cases, const std::vector<std::vector<KnnPoint>>& fathom_points,
                     const std::vector<std::vector<KnnPoint>>& hnsw_points, uint32_t k) {
  std::printf("\n## filtered k-NN summary: the fastest setting at recall@%u >= 0.95\n", k);
  for (size_t i = 0; i < cases.size(); ++i) {
    std::printf("%-7s %-26s fathom: %s\n", Percent(cases[i].predicate->target).c_str(),
                cases[i].predicate->kind.c_str(), BestAt(fathom_points[i], 0.95).c_str());
    if (hnsw_points[i].empty()) continue;
    const auto best = std::max_element(hnsw_points[i].begin(), hnsw_points[i].end(),
                                       [](const KnnPoint& a, const KnnPoint& b) { return a.recall < b.recall; });
    std::printf("%-7s %-26s hnswlib: %s; max recall %.4f (%s, %.1f QPS)\n", "", "", BestAt(hnsw_points[i], 0.95).c_str(),
                best->recall, best->setting.c_str(), best->qps);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const auto run_start = Clock::now();
  CLI::App app{"filter_bench"};
  size_t rows = 100000, queries = 200;
  uint32_t dim = 128;
  uint64_t seed = 1;
  int threads = 2;
  bool hnsw = true, gets = true, knn = true, bulk = true;
  std::string dir, hnsw_cache, efforts = "0.5,1,2,4,8,16", efs = "10,20,40,80,160,320";
  Config config;
  fathom::SyntheticOptions data_options = bench::BenchDataOptions();
  bench::AddDataOptions(app, &data_options);
  app.add_option("--rows,--n", rows, "records");
  app.add_option("--dim", dim, "dimension");
  app.add_option("--queries", queries, "k-NN queries (exact filtered ground truth by brute force)");
  app.add_option("--k", config.k, "n_results");
  app.add_option("--batch", config.batch, "records per Add");
  app.add_option("--seed", seed, "data and metadata seed");
  app.add_option("--threads", threads, "threads for data generation, ground truth and the hnswlib build");
  app.add_option("--efforts", efforts, "fathom search_effort values (comma-separated)");
  app.add_option("--ef", efs, "hnswlib ef values (comma-separated)");
  app.add_option("--knn-seconds", config.knn_seconds,
                 "per k-NN setting: stop after this many seconds (at least 20 queries; recall over those run)");
  app.add_option("--knn-warm-up", config.knn_warm_up,
                 "per k-NN setting: untimed queries first (-1: every query once, at most --knn-seconds)");
  app.add_option("--min-reps", config.repeat.min_reps, "get: at least this many timed runs per query ...");
  app.add_option("--min-seconds", config.repeat.min_seconds, "get: ... and at least this long ...");
  app.add_option("--max-seconds", config.repeat.max_seconds, "get: ... unless a query has run this long (and 3 times)");
  app.add_option("--get-only", config.get_only, "get: only the predicates whose kind contains this text");
  app.add_flag("--reuse-dir", config.reuse_dir,
               "with --dir: open the collection an earlier run (same --rows, --dim, --seed) left there, no ingest");
  app.add_option("--dir", dir, "fathom working directory (default: a new temp dir, removed after)");
  app.add_option("--hnsw-cache", hnsw_cache,
                 "hnswlib index file: loaded when present (checked against the data), else built and saved there");
  app.add_flag("!--no-hnsw", hnsw, "skip hnswlib (its 1M x 128 build takes minutes on 2 cores)");
  app.add_flag("!--no-get", gets, "skip the get table (and SQLite)");
  app.add_flag("!--no-knn", knn, "skip filtered k-NN");
  app.add_flag("!--no-bulk", bulk,
               "ingest with background compaction on (default: off while ingesting, one index build at Compact)");
  CLI11_PARSE(app, argc, argv);
  config.efforts = ParseDoubles(efforts);
  config.efs = ParseDoubles(efs);
  const bool own_dir = dir.empty();
  if (own_dir) {
    char tmpl[] = "/tmp/filter_bench.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) Die("mkdtemp failed");
    dir = tmpl;
  }

  std::printf("# filter_bench: rows=%zu dim=%u queries=%zu k=%u l2 seed=%llu; single-threaded queries; "
              "fathom default DatabaseOptions%s\n",
              rows, dim, queries, config.k, static_cast<unsigned long long>(seed),
              bulk ? " (background compaction off while ingesting)" : "");
  std::printf("# metadata: user (string, ~2 records per value), category (20 values, Zipf), views (int 0..999999), "
              "price (float 0..1000, cents), in_stock (bool, 60%% true), tags (0-4 of 50, Zipf)\n");
  data_options.rows = rows;
  data_options.queries = queries;
  data_options.dim = dim;
  data_options.seed = seed;
  data_options.threads = threads;
  bench::PrintDataOptions(data_options);
  std::printf("# load average at start: %s (%u cores)\n", fathom::bench::LoadAverages().c_str(), std::thread::hardware_concurrency());
  auto start = Clock::now();
  auto generated = fathom::GenerateSynthetic(data_options);
  Check(generated.status(), "generate");
  const fathom::SyntheticData& data = *generated;
  const Columns columns = GenerateMetadata(rows, seed);
  const std::vector<Predicate> predicates = ChoosePredicates(columns, seed);
  std::vector<KnnCase> knn_cases;
  if (knn) {
    for (const Predicate& p : predicates) {
      if (!p.knn) continue;
      KnnCase c{&p};
      c.allowed = AllowedRows(p, columns, &c.matches);
      c.truth = fathom::ExactTopK(data.base, data.queries, config.k, fathom::DistanceSpace::kL2, c.allowed.data(),
                                  threads);
      knn_cases.push_back(std::move(c));
    }
  }
  std::printf("# data, metadata and exact filtered ground truth in %.1f s\n", Seconds(start));
  std::fflush(stdout);

  fathom::DatabaseOptions options;
  options.path = dir + "/fathom";
  std::unique_ptr<fathom::Database> db = LoadFathom(options, data.base, columns, config, bulk);
  auto col = db->GetCollection(fathom::Database::kDefaultTenant, fathom::Database::kDefaultDatabase, "bench");
  Check(col.status(), "get collection");

  if (gets) RunGets(predicates, columns, **col, config);

  std::vector<std::vector<KnnPoint>> fathom_points, hnsw_points(knn_cases.size());
  if (knn) {
    std::printf("\n## filtered k-NN, k=%u: fathom Collection::Query with the where, search_effort swept; recall@k "
                "against exact filtered truth; QPS one thread over the queries run\n", config.k);
    PrintKnnHeader();
    for (const KnnCase& c : knn_cases) fathom_points.push_back(FathomKnn(**col, c, data.queries, config, rows));
  }
  col->reset();
  db.reset();  // the engine's memory and threads go before hnswlib's build

  if (knn && hnsw) {
    bench::HnswPeer peer = LoadOrBuildHnsw(data.base, hnsw_cache, threads, seed);
    CheckFilterPort(*peer.index, data.queries, config.k);
    PrintKnnHeader();
    for (size_t i = 0; i < knn_cases.size(); ++i) {
      hnsw_points[i] = HnswKnn(*peer.index, knn_cases[i], data.queries, config, rows);
    }
  }
  if (knn) PrintKnnSummary(knn_cases, fathom_points, hnsw_points, config.k);
  if (own_dir) std::filesystem::remove_all(dir);
  std::printf("# total wall-clock %.1f s; load average at end: %s\n", Seconds(run_start), fathom::bench::LoadAverages().c_str());
  return 0;
}
