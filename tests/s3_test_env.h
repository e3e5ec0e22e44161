// The S3 server the tests use: Ceph RGW from ../shared/s3/start-ceph-rgw.sh, found through
// FATHOM_S3_ENDPOINT (or AWS_ENDPOINT_URL), AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and
// FATHOM_S3_BUCKET, which `make test` exports. Without them a test skips, unless
// FATHOM_REQUIRE_S3=1 (set by `make test`), when it fails: a CI run must not pass by
// skipping every S3 test.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "common/random.h"
#include "io/s3_store.h"

namespace fathom::testing {

inline std::string S3EnvValue(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

// Why S3 tests cannot run here, or "" if they can.
inline std::string S3TestEnvMissing() {
  if (S3EnvValue("FATHOM_S3_ENDPOINT").empty() && S3EnvValue("AWS_ENDPOINT_URL").empty()) {
    return "FATHOM_S3_ENDPOINT is not set";
  }
  if (S3EnvValue("FATHOM_S3_BUCKET").empty()) return "FATHOM_S3_BUCKET is not set";
  if (S3EnvValue("AWS_ACCESS_KEY_ID").empty()) return "AWS_ACCESS_KEY_ID is not set";
  return "";
}

inline bool S3Required() { return S3EnvValue("FATHOM_REQUIRE_S3") == "1"; }

// An S3Store on the test bucket under a fresh prefix ("test/<uuid>/<label>"), so tests
// never see each other's keys. Null if the environment is missing (the caller skips or
// fails: use FATHOM_S3_STORE_OR_SKIP).
inline std::shared_ptr<S3Store> OpenTestS3Store(const std::string& label, std::string* error) {
  std::string missing = S3TestEnvMissing();
  if (!missing.empty()) {
    *error = "S3 tests need the Ceph RGW test server (../shared/s3/README.md; `make test` starts it): " + missing;
    return nullptr;
  }
  S3StoreOptions options;
  options.bucket = S3EnvValue("FATHOM_S3_BUCKET");
  options.prefix = "test/" + NewUuidV4() + "/" + label;
  auto store = S3Store::Open(options);
  if (!store.ok()) {
    *error = store.status().ToString();
    return nullptr;
  }
  return *store;
}

}  // namespace fathom::testing

// In a TEST body or SetUp: sets `var` to a fresh test S3Store, or skips (fails when
// FATHOM_REQUIRE_S3=1) if there is no S3 server configured.
#define FATHOM_S3_STORE_OR_SKIP(var, label)                                     \
  do {                                                                          \
    std::string fathom_s3_error;                                                \
    var = ::fathom::testing::OpenTestS3Store(label, &fathom_s3_error);          \
    if (var == nullptr) {                                                       \
      if (::fathom::testing::S3Required()) FAIL() << fathom_s3_error;           \
      GTEST_SKIP() << fathom_s3_error;                                          \
    }                                                                           \
  } while (0)
