// Filter semantics (chroma.md section 2), including the deliberate choices documented in
// filter.h: one number line for ints and floats, any-element matching on arrays.
#include "index/meta/filter.h"

#include <gtest/gtest.h>

namespace fathom {
namespace {

Where Field(const std::string& key, CompareOp op, std::vector<Scalar> operands) {
  Where w;
  w.kind = Where::Kind::kField;
  w.key = key;
  w.op = op;
  w.operands = std::move(operands);
  return w;
}
Where Combine(Where::Kind kind, std::vector<Where> children) {
  Where w;
  w.kind = kind;
  w.children = std::move(children);
  return w;
}
WhereDocument Doc(WhereDocument::Kind kind, std::string pattern) {
  WhereDocument d;
  d.kind = kind;
  d.pattern = std::move(pattern);
  return d;
}

class FilterTest : public ::testing::Test {
 protected:
  bool Match(const std::optional<Where>& where, const std::optional<WhereDocument>& doc = std::nullopt) {
    auto f = CompiledFilter::Compile(where, doc);
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    return f.ok() && f->Matches(RecordView{id_, document_, metadata_});
  }
  std::string id_ = "rec1";
  std::optional<std::string> document_ = std::string("The quick brown fox");
  std::optional<Metadata> metadata_ = Metadata{{"n", int64_t{1}},
                                               {"f", 3.0},
                                               {"s", std::string("red")},
                                               {"b", true},
                                               {"tags", std::vector<std::string>{"a", "b"}},
                                               {"nums", std::vector<int64_t>{5, 10}}};
};

TEST_F(FilterTest, EqualityAcrossNumberTypes) {
  EXPECT_TRUE(Match(Field("n", CompareOp::kEq, {Scalar(1.0)})));
  EXPECT_TRUE(Match(Field("f", CompareOp::kEq, {Scalar(int64_t{3})})));
  EXPECT_FALSE(Match(Field("b", CompareOp::kEq, {Scalar(int64_t{1})})));  // bools are not numbers
  EXPECT_FALSE(Match(Field("s", CompareOp::kEq, {Scalar(int64_t{5})})));  // type mismatch: no match
}

TEST_F(FilterTest, RangesDoNotTruncateFloats) {
  EXPECT_FALSE(Match(Field("n", CompareOp::kGte, {Scalar(1.5)})));  // Chroma local's bug matched this
  EXPECT_TRUE(Match(Field("n", CompareOp::kLt, {Scalar(1.5)})));
  EXPECT_TRUE(Match(Field("f", CompareOp::kGt, {Scalar(int64_t{2})})));
  EXPECT_FALSE(Match(Field("n", CompareOp::kIn, {Scalar(1.5), Scalar(2.0)})));
}

TEST_F(FilterTest, NegationsMatchMissingKeys) {
  EXPECT_TRUE(Match(Field("missing", CompareOp::kNe, {Scalar(int64_t{1})})));
  EXPECT_TRUE(Match(Field("missing", CompareOp::kNin, {Scalar(int64_t{1})})));
  EXPECT_TRUE(Match(Field("missing", CompareOp::kNotContains, {Scalar(std::string("a"))})));
  EXPECT_FALSE(Match(Field("missing", CompareOp::kEq, {Scalar(int64_t{1})})));
  EXPECT_FALSE(Match(Field("missing", CompareOp::kGt, {Scalar(int64_t{0})})));
  EXPECT_FALSE(Match(Field("missing", CompareOp::kIn, {Scalar(int64_t{1})})));
  metadata_.reset();
  EXPECT_TRUE(Match(Field("n", CompareOp::kNe, {Scalar(int64_t{1})})));
}

TEST_F(FilterTest, ArrayValues) {
  EXPECT_TRUE(Match(Field("tags", CompareOp::kContains, {Scalar(std::string("a"))})));
  EXPECT_FALSE(Match(Field("tags", CompareOp::kContains, {Scalar(std::string("z"))})));
  EXPECT_TRUE(Match(Field("tags", CompareOp::kNotContains, {Scalar(std::string("z"))})));
  EXPECT_TRUE(Match(Field("tags", CompareOp::kEq, {Scalar(std::string("b"))})));  // any element
  EXPECT_TRUE(Match(Field("nums", CompareOp::kIn, {Scalar(int64_t{10}), Scalar(int64_t{99})})));
  EXPECT_TRUE(Match(Field("nums", CompareOp::kGt, {Scalar(int64_t{9})})));
  EXPECT_TRUE(Match(Field("nums", CompareOp::kContains, {Scalar(5.0)})));
}

// Chroma (reference/chroma.md, "where"): $contains matches a key's array value only; a
// plain value equal to the operand is not "contained" (issue 13, found by real clients).
TEST_F(FilterTest, ContainsLooksIntoArraysOnly) {
  EXPECT_FALSE(Match(Field("s", CompareOp::kContains, {Scalar(std::string("red"))})));
  EXPECT_TRUE(Match(Field("s", CompareOp::kNotContains, {Scalar(std::string("red"))})));
  EXPECT_FALSE(Match(Field("n", CompareOp::kContains, {Scalar(int64_t{1})})));
  EXPECT_TRUE(Match(Field("n", CompareOp::kNotContains, {Scalar(int64_t{1})})));
  EXPECT_TRUE(Match(Field("s", CompareOp::kEq, {Scalar(std::string("red"))})));
  EXPECT_TRUE(Match(Field("tags", CompareOp::kContains, {Scalar(std::string("b"))})));
  EXPECT_FALSE(Match(Field("tags", CompareOp::kNotContains, {Scalar(std::string("b"))})));
}

TEST_F(FilterTest, AndOrIncludingEmpty) {
  EXPECT_TRUE(Match(Combine(Where::Kind::kAnd, {})));
  EXPECT_FALSE(Match(Combine(Where::Kind::kOr, {})));
  EXPECT_TRUE(Match(Combine(Where::Kind::kOr, {Field("n", CompareOp::kEq, {Scalar(int64_t{2})}),
                                               Field("s", CompareOp::kEq, {Scalar(std::string("red"))})})));
  EXPECT_FALSE(Match(Combine(Where::Kind::kAnd, {Field("n", CompareOp::kEq, {Scalar(int64_t{2})}),
                                                 Field("s", CompareOp::kEq, {Scalar(std::string("red"))})})));
}

TEST_F(FilterTest, DocumentPredicates) {
  EXPECT_TRUE(Match(std::nullopt, Doc(WhereDocument::Kind::kContains, "ick bro")));
  EXPECT_FALSE(Match(std::nullopt, Doc(WhereDocument::Kind::kContains, "QUICK")));  // case-sensitive
  EXPECT_TRUE(Match(std::nullopt, Doc(WhereDocument::Kind::kContains, "")));
  EXPECT_TRUE(Match(std::nullopt, Doc(WhereDocument::Kind::kRegex, "^The\\s+q")));
  EXPECT_TRUE(Match(std::nullopt, Doc(WhereDocument::Kind::kNotRegex, "fox$x")));
  document_.reset();
  EXPECT_FALSE(Match(std::nullopt, Doc(WhereDocument::Kind::kContains, "")));
  EXPECT_TRUE(Match(std::nullopt, Doc(WhereDocument::Kind::kNotContains, "x")));
  EXPECT_TRUE(Match(std::nullopt, Doc(WhereDocument::Kind::kNotRegex, "x")));
}

TEST_F(FilterTest, IdAndEmbeddedDocumentClauses) {
  Where id;
  id.kind = Where::Kind::kId;
  id.op = CompareOp::kIn;
  id.operands = {Scalar(std::string("rec1")), Scalar(std::string("rec2"))};
  EXPECT_TRUE(Match(id));
  Where doc;
  doc.kind = Where::Kind::kDocument;
  doc.document = {Doc(WhereDocument::Kind::kNotContains, "cat")};
  EXPECT_TRUE(Match(Combine(Where::Kind::kAnd, {id, doc})));
}

TEST_F(FilterTest, WhereAndWhereDocumentAreAnded) {
  EXPECT_FALSE(Match(Field("n", CompareOp::kEq, {Scalar(int64_t{1})}), Doc(WhereDocument::Kind::kContains, "cat")));
  EXPECT_TRUE(Match(Field("n", CompareOp::kEq, {Scalar(int64_t{1})}), Doc(WhereDocument::Kind::kContains, "fox")));
}

TEST_F(FilterTest, InvalidFiltersAreRejected) {
  auto bad = [](const Where& w) { return CompiledFilter::Compile(w, std::nullopt).status().code(); };
  EXPECT_EQ(bad(Field("n", CompareOp::kGt, {Scalar(std::string("a"))})), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad(Field("n", CompareOp::kGt, {Scalar(true)})), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad(Field("n", CompareOp::kIn, {})), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad(Field("$n", CompareOp::kEq, {Scalar(true)})), StatusCode::kInvalidArgument);
  Where deep = Field("n", CompareOp::kEq, {Scalar(true)});
  for (int i = 0; i < 100; ++i) deep = Combine(Where::Kind::kAnd, {deep});
  EXPECT_EQ(bad(deep), StatusCode::kInvalidArgument);
  auto regex = CompiledFilter::Compile(std::nullopt, Doc(WhereDocument::Kind::kRegex, "(unclosed"));
  EXPECT_EQ(regex.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(regex.status().message().find("Regex syntax errror"), std::string::npos);
}

}  // namespace
}  // namespace fathom
