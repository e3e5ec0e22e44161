// probe_study: how many clusters each query of a data set needs, and whether query-time
// probing rules would beat the fixed (calibrated) probe count at equal recall. Issue 11
// asks for adaptive probing "once no unprobed cluster can improve the top k"; this measures
// what such rules could save at best, before building one.
//
// Per data set: an IvfIndex with default build options, 300 held-out queries, exact top-10
// by brute force. A true neighbour counts as found when its cluster was probed (quantization
// and re-rank losses are left out: this is the probing side alone, an upper bound on what
// a rule can save). Cost = rows of the probed clusters (codes scored). Rules, each at the
// cheapest parameter reaching the recall target:
//   fixed P      the first P clusters by centroid distance (what calibration picks);
//   ratio eps    clusters with d_j <= (1 + eps) d_1 (squared centroid distances; SPANN's rule);
//   additive a   clusters with d_j - d_1 <= a;
//   patience T   stop once the exact top-k has not changed over T consecutive clusters (an
//                oracle: a real search only has estimates), after at least P0 clusters.
// Results and the decision they led to: docs/design/recall-calibration.md, "Adaptive probing".
//
// Usage: probe_study [--rows 100000] [--queries 300] doc_384 bow_256 ...
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "bench_util.h"
#include "index/vector/data_zoo.h"
#include "index/vector/distance.h"
#include "index/vector/ivf_index.h"
#include "zoo_sets.h"

using namespace fathom;

namespace {

std::vector<float> Norms(const float* m, size_t rows, uint32_t dim) {
  std::vector<float> n(rows);
  for (size_t i = 0; i < rows; ++i) n[i] = std::sqrt(DotProduct(m + i * dim, m + i * dim, dim));
  return n;
}

std::string fmt_cost(double cost, double fixed) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "cost %.0f (%.2fx fixed)", cost, cost / fixed);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"probe_study: per-query probe needs and adaptive probing rules"};
  std::vector<std::string> names;
  size_t rows = 100000, queries = 300;
  std::string fvecs_dir = "/work/zoo-data";
  app.add_option("--rows", rows, "base rows per data set");
  app.add_option("--queries", queries, "held-out queries per data set");
  app.add_option("--fvecs-dir", fvecs_dir, "directory of <name>.fvecs embedding files");
  app.add_option("datasets", names, "data set names (zoo_bench's)")->required();
  CLI11_PARSE(app, argc, argv);
  std::optional<TextCorpus> corpus;
  for (const auto& name : names) {
    std::string why;
    const auto make = fathom::bench::ZooSet(name, fvecs_dir, &corpus, &why);
    if (!make) {
      std::printf("%s: skipped, %s\n", name.c_str(), why.c_str());
      continue;
    }
    auto ds = (*make)({.rows = rows, .queries = queries, .seed = 1, .threads = 2});
    fathom::bench::Check(ds.status(), name.c_str());
    const ZooDataset& d = *ds;
    IvfBuildOptions bo; bo.space = d.space; bo.threads = 2;
    auto index = IvfIndex::Build(MatrixView{d.base.data(), d.rows, d.dim}, bo);
    fathom::bench::Check(index.status(), "build");
    const auto cluster_of = index->ClusterOfSlots();
    const uint32_t C = index->clusters();
    const auto norms = Norms(d.base.data(), d.rows, d.dim);
    const uint32_t k = 10;
    const size_t Q = d.query_count;
    // per query: ranks of the true neighbours' clusters, centroid distances sorted
    std::vector<std::vector<uint32_t>> need(Q);
    std::vector<std::vector<float>> cd(Q);
    std::vector<std::vector<uint32_t>> csize(Q);
    // per query, per cluster rank: the distances of its rows (to simulate a running top-k)
    std::vector<std::vector<std::vector<float>>> rowd(Q);
    for (size_t q = 0; q < Q; ++q) {
      const float* qv = d.QueryRow(q);
      const float qn = std::sqrt(DotProduct(qv, qv, d.dim));
      std::vector<std::pair<float, uint32_t>> all(d.rows);
      for (size_t i = 0; i < d.rows; ++i) all[i] = {SpaceDistance(d.space, qv, qn, d.BaseRow(i), norms[i], d.dim), (uint32_t)i};
      std::partial_sort(all.begin(), all.begin() + k, all.end());
      auto order = index->CentroidOrder(qv);
      std::vector<uint32_t> rank(C);
      for (uint32_t r = 0; r < C; ++r) rank[order[r].second] = r;
      for (uint32_t i = 0; i < k; ++i) need[q].push_back(rank[cluster_of[all[i].second]]);
      std::sort(need[q].begin(), need[q].end());
      for (auto& e : order) { cd[q].push_back(e.first); csize[q].push_back(index->ClusterRows(e.second)); }
      rowd[q].assign(C, {});
      std::vector<float> dist(d.rows);
      for (auto& e : all) dist[e.second] = e.first;
      for (size_t i = 0; i < d.rows; ++i) rowd[q][rank[cluster_of[i]]].push_back(dist[i]);
    }
    // evaluate a rule: probes(q) -> recall, cost
    auto eval = [&](auto&& probes_of, double* recall, double* cost) {
      double r = 0, c = 0;
      for (size_t q = 0; q < Q; ++q) {
        uint32_t p = probes_of(q);
        uint32_t hit = 0; for (auto x : need[q]) hit += x < p;
        r += hit / double(k);
        for (uint32_t j = 0; j < p; ++j) c += csize[q][j];
      }
      *recall = r / Q; *cost = c / Q;
    };
    std::printf("\n## %s rows %zu clusters %u\n", name.c_str(), d.rows, C);
    // distribution of probes needed for full recall
    std::vector<uint32_t> full(Q), nine(Q);
    for (size_t q = 0; q < Q; ++q) { full[q] = need[q][k - 1] + 1; nine[q] = need[q][k - 2] + 1; }
    std::sort(full.begin(), full.end());
    std::printf("probes for 10/10: p10 %u p50 %u p90 %u p99 %u max %u\n", full[Q/10], full[Q/2], full[Q*9/10], full[Q*99/100], full[Q-1]);
    for (double target : {0.95, 0.97, 0.99}) {
      double best_fixed = 1e18, best_ratio = 1e18, best_add = 1e18; uint32_t bp = 0; double be = 0, ba = 0;
      for (uint32_t P = 1; P <= C; P = P < 16 ? P + 1 : P * 1.1) {
        double r, c; eval([&](size_t) { return P; }, &r, &c);
        if (r >= target) { best_fixed = c; bp = P; break; }
      }
      for (double eps = 0.002; eps < 20; eps *= 1.1) {
        double r, c; eval([&](size_t q) { uint32_t p = 1; while (p < C && cd[q][p] <= (1 + eps) * cd[q][0]) ++p; return p; }, &r, &c);
        if (r >= target) { best_ratio = c; be = eps; break; }
      }
      // additive on squared distances relative to the gap scale (d_1 itself)
      for (double a = 0.0005; a < 20; a *= 1.1) {
        double r, c; eval([&](size_t q) { uint32_t p = 1; while (p < C && cd[q][p] - cd[q][0] <= a) ++p; return p; }, &r, &c);
        if (r >= target) { best_add = c; ba = a; break; }
      }
      auto show = [](double cost, double fixed) {
        return cost >= 1e18 ? std::string("not reached") : fmt_cost(cost, fixed);
      };
      std::printf("target %.2f: fixed P=%u cost %.0f | ratio eps=%.3f %s | additive a=%.4f %s\n", target, bp,
                  best_fixed, be, show(best_ratio, best_fixed).c_str(), ba, show(best_add, best_fixed).c_str());
    }
    // patience: stop after the top-k did not change over `T` consecutive clusters (at least P0 probes)
    auto patience_probes = [&](size_t q, uint32_t T, uint32_t P0) {
      std::vector<float> top;  // max-heap of k
      uint32_t since = 0, p = 0;
      for (; p < C; ++p) {
        bool changed = false;
        for (float x : rowd[q][p]) {
          if (top.size() < k) { top.push_back(x); std::push_heap(top.begin(), top.end()); changed = true; }
          else if (x < top.front()) { std::pop_heap(top.begin(), top.end()); top.back() = x; std::push_heap(top.begin(), top.end()); changed = true; }
        }
        since = changed ? 0 : since + 1;
        if (p + 1 >= P0 && since >= T) return p + 1;
      }
      return C;
    };
    for (double target : {0.95, 0.97, 0.99}) {
      double best = 1e18, fixed = 1e18; uint32_t bt = 0, bp0 = 0;
      for (uint32_t P = 1; P <= C; P = P < 16 ? P + 1 : P * 1.1) {
        double r, c; eval([&](size_t) { return P; }, &r, &c);
        if (r >= target) { fixed = c; break; }
      }
      for (uint32_t P0 : {1u, 2u, 4u, 8u}) for (uint32_t T = 1; T < C; T = T < 8 ? T + 1 : T * 1.25) {
        double r, c; eval([&](size_t q) { return patience_probes(q, T, P0); }, &r, &c);
        if (r >= target) { if (c < best) { best = c; bt = T; bp0 = P0; } break; }
      }
      std::printf("target %.2f: patience T=%u P0=%u %s\n", target, bt, bp0,
                  best >= 1e18 ? "not reached" : fmt_cost(best, fixed).c_str());
    }
    std::fflush(stdout);
  }
}
