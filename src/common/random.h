// Randomness: a seeded PRNG for tests and simulation, and random ids (UUID v4) for objects.
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace fathom {

// A random 64-bit number (per-thread generator seeded from std::random_device, seeded
// again in a forked child so that parent and child never draw the same numbers).
uint64_t RandomU64();

// Returns a new random UUID v4, lower-case with dashes (36 characters).
std::string NewUuidV4();

// True if `s` is a UUID in 8-4-4-4-12 hex form (any version, either case).
bool IsUuid(const std::string& s);

// Seed for randomized tests: the FATHOM_SEED environment variable if set, else random.
// Callers print it so that a failing run can be repeated.
uint64_t TestSeed();

}  // namespace fathom
