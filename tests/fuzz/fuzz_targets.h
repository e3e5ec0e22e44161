// Fuzz targets: every decoder of untrusted bytes, each as a function of a byte string.
// They run under libFuzzer (tests/fuzz/libfuzzer/, `make fuzz`) and, in every
// `make test`, under fuzz_smoke_test.cc (seeded mutations of valid encodings plus the
// committed corpus in tests/fuzz/corpus/). A decoder may return an error; it must never
// crash, hang, read out of bounds or trip a sanitizer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <string>

#include "catalog/catalog.h"
#include "common/checksum.h"
#include "common/coding.h"
#include "index/vector/ivf_index.h"
#include "storage/manifest.h"
#include "storage/records_segment.h"
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

inline void FuzzVectorIndex(std::string_view bytes) { (void)IvfIndex::Deserialize(bytes); }

}  // namespace fathom::fuzz
