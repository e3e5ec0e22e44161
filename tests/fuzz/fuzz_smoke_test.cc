// Runs every fuzz target over seeded mutations of valid encodings, and over the committed
// regression corpus (tests/fuzz/corpus/<target>/*). Prints its seed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "common/random.h"
#include "fuzz/fuzz_targets.h"
#include "test_util.h"

namespace fathom::fuzz {
namespace {

std::string ValidWal() {
  OperationBatch ops(3);
  ops[0].type = OpType::kAdd;
  ops[0].record.id = "a";
  ops[0].record.embedding = std::vector<float>{1, 2, 3};
  ops[0].record.document = "doc";
  ops[0].record.metadata = MetadataPatch{{"k", MetadataValue(std::vector<std::string>{"x", "y"})},
                                         {"d", std::nullopt},
                                         {"s", MetadataValue(SparseVector{{1, 9}, {0.5f, 2}, {"a", "b"}})}};
  ops[1].type = OpType::kUpdate;
  ops[1].record.id = "b";
  ops[1].record.uri = "u";
  ops[2].type = OpType::kDelete;
  ops[2].record.id = "c";
  return EncodeWalObject(9, ops, 9).value();
}

std::string ValidSegment() {
  RecordsSegmentWriter w(2);
  Row r;
  r.id = "a";
  r.document = "d";
  r.metadata = Metadata{{"n", int64_t{1}}, {"f", std::vector<double>{1.5}}, {"s", SparseVector{{3}, {1.0f}, {}}}};
  float v[2] = {1, 2};
  w.AddRow(r, v);
  w.AddTombstone("gone");
  return w.Finish().value();
}

std::string ValidManifest() {
  Manifest m;
  m.version = 2;
  m.segments.push_back({NewUuidV4(), 1, 1, 100});
  m.vector_index = VectorIndexRef{NewUuidV4(), 1, 4096};
  m.cold_parts.push_back({NewUuidV4(), 2, 300});
  m.text_index = TextIndexRef{NewUuidV4(), 1, 900};
  m.sparse_index = SparseIndexRef{NewUuidV4(), 1, 700};
  return EncodeManifest(m).value();
}

std::string ValidCatalog() {
  CatalogState s;
  s.tenants = {{"t1"}};
  s.databases = {{NewUuidV4(), "db", "t1"}};
  CatalogCollection c;
  c.id = NewUuidV4();
  c.name = "col";
  c.metadata = Metadata{{"a", true}};
  c.configuration_json = "{}";
  s.collections.push_back(c);
  // A second collection with text analyzer options makes this a version 2 catalog.
  c.id = NewUuidV4();
  c.name = "stemmed";
  c.text_analyzer = TextAnalyzerOptions{true, "english", {"the", "a"}};
  s.collections.push_back(c);
  // A third with a sparse vector key makes it a version 3 catalog.
  c.id = NewUuidV4();
  c.name = "sparse";
  c.sparse_key = "sp";
  s.collections.push_back(c);
  return EncodeCatalog(s).value();
}

std::string ValidMetadataValues() {
  std::string out;
  Metadata m{{"b", true},
             {"i", int64_t{-3}},
             {"s", std::string("text")},
             {"sa", std::vector<std::string>{"x", ""}},
             {"sp", SparseVector{{0, 7, 4000000000u}, {1.5f, -2, 0}, {}}},
             {"st", SparseVector{{2}, {0.25f}, {"token"}}}};
  if (!EncodeMetadata(&out, m).ok()) return std::string();
  return out;
}

std::string ValidDropRecord() { return *EncodeDropRecord({NewUuidV4(), NewUuidV4()}); }

std::string ValidCachePage() { return *EncodeCachePage(CachePage{"segments/abc/0001", 3, 64, "page bytes"}); }

std::string ValidVectorIndex() {
  std::vector<float> data(64 * 8);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<float>((i * 7919) % 101) / 10.0f;
  auto index = IvfIndex::Build(MatrixView{data.data(), 64, 8}, IvfBuildOptions{.clusters = 4});
  return index.ok() ? index->Serialize() : std::string();
}

std::string ValidS3Xml() {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
         "<Name>b</Name><IsTruncated>true</IsTruncated><!-- c --><Contents><Key>p/a&amp;b&#x41;</Key><Size>5</Size>"
         "</Contents><Contents><Key><![CDATA[p/c]]></Key><Size>0</Size></Contents>"
         "<NextContinuationToken>tok</NextContinuationToken></ListBucketResult>";
}

std::string ValidVectorFile() {
  std::vector<float> data(20 * 6);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<float>(i) / 3.0f;
  std::vector<uint64_t> tags(20);
  for (size_t i = 0; i < tags.size(); ++i) tags[i] = i * 11;
  auto bytes = VectorFile::Encode(MatrixView{data.data(), 20, 6}, tags.data(), 96);  // 4 rows per block
  return bytes.ok() ? *bytes : std::string();
}

std::string ValidTextIndex() {
  InvertedIndex index;
  for (uint32_t slot = 0; slot < 300; ++slot) {
    std::vector<std::string> tokens;
    for (uint32_t i = 0; i < slot % 7; ++i) tokens.push_back("t" + std::to_string((slot * 31 + i * 17) % (1 + i * 5)));
    if (slot % 5 != 0) index.Insert(slot, tokens);
  }
  index.Seal();
  TextIndexObject object;
  object.analyzer.stemmer = "english";
  object.analyzer.stop_words = {"the"};
  object.image = index.TakeSealed(300);
  // Trigram lists in array containers (every third document) and run containers (every
  // document); bitmap containers need more than 4096 slots in one chunk.
  object.trigrams.emplace();
  for (uint32_t key : {0x616263u, 0x746865u, 0x746f30u}) {  // "abc", "the", "to0": ascending
    Roaring slots;
    for (uint32_t slot = 0; slot < 300; ++slot) {
      if (object.image.has_document[slot] && (key != 0x616263u || slot % 3 == 0)) slots.add(slot);
    }
    slots.runOptimize();
    object.trigrams->emplace_back(key, std::move(slots));
  }
  auto bytes = EncodeTextIndexObject(object);
  return bytes.ok() ? *bytes : std::string();
}

// Byte-level mutations in the style of libFuzzer's: flips, sets, inserts, erases, splices
// of length fields.
std::string Mutate(std::string s, std::mt19937_64& rng) {
  int n = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < n; ++i) {
    size_t pos = s.empty() ? 0 : rng() % s.size();
    switch (rng() % 6) {
      case 0: if (!s.empty()) s[pos] ^= static_cast<char>(1u << (rng() % 8)); break;
      case 1: if (!s.empty()) s[pos] = static_cast<char>(rng()); break;
      case 2: s.insert(pos, 1, static_cast<char>(rng())); break;
      case 3: if (!s.empty()) s.erase(pos, 1 + rng() % 8); break;
      case 4: if (!s.empty()) s[pos] = static_cast<char>(0xff); break;  // huge varints / lengths
      case 5: s.resize(rng() % (s.size() + 1)); break;
    }
  }
  return s;
}

// Two dimensions with several blocks each, rows without postings, negative weights.
std::string ValidSparseIndex() {
  SparseIndex index("sparse");
  std::vector<std::optional<Metadata>> rows(700);
  for (uint32_t slot = 0; slot < 700; ++slot) {
    if (slot % 9 == 0) continue;
    SparseVector v;
    for (uint32_t d : {0u, 2u, 7u, 1000u}) {
      if ((slot + d) % 3 == 0) continue;
      v.indices.push_back(d);
      v.values.push_back(static_cast<float>(static_cast<int>(slot % 23) - 11) / 4.0f);
    }
    rows[slot] = Metadata{{"sparse", MetadataValue(std::move(v))}};
    static const std::string id = "x";
    static const std::optional<std::string> no_document;
    index.BulkAdd(slot, RecordView{id, no_document, rows[slot]});
  }
  index.Seal();
  SparseIndexObject object;
  object.key = "sparse";
  object.vector_rows = index.vector_count();
  object.offsets_hash = 1;
  object.vectors_hash = 2;
  object.image = index.MakeImage(nullptr, 700);
  auto bytes = EncodeSparseIndexObject(object);
  return bytes.ok() ? *bytes : std::string();
}

struct Target {
  const char* name;
  void (*fn)(std::string_view);
  std::string (*seed)();
};

const Target kTargets[] = {
    {"wal", FuzzWal, ValidWal},
    {"segment", FuzzSegment, ValidSegment},
    {"segment_reader", FuzzSegmentReader, ValidSegment},
    {"manifest", FuzzManifest, ValidManifest},
    {"catalog", FuzzCatalog, ValidCatalog},
    {"drop_record", FuzzDropRecord, ValidDropRecord},
    {"cache_page", FuzzCachePage, ValidCachePage},
    {"metadata_values", FuzzMetadataValues, ValidMetadataValues},
    {"vector_index", FuzzVectorIndex, ValidVectorIndex},
    {"vector_index_envelope", FuzzVectorIndexEnvelope, VectorIndexEnvelopeOfTable},
    {"vector_file", FuzzVectorFile, ValidVectorFile},
    {"s3_xml", FuzzS3Xml, ValidS3Xml},
    {"text_index", FuzzTextIndex, ValidTextIndex},
    {"sparse_index", FuzzSparseIndex, ValidSparseIndex},
};

TEST(FuzzSmokeTest, MutatedInputsNeverCrash) {
  uint64_t seed = testing::SeedForTest("FuzzSmokeTest.MutatedInputsNeverCrash");
  std::mt19937_64 rng(seed);
  for (const Target& t : kTargets) {
    std::string valid = t.seed();
    ASSERT_FALSE(valid.empty()) << t.name;
    t.fn(valid);
    for (int i = 0; i < 20000; ++i) t.fn(Mutate(valid, rng));
  }
}

TEST(FuzzSmokeTest, RegressionCorpus) {
  const char* src = std::getenv("FATHOM_SOURCE_DIR");
  if (src == nullptr) src = FATHOM_SOURCE_DIR_DEFAULT;
  size_t files = 0;
  for (const Target& t : kTargets) {
    std::filesystem::path dir = std::filesystem::path(src) / "tests/fuzz/corpus" / t.name;
    if (!std::filesystem::exists(dir)) continue;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      std::ifstream in(entry.path(), std::ios::binary);
      std::stringstream bytes;
      bytes << in.rdbuf();
      t.fn(bytes.str());
      ++files;
    }
  }
  std::printf("corpus files: %zu\n", files);
}

// Writes the valid seed encodings into tests/fuzz/corpus/ (run by hand after a format
// change: fathom_tests --gtest_also_run_disabled_tests --gtest_filter=*WriteSeedCorpus).
TEST(FuzzSmokeTest, DISABLED_WriteSeedCorpus) {
  const char* src = std::getenv("FATHOM_SOURCE_DIR");
  if (src == nullptr) src = FATHOM_SOURCE_DIR_DEFAULT;
  for (const Target& t : kTargets) {
    std::filesystem::path dir = std::filesystem::path(src) / "tests/fuzz/corpus" / t.name;
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "seed-valid", std::ios::binary) << t.seed();
  }
}

}  // namespace
}  // namespace fathom::fuzz
