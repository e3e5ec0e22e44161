// fathom's own tests with the Chroma JS client (chromadb 3.5.0) against `fathom run`,
// run by tests/conformance/run_chroma_js.sh with FATHOM_JS_TESTS pointing here (ctest:
// conformance.fathom_js). The first test is upstream's
// test/collection.handle.test.ts "it should search with pre-computed embeddings"
// (chroma-core/chroma, Apache-2.0), which upstream skips because local Chroma has no
// search; the others exercise the Search API as a client builds it (Rrf, Knn, $bm25 as a
// raw rank literal, filters, select).
import { expect, test, beforeEach, describe } from "@jest/globals";
import { ChromaClient, Knn, Rrf, Search } from "../../src";
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
});
