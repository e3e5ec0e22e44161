// S3Store against FakeS3Server (tests/fake_s3_server.h): retries, the unknown outcome of a
// create-only Put, error mapping, List paging and request form, without a real S3 server.
// The same store against Ceph RGW: object_store_test.cc (the contract) and
// s3_store_rgw_test.cc.
#include "io/s3_store.h"

#include <gtest/gtest.h>

#include <thread>

#include "fake_s3_server.h"
#include "fathom/db.h"

namespace fathom {
namespace {

using Fault = testing::FakeS3Server::Fault;

class S3StoreFakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.ok());
    store_ = Open(server_.bucket(), 4);
  }

  std::shared_ptr<S3Store> Open(const std::string& bucket, int attempts_max) {
    S3StoreOptions options;
    options.bucket = bucket;
    options.prefix = "root/dir";
    options.endpoint = server_.endpoint();
    options.region = "us-east-1";
    options.access_key_id = "testkey";
    options.secret_access_key = "testsecret";
    options.retry = {.attempts_max = attempts_max,
                     .backoff_initial = std::chrono::milliseconds(1),
                     .backoff_max = std::chrono::milliseconds(4)};
    auto store = S3Store::Open(options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? *store : nullptr;
  }

  testing::FakeS3Server server_;
  std::shared_ptr<S3Store> store_;
};

TEST_F(S3StoreFakeTest, KeysLiveUnderThePrefixAndRequestsAreSigned) {
  ASSERT_TRUE(store_->Put("a/b", "bytes", PutMode::kOverwrite).ok());
  EXPECT_EQ(server_.objects().count("root/dir/a/b"), 1u);
  EXPECT_EQ(*store_->Get("a/b", std::nullopt), "bytes");
  EXPECT_EQ(*store_->Get("a/b", ByteRange{1, 2}), "yt");
  EXPECT_EQ(*store_->Get("a/b", ByteRange{3, 100}), "es");
  EXPECT_EQ(*store_->Get("a/b", ByteRange{5, 1}), "");   // at the end: 416 from the server
  EXPECT_EQ(*store_->Get("a/b", ByteRange{50, 0}), "");  // nothing wanted
  EXPECT_TRUE(store_->Get("missing", ByteRange{0, 0}).status().IsNotFound());
  EXPECT_EQ(store_->Head("a/b")->size_bytes, 5u);
  EXPECT_EQ(server_.counts().unsigned_requests, 0);
}

TEST_F(S3StoreFakeTest, TransientErrorsAreRetried) {
  server_.SetObject("root/dir/k", "value");
  server_.QueueFault(Fault::k503SlowDown);
  server_.QueueFault(Fault::k500);
  server_.QueueFault(Fault::k429);
  auto got = store_->Get("k", std::nullopt);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, "value");
  EXPECT_EQ(server_.counts().requests, 4);
  EXPECT_EQ(store_->stats().retries, 3u);

  server_.ResetCounts();
  server_.QueueFault(Fault::kClose, 2);  // connection dropped, then a fresh one
  EXPECT_TRUE(store_->Put("k2", "v", PutMode::kOverwrite).ok());
  EXPECT_EQ(server_.counts().requests, 3);
}

TEST_F(S3StoreFakeTest, RetriesAreBounded) {
  server_.SetObject("root/dir/k", "value");
  server_.QueueFault(Fault::k503SlowDown, 10);
  Status s = store_->Get("k", std::nullopt).status();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("SlowDown"), std::string::npos) << s.ToString();
  EXPECT_EQ(server_.counts().requests, 4);  // attempts_max
}

// 400 RequestTimeout is S3's (and RGW's) answer when it stopped waiting for the request's
// bytes: nothing was applied, the same request may succeed, and it is not the caller's bad
// input (InvalidArgument would reach an HTTP client as a 400 it cannot fix).
TEST_F(S3StoreFakeTest, RequestTimeoutIsRetriedNotInvalidArgument) {
  server_.SetObject("root/dir/k", "value");
  server_.QueueFault(Fault::k400RequestTimeout);
  auto got = store_->Get("k", std::nullopt);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, "value");
  server_.QueueFault(Fault::k400RequestTimeout);
  Status put = store_->Put("k2", "v", PutMode::kCreateOnly);
  EXPECT_TRUE(put.ok()) << put.ToString();
  EXPECT_EQ(server_.objects().at("root/dir/k2"), "v");
  server_.QueueFault(Fault::k400RequestTimeout, 4);
  Status exhausted = store_->Put("k3", "v", PutMode::kOverwrite);
  EXPECT_EQ(exhausted.code(), StatusCode::kUnavailable) << exhausted.ToString();
}

TEST_F(S3StoreFakeTest, ClientErrorsAreNotRetried) {
  Status missing = store_->Get("missing", std::nullopt).status();
  EXPECT_TRUE(missing.IsNotFound()) << missing.ToString();
  EXPECT_NE(missing.message().find("NoSuchKey"), std::string::npos) << missing.ToString();
  EXPECT_TRUE(store_->Head("missing").status().IsNotFound());
  EXPECT_TRUE(store_->Delete("missing").ok());
  EXPECT_EQ(server_.counts().requests, 3);

  auto other = Open("no-such-bucket", 4);
  server_.ResetCounts();
  Status no_bucket = other->Put("k", "v", PutMode::kCreateOnly);
  EXPECT_EQ(no_bucket.code(), StatusCode::kFailedPrecondition) << no_bucket.ToString();
  EXPECT_NE(no_bucket.message().find("bucket 'no-such-bucket' does not exist"), std::string::npos);
  EXPECT_EQ(server_.counts().requests, 1);
  EXPECT_EQ(other->Delete("k").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->Put("bad key", "v", PutMode::kCreateOnly).code(), StatusCode::kInvalidArgument);
}

TEST_F(S3StoreFakeTest, CreateOnlyRefusesASecondWriteWithoutReadingBack) {
  ASSERT_TRUE(store_->Put("k", "one", PutMode::kCreateOnly).ok());
  EXPECT_TRUE(store_->Put("k", "one", PutMode::kCreateOnly).IsAlreadyExists());
  EXPECT_EQ(server_.counts().gets, 0);
  EXPECT_EQ(store_->stats().unknown_outcomes, 0u);
}

// RGW's conditional-PUT loser, or any lost acknowledgement: the PUT landed, the answer
// was 500. Reading back finds our bytes: OK.
TEST_F(S3StoreFakeTest, UnknownOutcomeWithOurBytesIsOk) {
  server_.QueueFault(Fault::kApplyThen500);
  Status s = store_->Put("k", "ours", PutMode::kCreateOnly);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(server_.counts().puts, 1);
  EXPECT_EQ(server_.counts().gets, 1);
  EXPECT_EQ(store_->stats().unknown_outcomes, 1u);

  server_.QueueFault(Fault::kApplyThenClose);
  s = store_->Put("k2", "ours", PutMode::kCreateOnly);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(server_.objects().at("root/dir/k2"), "ours");
}

// curl's silent resend of an empty object: a reused connection dies after the server
// applied the PUT, curl sends it again on a new connection, and the resend meets 412. With
// no body there is nothing to rewind, so the resend must be seen another way; the 412 is
// our own write.
TEST_F(S3StoreFakeTest, SilentResendOfAnEmptyObjectIsOurs) {
  ASSERT_TRUE(store_->Put("warm", "up", PutMode::kCreateOnly).ok());  // a keep-alive connection to reuse
  server_.QueueFault(Fault::kApplyThenClose);
  Status s = store_->Put("empty", "", PutMode::kCreateOnly);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(server_.objects().count("root/dir/empty"), 1u);
  // A real second write of the empty object is still refused.
  EXPECT_TRUE(store_->Put("empty", "", PutMode::kCreateOnly).IsAlreadyExists());
}

// The answer was 500 and another writer's bytes are there: AlreadyExists.
TEST_F(S3StoreFakeTest, UnknownOutcomeWithOtherBytesIsAlreadyExists) {
  server_.SetObject("root/dir/k", "theirs");
  server_.QueueFault(Fault::k500);
  Status s = store_->Put("k", "ours", PutMode::kCreateOnly);
  EXPECT_TRUE(s.IsAlreadyExists()) << s.ToString();
  EXPECT_EQ(server_.objects().at("root/dir/k"), "theirs");
  EXPECT_EQ(server_.counts().gets, 1);
}

// The answer was 500 and nothing is there: the PUT did not land, so it is sent again.
TEST_F(S3StoreFakeTest, UnknownOutcomeWithNothingThereRetriesThePut) {
  server_.QueueFault(Fault::k500);
  server_.QueueFault(Fault::kClose);  // the read-back's first try
  Status s = store_->Put("k", "ours", PutMode::kCreateOnly);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(server_.objects().at("root/dir/k"), "ours");
  EXPECT_EQ(server_.counts().puts, 1);
  EXPECT_EQ(server_.counts().gets, 1);
}

// A lost acknowledgement, then a retry that meets 412: the 412 is our own earlier write.
TEST_F(S3StoreFakeTest, PreconditionFailedAfterAnUnknownOutcomeIsResolved) {
  server_.QueueFault(Fault::k500);           // not applied...
  server_.QueueFault(Fault::k500);           // ...and the read-back fails too
  server_.QueueFault(Fault::kApplyThen500);  // the retry lands, its answer is lost
  server_.QueueFault(Fault::k500);           // the read-back fails again
  Status s = store_->Put("k", "ours", PutMode::kCreateOnly);
  EXPECT_TRUE(s.ok()) << s.ToString();
}

// Throttling is a refusal, not an unknown outcome: no read-back.
TEST_F(S3StoreFakeTest, ThrottledCreateOnlyIsRetriedWithoutReadingBack) {
  server_.QueueFault(Fault::k503SlowDown, 2);
  EXPECT_TRUE(store_->Put("k", "v", PutMode::kCreateOnly).ok());
  EXPECT_EQ(server_.counts().gets, 0);
  EXPECT_EQ(server_.counts().requests, 3);
}

TEST_F(S3StoreFakeTest, ExhaustedCreateOnlyIsUnavailable) {
  server_.QueueFault(Fault::k500, 100);
  Status s = store_->Put("k", "v", PutMode::kCreateOnly);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
}

TEST_F(S3StoreFakeTest, ListPagesThroughContinuationTokens) {
  server_.set_page_keys_max(2);
  for (const char* k : {"p/1", "p/2", "p/3", "p/4", "p/5", "q/1", "pp"}) {
    ASSERT_TRUE(store_->Put(k, k, PutMode::kCreateOnly).ok());
  }
  server_.SetObject("elsewhere/p/9", "outside the root");
  server_.ResetCounts();
  auto all = store_->List("p/", "", 0);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  std::vector<std::string> keys;
  for (const ObjectInfo& o : *all) keys.push_back(o.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"p/1", "p/2", "p/3", "p/4", "p/5"}));
  EXPECT_EQ((*all)[0].size_bytes, 3u);
  EXPECT_EQ(server_.counts().lists, 3);
  auto after = store_->List("p/", "p/2", 3);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 3u);
  EXPECT_EQ((*after)[0].key, "p/3");
  EXPECT_EQ((*after)[2].key, "p/5");
  EXPECT_EQ(store_->List("", "", 0)->size(), 7u);
  EXPECT_EQ(server_.counts().unsorted_queries, 0);
  EXPECT_EQ(server_.counts().unsigned_requests, 0);
}

TEST_F(S3StoreFakeTest, ManyThreadsShareThePool) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        std::string key = "t" + std::to_string(t) + "/" + std::to_string(i);
        if (!store_->Put(key, key, PutMode::kCreateOnly).ok()) ++failures;
        auto got = store_->Get(key, std::nullopt);
        if (!got.ok() || *got != key) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store_->List("", "", 0)->size(), 160u);
}

TEST_F(S3StoreFakeTest, GetManyReadsInParallelInOrder) {
  for (int i = 0; i < 10; ++i) server_.SetObject("root/dir/o" + std::to_string(i), std::string(100, static_cast<char>('a' + i)));
  std::vector<S3RangedRead> reads;
  for (int i = 0; i < 40; ++i) {
    reads.push_back({"o" + std::to_string(i % 10), ByteRange{static_cast<uint64_t>(i), 5}});
  }
  reads.push_back({"o3", std::nullopt});
  reads.push_back({"o4", ByteRange{100, 5}});  // at the end: ""
  reads.push_back({"o5", ByteRange{0, 0}});    // nothing wanted: ""
  // Transient failures of single reads are retried one by one.
  server_.QueueFault(Fault::k503SlowDown, 2);
  server_.QueueFault(Fault::kClose);
  auto got = store_->GetMany(reads, 8);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), reads.size());
  for (int i = 0; i < 40; ++i) EXPECT_EQ((*got)[i], std::string(5, static_cast<char>('a' + i % 10))) << i;
  EXPECT_EQ((*got)[40], std::string(100, 'd'));
  EXPECT_EQ((*got)[41], "");
  EXPECT_EQ((*got)[42], "");
  EXPECT_EQ(server_.counts().unsigned_requests, 0);

  reads.push_back({"missing", std::nullopt});
  EXPECT_TRUE(store_->GetMany(reads, 4).status().IsNotFound());
  reads.back().key = "bad key";
  EXPECT_EQ(store_->GetMany(reads, 4).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(store_->GetMany({}, 4)->empty());
  EXPECT_EQ(store_->GetMany(std::vector<S3RangedRead>(kS3GetManyReadsMax + 1, {"o1", std::nullopt}), 4).status().code(),
            StatusCode::kInvalidArgument);
}

// A connection dropped mid-body: the answer's Content-Length says more than arrived. A cut
// body is never data: the read is retried, and fails once the attempts run out. The
// read-back of an unknown create-only outcome is a Get too: a cut read-back must not look
// like another writer's bytes.
TEST_F(S3StoreFakeTest, TruncatedBodyIsNeverData) {
  std::string value;
  for (int i = 0; i < 10000; ++i) value.push_back(static_cast<char>('a' + i % 26));
  server_.SetObject("root/dir/k", value);
  server_.QueueFault(Fault::kTruncateBody);
  auto whole = store_->Get("k", std::nullopt);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_EQ(*whole, value);
  EXPECT_EQ(server_.counts().gets, 2);

  server_.QueueFault(Fault::kTruncateBody);
  auto part = store_->Get("k", ByteRange{100, 5000});
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  EXPECT_EQ(*part, value.substr(100, 5000));

  server_.QueueFault(Fault::kTruncateBody, 4);  // every attempt
  auto cut = store_->Get("k", std::nullopt);
  EXPECT_EQ(cut.status().code(), StatusCode::kUnavailable)
      << (cut.ok() ? "returned " + std::to_string(cut->size()) + " bytes" : cut.status().ToString());

  // Without Content-Length or chunked framing, a cut body looks complete to curl: such an
  // answer cannot be verified, so it is an error.
  server_.QueueFault(Fault::kCloseDelimitedTruncated);
  auto unframed = store_->Get("k", std::nullopt);
  EXPECT_EQ(unframed.status().code(), StatusCode::kIOError)
      << (unframed.ok() ? "returned " + std::to_string(unframed->size()) + " bytes" : unframed.status().ToString());

  server_.QueueFault(Fault::kApplyThen500);
  server_.QueueFault(Fault::kTruncateBody);
  Status put = store_->Put("k2", value, PutMode::kCreateOnly);
  EXPECT_TRUE(put.ok()) << put.ToString();

  server_.QueueFault(Fault::kTruncateBody);
  auto many = store_->GetMany({{"k", std::nullopt}, {"k", ByteRange{1, 10}}}, 2);
  ASSERT_TRUE(many.ok()) << many.status().ToString();
  EXPECT_EQ((*many)[0], value);
  EXPECT_EQ((*many)[1], value.substr(1, 10));
}

// A 206 must carry the bytes asked for, cut short only by the object's end (Content-Range
// says where they are). A short answer taken as the object's end, or bytes from another
// offset, would be wrong data handed to a segment or vector reader.
TEST_F(S3StoreFakeTest, RangeAnswerOtherThanTheAskedBytesIsAnError) {
  server_.SetObject("root/dir/k", "0123456789");
  server_.QueueFault(Fault::kShortRange);
  auto short_read = store_->Get("k", ByteRange{2, 4});
  EXPECT_EQ(short_read.status().code(), StatusCode::kIOError)
      << (short_read.ok() ? "returned '" + *short_read + "'" : short_read.status().ToString());
  server_.QueueFault(Fault::kShiftedRange);
  auto shifted = store_->Get("k", ByteRange{2, 4});
  EXPECT_EQ(shifted.status().code(), StatusCode::kIOError)
      << (shifted.ok() ? "returned '" + *shifted + "'" : shifted.status().ToString());
  server_.QueueFault(Fault::kShortRange);
  auto many = store_->GetMany({{"k", ByteRange{2, 4}}}, 1);
  EXPECT_EQ(many.status().code(), StatusCode::kIOError)
      << (many.ok() ? "returned '" + (*many)[0] + "'" : many.status().ToString());
  // The object's end is a legitimate short answer.
  EXPECT_EQ(*store_->Get("k", ByteRange{8, 5}), "89");
  EXPECT_EQ(*store_->Get("k", ByteRange{2, 4}), "2345");
  EXPECT_EQ(*store_->Get("k", ByteRange{9, UINT64_MAX}), "9");
}

// An off-by-one continuation on the server: a page starts at the last key of the page
// before. List must not hand the engine a key twice (two "segments", two WAL records).
TEST_F(S3StoreFakeTest, ListRefusesARepeatedKey) {
  server_.set_page_keys_max(2);
  for (const char* k : {"p/1", "p/2", "p/3", "p/4", "p/5"}) server_.SetObject(std::string("root/dir/") + k, k);
  server_.QueueFault(Fault::kNone);  // the first page is fine
  server_.QueueFault(Fault::kListRepeatsLastKey);
  auto all = store_->List("p/", "", 0);
  std::string keys;
  if (all.ok()) {
    for (const ObjectInfo& o : *all) keys += o.key + " ";
  }
  EXPECT_EQ(all.status().code(), StatusCode::kCorruption) << (all.ok() ? "listed " + keys : all.status().ToString());
  auto again = store_->List("p/", "", 0);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->size(), 5u);
}

// A server that ignores If-None-Match would let two writers both "win" a WAL sequence
// number: the start-up probe refuses it.
TEST_F(S3StoreFakeTest, StoreIgnoringCreateOnlyIsRefused) {
  server_.set_ignore_create_only(true);
  Status probe = ProbeCreateOnly(*store_);
  EXPECT_EQ(probe.code(), StatusCode::kFailedPrecondition) << probe.ToString();
  auto db = Database::Open({.store = store_});
  EXPECT_EQ(db.status().code(), StatusCode::kFailedPrecondition) << db.status().ToString();
  server_.set_ignore_create_only(false);
  EXPECT_TRUE(ProbeCreateOnly(*store_).ok());
}

TEST_F(S3StoreFakeTest, UnreachableServerIsUnavailable) {
  S3StoreOptions options;
  options.bucket = "bucket";
  options.endpoint = "http://127.0.0.1:1";
  options.access_key_id = "k";
  options.secret_access_key = "s";
  options.retry = {.attempts_max = 2, .backoff_initial = std::chrono::milliseconds(1),
                   .backoff_max = std::chrono::milliseconds(1)};
  auto store = S3Store::Open(options);
  ASSERT_TRUE(store.ok());
  Status s = (*store)->Head("k").status();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("cannot reach http://127.0.0.1:1"), std::string::npos) << s.ToString();
}

TEST(S3RequestTest, UrlsAreEncodedAndSorted) {
  S3ClientConfig config{.endpoint = "http://127.0.0.1:7480", .bucket = "b"};
  S3Request request{.key = "dir/a b+c"};
  EXPECT_EQ(S3RequestUrl(config, request), "http://127.0.0.1:7480/b/dir/a%20b%2Bc");
  S3Request list;
  list.query["prefix"] = "dir/";
  list.query["list-type"] = "2";
  list.query["continuation-token"] = "a=b/c";
  EXPECT_EQ(S3RequestUrl(config, list),
            "http://127.0.0.1:7480/b?continuation-token=a%3Db%2Fc&list-type=2&prefix=dir%2F");
  config.virtual_host_style = true;
  config.endpoint = "https://s3.eu-west-1.amazonaws.com";
  EXPECT_EQ(S3RequestUrl(config, request), "https://b.s3.eu-west-1.amazonaws.com/dir/a%20b%2Bc");
  EXPECT_EQ(S3RequestUrl(config, list),
            "https://b.s3.eu-west-1.amazonaws.com/?continuation-token=a%3Db%2Fc&list-type=2&prefix=dir%2F");
}

TEST(S3StoreOptionsTest, EnvironmentFillsOnlyWhatIsMissing) {
  S3StoreOptions options;
  options.bucket = "bucket";
  options.prefix = "/a/b/";
  options.endpoint = "http://example.test:9000/";
  options.region = "eu-central-1";
  options.access_key_id = "key";
  options.secret_access_key = "secret";
  ASSERT_TRUE(options.ResolveFromEnvironment().ok());
  EXPECT_EQ(options.prefix, "a/b");
  EXPECT_EQ(options.endpoint, "http://example.test:9000");
  EXPECT_EQ(options.region, "eu-central-1");
  EXPECT_EQ(options.access_key_id, "key");

  S3StoreOptions half;
  half.bucket = "bucket";
  half.endpoint = "http://x";
  half.access_key_id = "only-the-key";
  EXPECT_EQ(half.ResolveFromEnvironment().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fathom

namespace fathom {
namespace {

TEST(ContentMd5Test, KnownDigests) {
  // RFC 1321's test suite (900150983cd24fb0..., f96b697d7cb7938d...), base64 as Content-MD5 carries them.
  EXPECT_EQ(ContentMd5Header(""), "Content-MD5: 1B2M2Y8AsgTpgAmY7PhCfg==");
  EXPECT_EQ(ContentMd5Header("abc"), "Content-MD5: kAFQmDzST7DWlj99KOF/cg==");
  EXPECT_EQ(ContentMd5Header("message digest"), "Content-MD5: +WtpfXy3k41SWi8xqvFh0A==");
}

// Every PUT carries the body's MD5, so a body damaged on the way is refused by the server
// (400 BadDigest, nothing stored) and sent again, never acknowledged as stored.
TEST_F(S3StoreFakeTest, ABodyDamagedInTransitIsRefusedAndSentAgain) {
  server_.QueueFault(Fault::kCorruptBodyInTransit);
  ASSERT_TRUE(store_->Put("a", "the bytes fathom sent", PutMode::kCreateOnly).ok());
  EXPECT_EQ(server_.objects().at("root/dir/a"), "the bytes fathom sent");
  server_.QueueFault(Fault::kCorruptBodyInTransit);
  ASSERT_TRUE(store_->Put("b", "overwritten bytes", PutMode::kOverwrite).ok());
  EXPECT_EQ(server_.objects().at("root/dir/b"), "overwritten bytes");
  EXPECT_EQ(server_.counts().bad_digests, 2);
  EXPECT_EQ(server_.counts().puts_without_md5, 0);
  // Damaged on every attempt: an error, nothing stored.
  server_.QueueFault(Fault::kCorruptBodyInTransit, 4);
  Status s = store_->Put("c", "never whole", PutMode::kCreateOnly);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_EQ(server_.objects().count("root/dir/c"), 0u);
}

}  // namespace
}  // namespace fathom
