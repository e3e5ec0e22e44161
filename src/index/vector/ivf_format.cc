// IvfIndex's bytes: Serialize and Deserialize (docs/format/vector_index.md).
#include "index/vector/ivf_index.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "common/assert.h"
#include "common/checksum.h"
#include "common/coding.h"

namespace fathom {

namespace {

// ---- serialized format constants (docs/format/vector_index.md) ----
constexpr char kMagic[8] = {'F', 'T', 'H', 'M', 'I', 'V', 'F', '1'};
// Version 2 stores the rotation kind in what version 1 kept as a reserved zero word
// (version 1 indexes are dense and still read).
constexpr uint32_t kFormatVersion = 2;
constexpr size_t kHeaderBytes = 48;     // fields before the header checksum
constexpr size_t kChecksumBytes = 8;

}  // namespace

std::string IvfIndex::Serialize() const {
  const uint32_t padded = quantizer_->padded_dim();
  const uint32_t words = quantizer_->code_words();
  std::string out;
  out.append(kMagic, sizeof(kMagic));
  PutFixed32(&out, kFormatVersion);
  out.push_back(static_cast<char>(space_));
  out.append(3, '\0');
  PutFixed32(&out, dim_);
  PutFixed32(&out, internal_dim_);
  PutFixed32(&out, padded);
  PutFixed32(&out, clusters());
  PutFixed64(&out, rows_);
  uint32_t norm_bits;
  std::memcpy(&norm_bits, &ip_max_norm_, 4);
  PutFixed32(&out, norm_bits);
  PutFixed32(&out, static_cast<uint32_t>(quantizer_->rotation_kind()));
  FATHOM_CHECK(out.size() == kHeaderBytes);
  PutFixed64(&out, Checksum64(out));

  // Each section is followed by the XXH3 of its bytes.
  auto seal = [&out](size_t start) { PutFixed64(&out, Checksum64(std::string_view(out).substr(start))); };
  size_t start = out.size();
  PutFloats(&out, quantizer_->rotation().data(), quantizer_->rotation().size());
  seal(start);
  start = out.size();
  PutFloats(&out, centroids_.data(), centroids_.size());
  seal(start);
  start = out.size();
  for (uint32_t j = 0; j < clusters(); ++j) PutFixed32(&out, static_cast<uint32_t>(ClusterRows(j)));
  seal(start);
  for (uint32_t j = 0; j < clusters(); ++j) {
    start = out.size();
    const size_t begin = offsets_[j], count = ClusterRows(j);
    for (size_t i = 0; i < count; ++i) PutFixed32(&out, slots_[begin + i]);
    for (size_t i = 0; i < count * words; ++i) PutFixed64(&out, codes_[begin * words + i]);
    PutFloats(&out, add_.data() + begin, count);
    PutFloats(&out, rescale_.data() + begin, count);
    PutFloats(&out, error_.data() + begin, count);
    seal(start);
  }
  return out;
}

namespace {

// Deserialize's steps, in the order it takes them.

Status CorruptIndex(const char* what) { return Status::Corruption(std::string("vector index: ") + what); }

// The header's fields, each checked against the format and the limits.
struct SerializedShape {
  DistanceSpace space;
  RotationKind rotation;
  uint32_t dim, internal_dim, padded, clusters;
  uint64_t rows;
  float ip_max_norm;
};

Result<SerializedShape> DecodeShape(std::string_view bytes) {
  if (bytes.size() > ivf_limits::kSerializedBytesMax) return CorruptIndex("too large");
  if (bytes.size() < kHeaderBytes + kChecksumBytes) return CorruptIndex("truncated header");
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) return CorruptIndex("bad magic");
  if (DecodeFixed64(bytes.data() + kHeaderBytes) != Checksum64(bytes.substr(0, kHeaderBytes))) {
    return CorruptIndex("header checksum mismatch");
  }
  Decoder header(bytes.substr(sizeof(kMagic), kHeaderBytes - sizeof(kMagic)));
  uint32_t version = 0, dim = 0, internal_dim = 0, padded = 0, clusters = 0, norm_bits = 0, kind_word = 0;
  uint8_t space = 0, pad = 0;
  uint64_t rows = 0;
  bool ok = header.GetFixed32(&version) && header.GetU8(&space);
  for (int i = 0; i < 3 && ok; ++i) ok = header.GetU8(&pad) && pad == 0;
  ok = ok && header.GetFixed32(&dim) && header.GetFixed32(&internal_dim) && header.GetFixed32(&padded) &&
       header.GetFixed32(&clusters) && header.GetFixed64(&rows) && header.GetFixed32(&norm_bits) &&
       header.GetFixed32(&kind_word) && header.empty();
  if (!ok) return CorruptIndex("bad header");
  if (version != 1 && version != kFormatVersion) return CorruptIndex("unknown version");
  // Version 1: a reserved zero word, and the rotation is dense.
  if (kind_word > static_cast<uint32_t>(RotationKind::kHadamard) || (version == 1 && kind_word != 0)) {
    return CorruptIndex("unknown rotation kind");
  }
  if (space > static_cast<uint8_t>(DistanceSpace::kInnerProduct)) return CorruptIndex("unknown space");
  SerializedShape shape{static_cast<DistanceSpace>(space), static_cast<RotationKind>(kind_word), dim, internal_dim,
                        padded, clusters, rows, 0.0f};
  if (dim == 0 || dim > ivf_limits::kDimensionMax ||
      internal_dim != dim + (shape.space == DistanceSpace::kInnerProduct ? 1 : 0) ||
      padded != RabitqQuantizer::PaddedDimension(internal_dim) || padded > ivf_limits::kRotatedDimensionMax) {
    return CorruptIndex("bad dimensions");
  }
  if (rows == 0 || rows > ivf_limits::kRowsMax || clusters == 0 || clusters > ivf_limits::kClustersMax ||
      clusters > rows) {
    return CorruptIndex("bad row or cluster count");
  }
  std::memcpy(&shape.ip_max_norm, &norm_bits, 4);
  if (!std::isfinite(shape.ip_max_norm) || shape.ip_max_norm < 0.0f) return CorruptIndex("bad norm");
  return shape;
}

// Sizes the shape fixes. Every size is bounded by the limits DecodeShape checked, so none
// overflows 64 bits.
struct SerializedSizes {
  uint64_t words;            // code words per row
  uint64_t row_bytes;        // slot, code and three factors
  uint64_t rotation_floats;
  uint64_t total;            // the whole object
};

SerializedSizes SizesOf(const SerializedShape& shape) {
  SerializedSizes sizes;
  sizes.words = shape.padded / ivf_limits::kCodeWordBits;
  sizes.row_bytes = 4 + sizes.words * 8 + 3 * 4;
  sizes.rotation_floats = RabitqQuantizer::RotationFloats(shape.rotation, shape.internal_dim, shape.padded);
  sizes.total = kHeaderBytes + kChecksumBytes + (sizes.rotation_floats * 4 + kChecksumBytes) +
                (uint64_t{shape.clusters} * shape.padded * 4 + kChecksumBytes) +
                (uint64_t{shape.clusters} * 4 + kChecksumBytes) + shape.rows * sizes.row_bytes +
                uint64_t{shape.clusters} * kChecksumBytes;
  return sizes;
}

// Walks the sections after the header, each followed by the XXH3 of its bytes. The
// caller has checked that the object's size is the sum of the sections it reads.
class SectionReader {
 public:
  explicit SectionReader(std::string_view bytes) : bytes_(bytes) {}
  // The next section, of `n` bytes; false if its checksum does not match.
  bool Next(size_t n, std::string_view* out) {
    *out = bytes_.substr(pos_, n);
    const bool good = DecodeFixed64(bytes_.data() + pos_ + n) == Checksum64(*out);
    pos_ += n + kChecksumBytes;
    return good;
  }
  bool at_end() const { return pos_ == bytes_.size(); }

 private:
  std::string_view bytes_;
  size_t pos_ = kHeaderBytes + kChecksumBytes;
};

// Cluster offsets (clusters + 1) from the directory's cluster sizes, which must add up to
// the row count.
Status DecodeDirectory(std::string_view directory, uint32_t clusters, uint64_t rows, std::vector<uint32_t>* offsets) {
  offsets->assign(clusters + 1, 0);
  for (uint32_t j = 0; j < clusters; ++j) {
    uint64_t next = uint64_t{(*offsets)[j]} + DecodeFixed32(directory.data() + 4 * j);
    if (next > rows) return CorruptIndex("cluster sizes exceed the row count");
    (*offsets)[j + 1] = static_cast<uint32_t>(next);
  }
  if ((*offsets)[clusters] != rows) return CorruptIndex("cluster sizes do not add up to the row count");
  return Status::Ok();
}

// Where one cluster's rows go: `count` slots, count x words codes and count of each
// factor (add, rescale, error).
struct ClusterRowArrays {
  size_t count;
  uint32_t* slots;
  uint64_t* codes;
  float* factors[3];
};

// One cluster's section: slots (below the format's bound for `rows`), codes, then each
// factor for every row (finite).
Status DecodeClusterRows(std::string_view block, uint64_t words, uint64_t rows, const ClusterRowArrays& out) {
  const char* p = block.data();
  for (size_t i = 0; i < out.count; ++i, p += 4) {
    uint32_t slot = DecodeFixed32(p);
    if (slot >= ivf_limits::SerializedSlotBound(rows)) return CorruptIndex("slot out of range");
    out.slots[i] = slot;
  }
  for (size_t i = 0; i < out.count * words; ++i, p += 8) out.codes[i] = DecodeFixed64(p);
  for (float* factors : out.factors) {
    std::memcpy(factors, p, out.count * 4);
    p += out.count * 4;
    for (size_t i = 0; i < out.count; ++i) {
      if (!std::isfinite(factors[i])) return CorruptIndex("factor not finite");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<IvfIndex> IvfIndex::Deserialize(std::string_view bytes) {
  FATHOM_ASSIGN_OR_RETURN(const SerializedShape shape, DecodeShape(bytes));
  const SerializedSizes sizes = SizesOf(shape);
  if (bytes.size() != sizes.total) return CorruptIndex("size does not match the header");
  SectionReader sections(bytes);
  std::string_view rotation_bytes, centroid_bytes, directory_bytes;
  if (!sections.Next(sizes.rotation_floats * 4, &rotation_bytes)) return CorruptIndex("rotation checksum mismatch");
  if (!sections.Next(size_t{shape.clusters} * shape.padded * 4, &centroid_bytes)) {
    return CorruptIndex("centroid checksum mismatch");
  }
  if (!sections.Next(size_t{shape.clusters} * 4, &directory_bytes)) return CorruptIndex("directory checksum mismatch");

  IvfIndex index;
  index.space_ = shape.space;
  index.dim_ = shape.dim;
  index.internal_dim_ = shape.internal_dim;
  index.ip_max_norm_ = shape.ip_max_norm;
  index.rows_ = shape.rows;
  std::vector<float> rotation(sizes.rotation_floats);
  std::memcpy(rotation.data(), rotation_bytes.data(), rotation_bytes.size());
  FATHOM_ASSIGN_OR_RETURN(RabitqQuantizer quantizer, RabitqQuantizer::FromRotation(shape.internal_dim, shape.padded,
                                                                                   shape.rotation, std::move(rotation)));
  index.quantizer_.emplace(std::move(quantizer));
  index.centroids_.resize(size_t{shape.clusters} * shape.padded);
  std::memcpy(index.centroids_.data(), centroid_bytes.data(), centroid_bytes.size());
  for (float v : index.centroids_) {
    if (!std::isfinite(v)) return CorruptIndex("centroid not finite");
  }
  FATHOM_RETURN_IF_ERROR(DecodeDirectory(directory_bytes, shape.clusters, shape.rows, &index.offsets_));

  index.slots_.resize(shape.rows);
  index.codes_.resize(shape.rows * sizes.words);
  index.add_.resize(shape.rows);
  index.rescale_.resize(shape.rows);
  index.error_.resize(shape.rows);
  for (uint32_t j = 0; j < shape.clusters; ++j) {
    const size_t begin = index.offsets_[j], count = index.ClusterRows(j);
    std::string_view block;
    if (!sections.Next(count * sizes.row_bytes, &block)) return CorruptIndex("cluster checksum mismatch");
    FATHOM_RETURN_IF_ERROR(DecodeClusterRows(
        block, sizes.words, shape.rows,
        ClusterRowArrays{count, index.slots_.data() + begin, index.codes_.data() + begin * sizes.words,
                    {index.add_.data() + begin, index.rescale_.data() + begin, index.error_.data() + begin}}));
  }
  FATHOM_CHECK(sections.at_end());
  if (!index.IndexMembers()) return CorruptIndex("repeated slot");
  index.BuildRouting();
  return index;
}

}  // namespace fathom
