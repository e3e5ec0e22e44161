#include "common/random.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include <unistd.h>

namespace fathom {

namespace {
uint64_t SeedFromDevice() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

// The thread's generator. A child of fork() inherits its parent's generator state, so it
// is seeded again whenever the process id changes: a forked child must not draw the
// parent's UUIDs and WAL writer nonces.
std::mt19937_64& ThreadRng() {
  thread_local pid_t owner = 0;
  thread_local std::mt19937_64 rng;
  const pid_t pid = getpid();
  if (owner != pid) {
    rng.seed(SeedFromDevice());
    owner = pid;
  }
  return rng;
}
}  // namespace

uint64_t RandomU64() { return ThreadRng()(); }

std::string NewUuidV4() {
  uint64_t hi = ThreadRng()();
  uint64_t lo = ThreadRng()();
  hi = (hi & ~0xF000ull) | 0x4000ull;                  // version 4
  lo = (lo & ~(0xC000ull << 48)) | (0x8000ull << 48);  // variant 10xx
  char buf[37];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(hi >> 32), static_cast<unsigned>((hi >> 16) & 0xFFFF),
                static_cast<unsigned>(hi & 0xFFFF), static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFull));
  return buf;
}

bool IsUuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

uint64_t TestSeed() {
  if (const char* env = std::getenv("FATHOM_SEED")) {
    return std::strtoull(env, nullptr, 10);
  }
  return SeedFromDevice();
}

}  // namespace fathom
