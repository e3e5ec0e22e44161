#include "db/vector_index_envelope.h"

#include <cmath>
#include <cstring>
#include <utility>

#include "common/assert.h"
#include "common/checksum.h"
#include "common/coding.h"
#include "index/vector/ivf_limits.h"

namespace fathom {

namespace {

constexpr char kMagic[4] = {'F', 'V', 'I', 'X'};
// Version 2 adds the calibrated search budget; version 3 the rows of the last full build.
constexpr size_t kV1HeaderBytes = 4 + 4 + 8 + 8 + 8;  // before its checksum
constexpr size_t kV2HeaderBytes = kV1HeaderBytes + 32;  // + the budget
constexpr size_t kV3HeaderBytes = kV2HeaderBytes + 8;   // + the built rows

Status Corrupt(const std::string& what) { return Status::Corruption("vector index object: " + what); }

float FloatFromBits(uint32_t bits) {
  float v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}
uint32_t BitsOfFloat(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return bits;
}
bool IsFraction(float v) { return std::isfinite(v) && v >= 0.0f && v <= 1.0f; }

// The header's size for a known version, else 0.
size_t HeaderBytes(uint32_t version) {
  switch (version) {
    case 1: return kV1HeaderBytes;
    case 2: return kV2HeaderBytes;
    case 3: return kV3HeaderBytes;
    default: return 0;
  }
}

void PutBudget(std::string* out, const SearchBudget& budget) {
  out->push_back(static_cast<char>(budget.plan));
  out->append(3, '\0');
  PutFixed32(out, budget.probes);
  PutFixed32(out, budget.rerank_factor);
  PutFixed32(out, budget.sample_queries);
  PutFixed32(out, BitsOfFloat(budget.recall_target));
  PutFixed32(out, BitsOfFloat(budget.measured_recall));
  PutFixed32(out, BitsOfFloat(budget.recall_lower_bound));
  PutFixed32(out, budget.calibrated_rows);
}

SearchBudget DecodeBudget(const char* p) {
  SearchBudget budget;
  budget.plan = static_cast<SearchBudget::Plan>(static_cast<uint8_t>(p[0]));
  budget.probes = DecodeFixed32(p + 4);
  budget.rerank_factor = DecodeFixed32(p + 8);
  budget.sample_queries = DecodeFixed32(p + 12);
  budget.recall_target = FloatFromBits(DecodeFixed32(p + 16));
  budget.measured_recall = FloatFromBits(DecodeFixed32(p + 20));
  budget.recall_lower_bound = FloatFromBits(DecodeFixed32(p + 24));
  budget.calibrated_rows = DecodeFixed32(p + 28);  // 0 in objects written before it was recorded
  return budget;
}

}  // namespace

Status CheckVectorIndexBudget(const SearchBudget& budget, uint32_t clusters) {
  auto bad = [](const std::string& what) { return Corrupt("search budget " + what); };
  if (budget.plan != SearchBudget::Plan::kIndex && budget.plan != SearchBudget::Plan::kExactScan) {
    return bad("names an unknown plan");
  }
  if (!IsFraction(budget.recall_target) || !IsFraction(budget.measured_recall) ||
      !IsFraction(budget.recall_lower_bound)) {
    return bad("has a recall outside [0, 1]");
  }
  if (budget.calibrated() && budget.plan == SearchBudget::Plan::kIndex &&
      (budget.probes == 0 || budget.probes > clusters || budget.rerank_factor == 0 ||
       budget.rerank_factor > kVectorIndexRerankFactorMax)) {
    return bad("has probes or a re-rank depth out of range");
  }
  return Status::Ok();
}

Status CheckVectorIndexBuiltRows(uint64_t built_rows) {
  if (built_rows == 0 || built_rows > ivf_limits::kRowsMax) {
    return Corrupt("last full build of " + std::to_string(built_rows) + " rows, outside [1, ivf_limits::kRowsMax]");
  }
  return Status::Ok();
}

Result<std::string> EncodeVectorIndexEnvelope(const VectorIndexEnvelopeHeader& header, const IvfIndex& dense) {
  auto invalid = [](const Status& s) { return Status::InvalidArgument("vector index snapshot: " + s.message()); };
  if (Status s = CheckVectorIndexBudget(header.budget, dense.clusters()); !s.ok()) return invalid(s);
  if (Status s = CheckVectorIndexBuiltRows(header.built_rows); !s.ok()) return invalid(s);
  if (header.covered_rows != dense.rows()) {
    return Status::InvalidArgument("vector index snapshot: covered rows " + std::to_string(header.covered_rows) +
                                   " but the index holds " + std::to_string(dense.rows()));
  }
  if (header.covered_rows > header.live_rows) {
    return Status::InvalidArgument("vector index snapshot: covers more rows than the collection holds");
  }
  std::string out(kMagic, 4);
  PutFixed32(&out, kVectorIndexEnvelopeVersion);
  PutFixed64(&out, header.live_rows);
  PutFixed64(&out, header.offsets_hash);
  PutFixed64(&out, header.covered_rows);
  PutBudget(&out, header.budget);
  PutFixed64(&out, header.built_rows);
  FATHOM_CHECK(out.size() == kV3HeaderBytes);
  PutFixed64(&out, Checksum64(out));
  out += dense.Serialize();
  return out;
}

Result<VectorIndexEnvelope> DecodeVectorIndexEnvelope(std::string_view bytes) {
  if (bytes.size() < kV1HeaderBytes + 8) return Corrupt("truncated");
  if (std::memcmp(bytes.data(), kMagic, 4) != 0) return Corrupt("bad magic");
  const uint32_t version = DecodeFixed32(bytes.data() + 4);
  const size_t header_bytes = HeaderBytes(version);
  if (header_bytes == 0) return Corrupt("unknown version " + std::to_string(version));
  if (bytes.size() < header_bytes + 8) return Corrupt("truncated");
  if (DecodeFixed64(bytes.data() + header_bytes) != Checksum64(bytes.substr(0, header_bytes))) {
    return Corrupt("header checksum mismatch");
  }
  VectorIndexEnvelopeHeader header;
  header.live_rows = DecodeFixed64(bytes.data() + 8);
  header.offsets_hash = DecodeFixed64(bytes.data() + 16);
  header.covered_rows = DecodeFixed64(bytes.data() + 24);
  // A version 1 envelope has no budget: the index stays uncalibrated until rebuilt.
  if (version >= 2) header.budget = DecodeBudget(bytes.data() + kV1HeaderBytes);
  if (version >= 3) {
    header.built_rows = DecodeFixed64(bytes.data() + kV2HeaderBytes);
    FATHOM_RETURN_IF_ERROR(CheckVectorIndexBuiltRows(header.built_rows));
  }
  if (header.covered_rows > header.live_rows) return Corrupt("covers more rows than the collection held");
  FATHOM_ASSIGN_OR_RETURN(IvfIndex index, IvfIndex::Deserialize(bytes.substr(header_bytes + 8)));
  if (index.rows() != header.covered_rows) return Corrupt("row count disagrees with its header");
  FATHOM_RETURN_IF_ERROR(CheckVectorIndexBudget(header.budget, index.clusters()));
  return VectorIndexEnvelope{version, header, std::move(index)};
}

void RecomputeVectorIndexEnvelopeChecksumForTesting(std::string* bytes) {
  if (bytes->size() < 8) return;
  const size_t header_bytes = HeaderBytes(DecodeFixed32(bytes->data() + 4));
  if (header_bytes == 0 || bytes->size() < header_bytes + 8) return;
  EncodeFixed64(bytes->data() + header_bytes, Checksum64(std::string_view(bytes->data(), header_bytes)));
}

}  // namespace fathom
