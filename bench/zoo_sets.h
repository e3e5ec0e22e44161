// The data zoo's sets by name (index/vector/data_zoo.h), shared by the benchmarks that
// run on them (zoo_bench, probe_study): one place decides what "bow_256" or "doc_384"
// means.
#pragma once

#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bench_data.h"
#include "bench_util.h"
#include "index/vector/data_zoo.h"

namespace fathom::bench {

inline const std::vector<std::string>& ZooSetNames() {
  static const std::vector<std::string> names = {"uniform_64",      "uniform_128",    "uniform_256",
                                                 "gauss_decay_128", "bow_256",        "dup_128",
                                                 "ip_lognorm_128",  "synthetic_128",  "doc_384",
                                                 "man_384"};
  return names;
}

using ZooMaker = std::function<Result<ZooDataset>(const ZooOptions&)>;

// Makes the set `name` (one of ZooSetNames). The text corpus for bow_256 is loaded into
// `corpus` on first use and kept for later sets; fvecs sets read <fvecs_dir>/<name>.fvecs.
// nullopt (with the reason in *skipped) when the fvecs file is missing.
inline std::optional<ZooMaker> ZooSet(const std::string& name, const std::string& fvecs_dir,
                                      std::optional<TextCorpus>* corpus, std::string* skipped) {
  if (name.rfind("uniform_", 0) == 0) {
    const uint32_t dim = static_cast<uint32_t>(std::stoul(name.substr(8)));
    return ZooMaker([dim](const ZooOptions& o) { return MakeUniform(dim, o); });
  }
  if (name == "gauss_decay_128") return ZooMaker([](const ZooOptions& o) { return MakeDecayingGaussian(128, o); });
  if (name == "dup_128") return ZooMaker([](const ZooOptions& o) { return MakeDuplicates(128, o); });
  if (name == "ip_lognorm_128") return ZooMaker([](const ZooOptions& o) { return MakeLogNormalNorms(128, o); });
  if (name == "synthetic_128") {
    SyntheticOptions shape = ::bench::BenchDataOptions();
    shape.dim = 128;
    return ZooMaker([shape](const ZooOptions& o) { return MakeClustered(shape, o); });
  }
  if (name == "bow_256") {
    if (!*corpus) {
      const auto start = Clock::now();
      auto loaded = LoadTextCorpus(TextCorpusOptions{});
      Check(loaded.status(), "text corpus");
      *corpus = std::move(*loaded);
      std::printf("# text corpus: %zu distinct paragraphs from %zu files (/usr/share/common-licenses, "
                  "/usr/share/doc; prose files under /usr/share, /usr/lib) in %.1f s\n",
                  (*corpus)->paragraphs.size(), (*corpus)->files, Seconds(start));
    }
    const TextCorpus* text = &**corpus;
    return ZooMaker([text](const ZooOptions& o) { return MakeHashedBagOfWords(*text, 256, o); });
  }
  const std::string path = fvecs_dir + "/" + name + ".fvecs";
  if (!std::filesystem::exists(path)) {
    *skipped = path + " not found";
    return std::nullopt;
  }
  return ZooMaker([name, path](const ZooOptions& o) { return MakeFromFvecs(name, path, DistanceSpace::kCosine, o); });
}

}  // namespace fathom::bench
