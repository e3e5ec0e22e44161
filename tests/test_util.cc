#include "test_util.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "common/random.h"

namespace fathom::testing {

TempDir::TempDir() {
  std::string base = std::filesystem::temp_directory_path().string() + "/fathom-test-XXXXXX";
  std::vector<char> buf(base.begin(), base.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

uint64_t SeedForTest(const char* test_name) {
  uint64_t seed = TestSeed();
  std::printf("[seed] %s: FATHOM_SEED=%llu\n", test_name, static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  return seed;
}

WriteRecord MakeRecord(const std::string& id, std::vector<float> embedding, std::optional<std::string> document,
                       std::optional<Metadata> metadata) {
  WriteRecord r;
  r.id = id;
  r.embedding = std::move(embedding);
  r.document = std::move(document);
  if (metadata) {
    MetadataPatch patch;
    for (auto& [k, v] : *metadata) patch[k] = v;
    r.metadata = std::move(patch);
  }
  return r;
}

}  // namespace fathom::testing
