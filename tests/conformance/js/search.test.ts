// fathom's own tests with the Chroma JS client (chromadb 3.5.0) against `fathom run`,
// run by tests/conformance/run_chroma_js.sh with FATHOM_JS_TESTS pointing here (ctest:
// conformance.fathom_js). The first test is upstream's
// test/collection.handle.test.ts "it should search with pre-computed embeddings"
// (chroma-core/chroma, Apache-2.0), which upstream skips because local Chroma has no
// search; the others exercise the Search API as a client builds it (Rrf, Knn, $bm25 as a
// raw rank literal, filters, select, a sparse vector index built with the client's Schema).
import { expect, test, beforeEach, describe } from "@jest/globals";
import {
  ChromaClient,
  Knn,
  Rrf,
  Schema,
  Search,
  SparseVectorIndexConfig,
} from "../../src";
import { EMBEDDINGS, IDS } from "../utils/data";

describe("fathom search", () => {
  const client = new ChromaClient({
    path: process.env.DEFAULT_CHROMA_INSTANCE_URL,
  });

  let collectionId: string;

  beforeEach(async () => {
    await client.reset();
    const collection = await client.createCollection({ name: "test" });
    collectionId = collection.id;
  });

  test("it should search with pre-computed embeddings", async () => {
    const handle = client.collection(collectionId);
    await handle.add({
      ids: IDS,
      embeddings: EMBEDDINGS,
    });
    const results = await handle.search(
      new Search()
        .rank({ $knn: { query: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] } })
        .limit(2),
    );
    expect(results).toBeDefined();
    expect(results.ids[0]).toHaveLength(2);
  });

  test("it fuses a vector and a BM25 ranking with Rrf", async () => {
    const collection = client.collection(collectionId);
    await collection.add({
      ids: ["a", "b", "c", "d"],
      embeddings: [
        [1, 0],
        [0.9, 0.1],
        [0, 1],
        [0.5, 0.5],
      ],
      documents: ["red apple pie", "green apple", "red car", "blue sky"],
      metadatas: [{ lang: "en" }, { lang: "en" }, { lang: "fr" }, { lang: "en" }],
    });
    const bm25 = { $bm25: { query: "red apple", limit: 10, default: 10, return_rank: true } };
    const knn = Knn({ query: [1, 0], limit: 10, default: 10, returnRank: true });
    const results = await collection.search(
      new Search()
        .where({ lang: "en" })
        .rank(Rrf({ ranks: [knn, bm25], k: 60 }))
        .limit(10)
        .select("#document", "#score"),
    );
    const ids = results.ids[0];
    const scores = results.scores![0]!;
    // knn ranks (filtered): a 0, b 1, d 2; bm25 ranks: a 0, b 1 (d gets the default 10).
    const expected: Record<string, number> = {
      a: -(1 / 60 + 1 / 60),
      b: -(1 / 61 + 1 / 61),
      d: -(1 / 62 + 1 / 70),
    };
    expect(ids).toEqual(["a", "b", "d"]);
    ids.forEach((id, i) => expect(scores[i]).toBeCloseTo(expected[id], 6));
    expect(results.documents![0]).toEqual(["red apple pie", "green apple", "blue sky"]);
  });

  test("it ranks sparse vectors through a sparse vector index and fuses them with Rrf", async () => {
    await client.deleteCollection({ name: "test" });
    const schema = new Schema().createIndex(new SparseVectorIndexConfig(), "sparse");
    const collection = await client.createCollection({
      name: "sparse",
      schema,
      embeddingFunction: null,
    });
    await collection.add({
      ids: ["a", "b", "c", "d"],
      embeddings: [
        [1, 0],
        [0.9, 0.1],
        [0, 1],
        [0.5, 0.5],
      ],
      metadatas: [
        { sparse: { indices: [1, 3], values: [1, 2] }, lang: "en" },
        { sparse: { indices: [2, 3], values: [0.5, 0.25] }, lang: "en" },
        { sparse: { indices: [1], values: [3] }, lang: "fr" },
        { lang: "en" },
      ],
    });
    // Inner products with {1: 1, 3: 0.5}: a 2, b 0.125, c 3; Chroma scores 1 - ip.
    const query = { indices: [1, 3], values: [1, 0.5] };
    const sparse = await collection.search(
      new Search().rank(Knn({ query, key: "sparse", limit: 10 })).select("#score", "sparse"),
    );
    expect(sparse.ids[0]).toEqual(["c", "a", "b"]);
    const scores = sparse.scores![0]!;
    [1 - 3, 1 - 2, 1 - 0.125].forEach((want, i) => expect(scores[i]).toBeCloseTo(want, 6));
    const returned = sparse.metadatas![0]![1]!.sparse as { indices: number[]; values: number[] };
    expect(returned.indices).toEqual([1, 3]);
    expect(returned.values).toEqual([1, 2]);

    // Filtered, and fused with a dense ranking by the client's Rrf.
    const fused = await collection.search(
      new Search()
        .where({ lang: "en" })
        .rank(
          Rrf({
            ranks: [
              Knn({ query, key: "sparse", limit: 10, default: 10, returnRank: true }),
              Knn({ query: [1, 0], limit: 10, default: 10, returnRank: true }),
            ],
            k: 60,
          }),
        )
        .select("#score"),
    );
    // sparse ranks (en only): a 0, b 1 (d: default 10); dense ranks: a 0, b 1, d 2.
    const expected: Record<string, number> = {
      a: -(1 / 60 + 1 / 60),
      b: -(1 / 61 + 1 / 61),
      d: -(1 / 70 + 1 / 62),
    };
    expect(fused.ids[0]).toEqual(["a", "b", "d"]);
    fused.ids[0].forEach((id, i) => expect(fused.scores![0]![i]).toBeCloseTo(expected[id], 6));
  });
});
