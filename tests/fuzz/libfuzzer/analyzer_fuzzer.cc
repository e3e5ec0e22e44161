// libFuzzer entry point for the text analyzer (built by `make fuzz`): any bytes are
// document or query text, so the tokenizer must take all of them. Checks that every token
// is non-empty and at most kAnalyzerTokenBytesMax bytes, that the default analyzer's
// tokens hold no ASCII separator or upper-case letter, and that tokenizing is repeatable;
// ASan/UBSan check that nothing is read outside the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "index/text/analyzer.h"

namespace {

const std::vector<std::shared_ptr<const fathom::Analyzer>>& Analyzers() {
  static const auto* analyzers = [] {
    auto* list = new std::vector<std::shared_ptr<const fathom::Analyzer>>;
    list->push_back(fathom::Analyzer::Default());
    list->push_back(*fathom::Analyzer::Make({.remove_diacritics = false}));
    list->push_back(*fathom::Analyzer::Make({.stemmer = "english", .stop_words = {"the", "of"}}));
    list->push_back(*fathom::Analyzer::Make({.stemmer = "russian"}));
    return list;
  }();
  return *analyzers;
}

void Check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const auto& analyzer : Analyzers()) {
    std::vector<std::string> tokens;
    analyzer->ForEachToken(text, [&](std::string_view token) {
      Check(!token.empty() && token.size() <= fathom::kAnalyzerTokenBytesMax);
      tokens.emplace_back(token);
    });
    std::vector<std::string> again;
    analyzer->Tokenize(text, &again);
    Check(tokens == again);
  }
  std::vector<std::string> tokens;
  fathom::Analyzer::Default()->Tokenize(text, &tokens);
  for (const std::string& token : tokens) {
    for (char c : token) {
      unsigned char b = static_cast<unsigned char>(c);
      Check(b >= 0x80 || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9'));
    }
  }
  return 0;
}
