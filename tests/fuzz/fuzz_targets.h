// Fuzz targets: every decoder of untrusted bytes, each as a function of a byte string.
// They run under libFuzzer (tests/fuzz/libfuzzer/, `make fuzz`) and, in every
// `make test`, under fuzz_smoke_test.cc (seeded mutations of valid encodings plus the
// committed corpus in tests/fuzz/corpus/). A decoder may return an error; it must never
// crash, hang, read out of bounds or trip a sanitizer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "catalog/drop_record.h"
#include "common/assert.h"
#include "common/checksum.h"
#include "common/coding.h"
#include "common/value_coding.h"
#include "db/collection_vector_index.h"
#include "db/record_table.h"
#include "db/vector_index_envelope.h"
#include "index/sparse/sparse_index_format.h"
#include "index/text/text_index_format.h"
#include "index/vector/ivf_index.h"
#include "index/vector/vector_file.h"
#include "io/cache_page.h"
#include "io/random_reader.h"
#include "io/s3_xml.h"
#include "storage/manifest.h"
#include "storage/records_segment.h"
#include "storage/records_segment_reader.h"
#include "wal/wal_format.h"

namespace fathom::fuzz {

// Random bytes almost never carry a valid checksum, which would stop the fuzzer at the
// first check; so formats with one trailing XXH3 are decoded twice: as given, and with
// the trailer recomputed, to reach the parsers behind the checksum.
inline std::string WithFixedChecksum(std::string_view bytes) {
  std::string fixed(bytes);
  if (fixed.size() < 8) return fixed;
  std::string_view body(fixed.data(), fixed.size() - 8);
  uint64_t sum = Checksum64(body);
  EncodeFixed64(fixed.data() + body.size(), sum);
  return fixed;
}

inline void FuzzWal(std::string_view bytes) {
  (void)DecodeWalObject(bytes);
  (void)DecodeWalObject(WithFixedChecksum(bytes));
}

inline void FuzzSegment(std::string_view bytes) {
  uint64_t entries = 0;
  (void)ReadRecordsSegment(bytes, [&](SegmentEntry&) { ++entries; });
}

inline void FuzzManifest(std::string_view bytes) {
  (void)DecodeManifest(bytes);
  (void)DecodeManifest(WithFixedChecksum(bytes));
}

inline void FuzzCatalog(std::string_view bytes) {
  (void)DecodeCatalog(bytes);
  (void)DecodeCatalog(WithFixedChecksum(bytes));
}

// Metadata values (docs/format/values.md), as a whole map and as a patch. Whatever decodes
// must encode again: the encoders enforce the limits the decoders check.
inline void FuzzMetadataValues(std::string_view bytes) {
  Decoder in(bytes);
  Metadata metadata;
  if (DecodeMetadata(&in, &metadata)) {
    std::string again;
    FATHOM_CHECK(EncodeMetadata(&again, metadata).ok());
  }
  Decoder patch_in(bytes);
  MetadataPatch patch;
  if (DecodeMetadataPatch(&patch_in, &patch)) {
    std::string again;
    FATHOM_CHECK(EncodeMetadataPatch(&again, patch).ok());
  }
}

inline void FuzzCachePage(std::string_view bytes) {
  (void)DecodeCachePage(bytes);
  (void)DecodeCachePage(WithFixedChecksum(bytes));
}

inline void FuzzDropRecord(std::string_view bytes) {
  (void)DecodeDropRecord(bytes);
  (void)DecodeDropRecord(WithFixedChecksum(bytes));
}

inline void FuzzVectorIndex(std::string_view bytes) { (void)IvfIndex::Deserialize(bytes); }

// The record table the collection envelope target loads into: 64 live rows of 8 floats,
// built once. The seed envelope (VectorIndexEnvelopeOfTable) is this table's, so its
// mutations get past the decoder to Load's checks against the table, and the ones Load
// takes are searched.
inline constexpr uint32_t kEnvelopeTableDim = 8;
inline RecordTable& VectorIndexEnvelopeTable() {
  static RecordTable* const table = [] {
    auto* t = new RecordTable;
    t->set_dimension(kEnvelopeTableDim);
    for (uint32_t i = 0; i < 64; ++i) {
      Operation op;
      op.type = OpType::kAdd;
      op.record.id = "r" + std::to_string(i);
      std::vector<float> v(kEnvelopeTableDim);
      for (uint32_t j = 0; j < kEnvelopeTableDim; ++j) v[j] = static_cast<float>((i * 7919 + j * 31) % 101) / 10.0f;
      op.record.embedding = std::move(v);
      t->Apply(std::move(op));
    }
    return t;
  }();
  return *table;
}

// A valid current-version envelope of `table`'s live rows (slot r = the r-th live row):
// `clusters` clusters, a calibrated budget (2 probes, re-rank x10), a last full build of
// `built_rows` rows (0: the live rows).
inline std::string VectorIndexEnvelopeOf(const RecordTable& table, uint32_t clusters, uint64_t built_rows = 0) {
  const uint32_t dim = table.dimension().value_or(0);
  std::vector<float> rows;
  for (size_t slot = 0; slot < table.slot_count(); ++slot) {
    if (!table.live()[slot]) continue;
    const float* v = table.vectors().Approx(slot, nullptr);
    rows.insert(rows.end(), v, v + dim);
  }
  const size_t n = table.live_count();
  auto index = IvfIndex::Build(MatrixView{rows.data(), n, dim}, IvfBuildOptions{.clusters = clusters});
  FATHOM_CHECK(index.ok());
  VectorIndexEnvelopeHeader header;
  header.live_rows = n;
  header.offsets_hash = LiveOffsetsHash(table);
  header.covered_rows = index->rows();
  header.budget = SearchBudget{.plan = SearchBudget::Plan::kIndex,
                               .probes = 2,
                               .rerank_factor = 10,
                               .sample_queries = 32,
                               .recall_target = 0.95f,
                               .measured_recall = 0.97f,
                               .recall_lower_bound = 0.93f,
                               .calibrated_rows = static_cast<uint32_t>(n)};
  header.built_rows = built_rows != 0 ? built_rows : n;
  auto bytes = EncodeVectorIndexEnvelope(header, *index);
  FATHOM_CHECK(bytes.ok());
  return *bytes;
}

// The seed of the envelope target: VectorIndexEnvelopeTable()'s envelope.
inline std::string VectorIndexEnvelopeOfTable() { return VectorIndexEnvelopeOf(VectorIndexEnvelopeTable(), 4); }

// A collection's vector index object (docs/format/vector_index.md, "Collection
// envelope"): whatever decodes encodes again (the encoder keeps the decoder's rules) to
// bytes that decode to the same header; and CollectionVectorIndex::Load over the fuzz
// table refuses the bytes or installs an index that answers a query.
inline void FuzzVectorIndexEnvelopeOnce(std::string_view bytes) {
  auto decoded = DecodeVectorIndexEnvelope(bytes);
  // Load decodes first: bytes the decoder refuses reach nothing more.
  if (!decoded.ok()) return;
  VectorIndexEnvelopeHeader header = decoded->header;
  // Versions 1 and 2 did not record the last full build; the current one must.
  if (header.built_rows == 0) header.built_rows = std::max<uint64_t>(1, decoded->index.rows());
  auto again = EncodeVectorIndexEnvelope(header, decoded->index);
  FATHOM_CHECK(again.ok());
  auto redecoded = DecodeVectorIndexEnvelope(*again);
  FATHOM_CHECK(redecoded.ok() && redecoded->header.live_rows == header.live_rows &&
               redecoded->header.covered_rows == header.covered_rows &&
               redecoded->header.built_rows == header.built_rows && redecoded->index.rows() == decoded->index.rows());
  RecordTable& table = VectorIndexEnvelopeTable();
  CollectionVectorIndex index(/*min_rows=*/16);
  if (!index.Load(table, std::string(bytes)).ok()) {
    FATHOM_CHECK(!index.has_index());
    return;
  }
  FATHOM_CHECK(index.has_index() && index.covered_rows() <= table.live_count());
  const std::vector<float> query(kEnvelopeTableDim, 1.0f);
  auto hits = index.Search(table, DistanceSpace::kL2, query.data(), 10, nullptr, VectorSearchKnobs{});
  FATHOM_CHECK(hits.ok() && hits->size() <= 10);
  for (const Hit& h : *hits) FATHOM_CHECK(h.slot < table.slot_count() && table.live()[h.slot]);
}

inline void FuzzVectorIndexEnvelope(std::string_view bytes) {
  FuzzVectorIndexEnvelopeOnce(bytes);
  std::string fixed(bytes);
  RecomputeVectorIndexEnvelopeChecksumForTesting(&fixed);
  FuzzVectorIndexEnvelopeOnce(fixed);
}

// A persisted text index (docs/format/text-index.md): as given, and with every checksum
// recomputed to reach the structural checks; whatever decodes must load into an index,
// search, and encode again to bytes that decode (what fathom writes, it reads).
// The persisted text index object, version 1 or 2 (with its trigram section): decoded
// parts must encode and decode again, load and answer.
inline void FuzzTextIndexOnce(std::string_view bytes) {
  auto decoded = DecodeTextIndexObject(bytes);
  if (!decoded.ok()) return;
  auto again = EncodeTextIndexObject(*decoded);
  FATHOM_CHECK(again.ok());
  auto redecoded = DecodeTextIndexObject(*again);
  FATHOM_CHECK(redecoded.ok() && redecoded->trigrams.has_value() == decoded->trigrams.has_value());
  InvertedIndex index;
  index.LoadSealed(std::move(decoded->image), nullptr);
  (void)index.Search({"a", "b", "t0", "t1"}, 10, nullptr, Bm25Params{});
  if (decoded->trigrams) {
    TrigramIndex trigrams;
    trigrams.LoadSealed(std::move(*decoded->trigrams));
    (void)trigrams.ContainsCandidates("the t0 a");
    (void)trigrams.EstimateContains("abc");
  }
}

inline void FuzzTextIndex(std::string_view bytes) {
  FuzzTextIndexOnce(bytes);
  std::string fixed(bytes);
  RecomputeTextIndexChecksumsForTesting(&fixed);
  FuzzTextIndexOnce(fixed);
}

// The persisted sparse vector index object: a decoded object must encode to the same
// bytes, and (when its rows are few enough to allocate) load and answer.
inline void FuzzSparseIndexOnce(std::string_view bytes) {
  auto decoded = DecodeSparseIndexObject(bytes);
  if (!decoded.ok()) return;
  auto again = EncodeSparseIndexObject(*decoded);
  FATHOM_CHECK(again.ok() && *again == bytes);
  if (decoded->image.slot_count > (1u << 16)) return;
  std::vector<uint32_t> vector_slots;
  std::vector<uint8_t> has(decoded->image.slot_count, 0);
  for (uint32_t slot : decoded->image.slots) has[slot] = 1;
  for (uint32_t slot = 0; slot < has.size(); ++slot) {
    if (has[slot]) vector_slots.push_back(slot);
  }
  const size_t slot_count = decoded->image.slot_count;
  // No rows here to take checksums of; the search does not read them.
  const std::vector<uint64_t> vector_checksums(vector_slots.size(), 0);
  SparseIndex index(decoded->key);
  index.LoadImage(std::move(decoded->image), nullptr, vector_slots, vector_checksums, slot_count);
  (void)index.Search(SparseVector{{0, 2, 7, 1000}, {1.0f, -0.5f, 2.0f, 0.25f}, {}}, 10, nullptr);
}

inline void FuzzSparseIndex(std::string_view bytes) {
  FuzzSparseIndexOnce(bytes);
  std::string fixed(bytes);
  RecomputeSparseIndexChecksumsForTesting(&fixed);
  FuzzSparseIndexOnce(fixed);
}

// An S3 server's answers (io/s3_xml.h): list pages and error documents.
inline void FuzzS3Xml(std::string_view bytes) {
  (void)ParseListBucketResult(bytes);
  (void)ParseS3Error(bytes);
}

// Bytes in memory as a RandomReader.
class StringReader final : public RandomReader {
 public:
  explicit StringReader(std::string bytes) : bytes_(std::move(bytes)) {}
  uint64_t size() const override { return bytes_.size(); }
  Status ReadAt(uint64_t offset, size_t length, char* dst) const override {
    if (offset > bytes_.size() || length > bytes_.size() - offset) return Status::Corruption("short");
    std::copy_n(bytes_.data() + offset, length, dst);
    return Status::Ok();
  }
  const std::string& name() const override { return name_; }

 private:
  std::string bytes_;
  std::string name_ = "fuzz";
};

// A vector file (a collection's cold part): open, row tags, every row by both paths.
inline void FuzzVectorFileOnce(std::string bytes) {
  static BlockCache cache(1 << 16, 4096);
  auto file = VectorFile::Open(std::make_unique<StringReader>(std::move(bytes)), &cache);
  if (!file.ok()) return;
  std::vector<uint64_t> tags, hashes;
  (void)(*file)->ReadRowTags(&tags, &hashes);
  std::vector<float> rows((*file)->rows() * (*file)->dim());
  (void)(*file)->ReadRows(0, (*file)->rows(), rows.data());
  std::vector<float> row((*file)->dim());
  for (uint32_t r = 0; r < (*file)->rows() && r < 64; ++r) (void)(*file)->FetchRow(r, row.data());
}

inline void FuzzVectorFile(std::string_view bytes) {
  FuzzVectorFileOnce(std::string(bytes));
  // With the header checksum recomputed, to reach the checks behind it.
  std::string fixed(bytes);
  if (fixed.size() >= VectorFile::kHeaderBytes) {
    EncodeFixed64(fixed.data() + 56, Checksum64(std::string_view(fixed.data(), 56)));
    FuzzVectorFileOnce(std::move(fixed));
  }
}

inline void FuzzSegmentReaderOnce(std::string bytes) {
  static BlockCache cache(1 << 18, RecordsSegmentReader::kCacheBlockBytes);
  auto reader = RecordsSegmentReader::Open(std::make_unique<StringReader>(bytes), &cache);
  if (!reader.ok()) return;
  std::vector<SegmentEntryLocator> locators;
  std::vector<SegmentDocumentLocator> documents;
  (void)(*reader)->Scan([&](SegmentEntry& e, SegmentEntryLocator at) {
    locators.push_back(at);
    if (!e.tombstone && e.row.document) documents.push_back(DocumentLocatorOf(at, e));
  });
  // Locators from the scan, and every block's start and a byte inside it (not entry
  // starts: decoding there may fail, never crash).
  for (uint32_t b = 0; b < (*reader)->block_count() && b < 64; ++b) {
    locators.push_back({b, 0});
    locators.push_back({b, static_cast<uint32_t>(bytes.size() % 7)});
  }
  for (const SegmentEntryLocator& at : locators) {
    (void)(*reader)->ReadEntries(&at, 1, [](size_t, SegmentEntry&) {});
  }
  (void)(*reader)->ReadEntries(locators.data(), locators.size(), [](size_t, SegmentEntry&) {});
  // Documents by the scan's locators, and ranges that run past their block's end.
  for (uint32_t b = 0; b < (*reader)->block_count() && b < 64; ++b) {
    documents.push_back({b, static_cast<uint32_t>(bytes.size() % 7), static_cast<uint32_t>(bytes.size() % 4099)});
    documents.push_back({b, UINT32_MAX, 2});
  }
  std::vector<std::string> read(documents.size());
  (void)(*reader)->ReadDocuments(documents.data(), documents.size(), read.data());
  (void)(*reader)->ReadDocuments(documents.data(), documents.size(), read.data(),
                                 RecordsSegmentReader::CacheFill::kBypass);
}

// The random-access reader (storage/records_segment_reader.h): as given, and with the
// footer checksum recomputed (when the trailer places the footer) to reach the footer
// parser and the block reads behind it.
inline void FuzzSegmentReader(std::string_view bytes) {
  FuzzSegmentReaderOnce(std::string(bytes));
  auto trailer = bytes.size() >= kSegmentHeaderBytes + kSegmentTrailerBytes
                     ? DecodeSegmentTrailer(bytes.substr(bytes.size() - kSegmentTrailerBytes), bytes.size())
                     : Result<SegmentTrailer>(Status::Corruption("short"));
  if (!trailer.ok()) return;
  std::string fixed(bytes);
  const std::string covered =
      fixed.substr(0, kSegmentHeaderBytes) + fixed.substr(trailer->footer_offset, trailer->footer_length);
  EncodeFixed64(fixed.data() + fixed.size() - kSegmentTrailerBytes + 16, Checksum64(covered));
  FuzzSegmentReaderOnce(std::move(fixed));
}

}  // namespace fathom::fuzz
