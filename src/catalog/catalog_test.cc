#include "catalog/catalog.h"

#include <gtest/gtest.h>

#include "common/checksum.h"
#include "common/coding.h"
#include "common/limits.h"
#include "io/forwarding_store.h"
#include "io/manual_clock.h"
#include "io/mem_store.h"

namespace fathom {
namespace {

CatalogState Sample() {
  CatalogState s;
  s.version = 5;
  s.tenants = {{"default_tenant"}, {"acme"}};
  s.databases = {{"11111111-1111-4111-8111-111111111111", "default_database", "default_tenant"}};
  CatalogCollection c;
  c.id = "22222222-2222-4222-8222-222222222222";
  c.name = "docs";
  c.tenant = "default_tenant";
  c.database = "default_database";
  c.metadata = Metadata{{"owner", std::string("me")}, {"n", int64_t{3}}};
  c.space = DistanceSpace::kCosine;
  c.configuration_json = R"({"hnsw":{"space":"cosine"}})";
  s.collections.push_back(c);
  return s;
}

TEST(CatalogTest, RoundTrip) {
  auto d = DecodeCatalog(EncodeCatalog(Sample()).value());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->version, 5u);
  ASSERT_EQ(d->tenants.size(), 2u);
  EXPECT_EQ(d->tenants[1].name, "acme");
  ASSERT_EQ(d->collections.size(), 1u);
  EXPECT_EQ(d->collections[0].space, DistanceSpace::kCosine);
  EXPECT_EQ(d->collections[0].configuration_json, Sample().collections[0].configuration_json);
  EXPECT_EQ(d->collections[0].metadata, Sample().collections[0].metadata);
}

TEST(CatalogTest, EveryFlippedByteIsCorruption) {
  std::string bytes = EncodeCatalog(Sample()).value();
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] ^= 0x10;
    EXPECT_TRUE(DecodeCatalog(bad).status().IsCorruption()) << "byte " << i;
  }
}

TEST(CatalogTest, CommitIsCreateOnlyAndOldVersionsAreDropped) {
  auto store = std::make_shared<MemStore>();
  CatalogStore catalog(store, RealClock().get(), Clock::Duration::zero());
  ASSERT_EQ(catalog.Load()->version, 0u);
  for (int i = 0; i < 10; ++i) {
    CatalogState next = Sample();
    ASSERT_TRUE(catalog.Commit(&next).ok());
    EXPECT_EQ(next.version, static_cast<uint64_t>(i + 1));
  }
  EXPECT_EQ(catalog.Load()->version, 10u);
  EXPECT_LE(store->List("catalog/", "", 0)->size(), 4u);
  // A second writer that did not see version 10 loses.
  CatalogStore stale(store, RealClock().get(), Clock::Duration::zero());
  CatalogState next = Sample();
  EXPECT_TRUE(stale.Commit(&next).IsAlreadyExists());
}

// Counts the requests of each kind that reach the wrapped store.
class CountingStore : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  Result<std::string> Get(const std::string& key, std::optional<ByteRange> range) override {
    ++gets;
    return ForwardingStore::Get(key, range);
  }
  Result<std::vector<ObjectInfo>> List(const std::string& prefix, const std::string& start_after,
                                       size_t max_keys) override {
    ++lists;
    return ForwardingStore::List(prefix, start_after, max_keys);
  }
  int gets = 0, lists = 0;
};

// Two processes on one store with a grace period: `reader` loaded the catalog and checks
// for newer versions while `writer` commits more than kCatalogVersionsKept of them.
struct TwoCatalogs {
  static constexpr auto kGrace = std::chrono::minutes(10);
  std::shared_ptr<ObjectStore> base = std::make_shared<MemStore>();
  std::shared_ptr<CountingStore> counted = std::make_shared<CountingStore>(base);
  ManualClock clock;
  CatalogStore writer{base, &clock, kGrace};
  CatalogStore reader{counted, &clock, kGrace};

  void CommitMany(int n) {
    for (int i = 0; i < n; ++i) {
      CatalogState next = Sample();
      ASSERT_TRUE(writer.Commit(&next).ok());
    }
  }
};

TEST(CatalogTest, TheNewerVersionCheckIsOneGetWhileFresh) {
  TwoCatalogs t;
  t.CommitMany(1);
  auto loaded = t.reader.Load();
  ASSERT_TRUE(loaded.ok());
  t.counted->gets = t.counted->lists = 0;
  EXPECT_FALSE(*t.reader.NewerExists(loaded->version));
  EXPECT_EQ(t.counted->gets, 1);
  EXPECT_EQ(t.counted->lists, 0);
  t.CommitMany(1);
  EXPECT_TRUE(*t.reader.NewerExists(loaded->version));
  EXPECT_EQ(t.counted->gets, 2);
  EXPECT_EQ(t.counted->lists, 0);
}

// The GET check is sound only because the successor of the version a node knows stays
// in the store for a grace period: pruned by count alone (the last kCatalogVersionsKept,
// as before), it was gone after a few commits and the check answered "nothing newer".
TEST(CatalogTest, ASupersededVersionStaysForTheGracePeriod) {
  TwoCatalogs t;
  t.CommitMany(1);
  auto loaded = t.reader.Load();
  ASSERT_TRUE(loaded.ok());
  t.CommitMany(static_cast<int>(limits::kCatalogVersionsKept) * 3);
  EXPECT_TRUE(t.base->Get(CatalogKey(loaded->version + 1)).ok());
  EXPECT_TRUE(*t.reader.NewerExists(loaded->version));
  // A grace period after the writer first saw them superseded, its next commit deletes
  // all but the last kCatalogVersionsKept.
  t.clock.AdvanceBy(TwoCatalogs::kGrace);
  t.CommitMany(1);
  EXPECT_TRUE(t.base->Get(CatalogKey(loaded->version + 1)).status().IsNotFound());
  // The version that just left the last kCatalogVersionsKept starts its own wait.
  EXPECT_EQ(t.base->List("catalog/", "", 0)->size(), limits::kCatalogVersionsKept + 1);
}

// Past half a grace since the reader last confirmed its version, the successor may be
// gone: the check lists instead, and finds the newer catalog.
TEST(CatalogTest, PastHalfAGraceTheCheckLists) {
  TwoCatalogs t;
  t.CommitMany(1);
  auto loaded = t.reader.Load();
  ASSERT_TRUE(loaded.ok());
  t.CommitMany(static_cast<int>(limits::kCatalogVersionsKept) + 1);
  t.clock.AdvanceBy(TwoCatalogs::kGrace);
  t.CommitMany(1);
  ASSERT_TRUE(t.base->Get(CatalogKey(loaded->version + 1)).status().IsNotFound());
  t.counted->gets = t.counted->lists = 0;
  EXPECT_TRUE(*t.reader.NewerExists(loaded->version));
  EXPECT_EQ(t.counted->lists, 1);
  EXPECT_EQ(t.counted->gets, 0);
}

// A check that found nothing confirms the version again: a reader that keeps checking
// stays on GETs however long it runs.
TEST(CatalogTest, ACheckThatFindsNothingRestartsTheHalfGrace) {
  TwoCatalogs t;
  t.CommitMany(1);
  auto loaded = t.reader.Load();
  ASSERT_TRUE(loaded.ok());
  for (int i = 0; i < 5; ++i) {
    t.clock.AdvanceBy(TwoCatalogs::kGrace / 4);
    t.counted->gets = t.counted->lists = 0;
    EXPECT_FALSE(*t.reader.NewerExists(loaded->version));
    EXPECT_EQ(t.counted->lists, 0) << i;
  }
}

// Issue 12, finding 1: a catalog the decoder would refuse makes the whole database
// unopenable, so the encoder refuses it and CatalogStore::Commit writes nothing.
void ExpectRefused(const CatalogState& state, const std::string& limit_name) {
  auto encoded = EncodeCatalog(state);
  ASSERT_FALSE(encoded.ok()) << "encoded; decodes: " << DecodeCatalog(*encoded).status().ToString();
  EXPECT_EQ(encoded.status().code(), StatusCode::kInvalidArgument) << encoded.status().ToString();
  EXPECT_NE(encoded.status().message().find(limit_name), std::string::npos) << encoded.status().ToString();
}

TEST(CatalogTest, EncoderRefusesAConfigurationOverTheFieldLimit) {
  CatalogState s = Sample();
  s.collections[0].configuration_json = std::string(limits::kCatalogConfigurationBytesMax, ' ');
  auto at_limit = EncodeCatalog(s);
  ASSERT_TRUE(at_limit.ok()) << at_limit.status().ToString();
  EXPECT_TRUE(DecodeCatalog(*at_limit).ok());
  s.collections[0].configuration_json += ' ';
  ExpectRefused(s, "limits::kCatalogConfigurationBytesMax");
}

TEST(CatalogTest, EncoderRefusesCollectionMetadataOverTheValueLimits) {
  CatalogState s = Sample();
  s.collections[0].metadata = Metadata{{"big", std::string(limits::kMetadataStringBytesMax + 1, 'x')}};
  ExpectRefused(s, "limits::kMetadataStringBytesMax");
}

TEST(CatalogTest, EncoderRefusesNamesOverTheFieldLimit) {
  CatalogState s = Sample();
  s.tenants.push_back({std::string(limits::kCatalogStringBytesMax + 1, 't')});
  ExpectRefused(s, "limits::kCatalogStringBytesMax");
  s = Sample();
  s.collections[0].name = std::string(limits::kCatalogStringBytesMax + 1, 'n');
  ExpectRefused(s, "limits::kCatalogStringBytesMax");
}

TEST(CatalogTest, RefusedCommitWritesNothing) {
  auto store = std::make_shared<MemStore>();
  CatalogStore catalog(store, RealClock().get(), Clock::Duration::zero());
  CatalogState first = Sample();
  ASSERT_TRUE(catalog.Commit(&first).ok());
  CatalogState next = Sample();
  next.collections[0].configuration_json = std::string(limits::kCatalogConfigurationBytesMax + 1, ' ');
  EXPECT_EQ(catalog.Commit(&next).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->List("catalog/", "", 0)->size(), 1u);
  auto loaded = catalog.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->version, 1u);
}

TEST(CatalogTest, TinyCatalogClaimingHugeCountsIsCorruption) {
  for (int field = 0; field < 3; ++field) {
    std::string out(kCatalogMagic, 4);
    PutFixed16(&out, kCatalogFormatVersion);
    PutFixed16(&out, 0);
    PutFixed64(&out, 1);
    for (int i = 0; i < 3; ++i) PutVarint64(&out, i == field ? UINT64_MAX >> 1 : 0);
    PutFixed64(&out, Checksum64(out));
    EXPECT_TRUE(DecodeCatalog(out).status().IsCorruption()) << "count " << field;
  }
}

}  // namespace
}  // namespace fathom
