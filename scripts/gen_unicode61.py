#!/usr/bin/env python3
"""Derives fathom's unicode61 tables from the system SQLite's FTS5 tokenizer.

fathom's default analyzer must produce exactly the tokens of SQLite FTS5's `unicode61`
tokenizer (remove_diacritics=1). Rather than re-deriving its rules from the Unicode
database (FTS5 ships its own, older snapshot of the categories and case folds), this
script asks FTS5 itself about every code point and writes what it answers as a compact
two-level table:

  * start:  does the code point begin a token? (FTS5: categories L*, N*, Co, and the
            code points its table has no entry for, which it files under category 0)
  * inside: may it continue a token? (the above, plus the combining marks FTS5 calls
            diacritics, U+0300..U+0331 minus a few, which never start a token)
  * fold:   what FTS5 writes for it inside a token (lower case, one diacritic removed;
            0 = nothing, as for the combining marks themselves)

The probe is one FTS5 row per code point c, with column a = c alone and column b =
"a" + c + "z"; `fts5vocab` (instance) then shows whether c starts a token (a) and
whether it continues one and what it folds to (b). Surrogates and U+FFFE/U+FFFF are not
probed: FTS5's UTF-8 reader turns them into U+FFFD before classifying, and so does
fathom's. Code points from U+100000 up are past FTS5's category table (category 0,
a token character, folded to itself); the probe checks that too.

Usage: python3 scripts/gen_unicode61.py > src/index/text/unicode61_tables.cc
"""
import sqlite3
import sys

LIMIT = 0x110000
TABLE_LIMIT = 0x100000  # the table covers [0, TABLE_LIMIT); above it: start+inside, identity
BLOCK_SHIFT = 6
BLOCK = 1 << BLOCK_SHIFT

SEPARATOR, INSIDE_ONLY, TOKEN = 0, 1, 3


def probed(c):
    return not (0xD800 <= c <= 0xDFFF or c in (0xFFFE, 0xFFFF))


def probe(remove_diacritics):
    db = sqlite3.connect(":memory:")
    db.text_factory = bytes
    db.execute("CREATE VIRTUAL TABLE t USING fts5(a, b, tokenize="
               f"'unicode61 remove_diacritics {remove_diacritics}')")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, instance)")
    with db:
        db.executemany(
            "INSERT INTO t(rowid, a, b) VALUES (?, ?, ?)",
            ((c, chr(c), "a" + chr(c) + "z") for c in range(LIMIT) if probed(c)))
    start = {}   # c -> folded bytes when c alone is a token
    inside = {}  # c -> list of tokens of "a" c "z"
    for term, doc, col, offset in db.execute(
            "SELECT term, doc, col, offset FROM v ORDER BY doc, col, offset"):
        if col == b"a" or col == "a":
            start[doc] = term
        else:
            inside.setdefault(doc, []).append(term)
    classes = [SEPARATOR] * TABLE_LIMIT
    folds = list(range(TABLE_LIMIT))
    above = set()
    for c in range(LIMIT):
        if not probed(c):
            continue
        toks = inside.get(c, [])
        if len(toks) == 1:
            t = toks[0]
            if not (t.startswith(b"a") and t.endswith(b"z")):
                sys.exit(f"unexpected inside token {t!r} for U+{c:04X}")
            mid = t[1:-1].decode("utf-8")
            if len(mid) > 1:
                sys.exit(f"U+{c:04X} folds to more than one code point: {mid!r}")
            fold = ord(mid) if mid else 0
            cls = TOKEN if c in start else INSIDE_ONLY
            if c in start and start[c].decode("utf-8") != mid:
                sys.exit(f"U+{c:04X} folds differently alone and inside a token")
        elif toks == [b"a", b"z"]:
            if c in start:
                sys.exit(f"U+{c:04X} starts a token but does not continue one")
            cls, fold = SEPARATOR, c
        else:
            sys.exit(f"unexpected tokens {toks!r} for U+{c:04X}")
        if c >= TABLE_LIMIT:
            if cls != TOKEN or fold != c:
                sys.exit(f"U+{c:04X}: expected a token character folded to itself")
            above.add(c)
            continue
        classes[c] = cls
        folds[c] = fold if cls != SEPARATOR else c
    # Not probed: give them U+FFFD's entry (never looked up: the reader maps them there).
    for c in range(TABLE_LIMIT):
        if not probed(c):
            classes[c], folds[c] = classes[0xFFFD], 0xFFFD if classes[0xFFFD] else c
    return classes, folds


def two_level(classes, folds):
    """Splits the per-code-point values into deduplicated blocks and a block index."""
    values = [((folds[c] - c) << 2) | classes[c] for c in range(TABLE_LIMIT)]
    for v in values:
        assert -(1 << 31) <= v < (1 << 31)
    blocks, block_ids, index = [], {}, []
    for b in range(TABLE_LIMIT // BLOCK):
        key = tuple(values[b * BLOCK:(b + 1) * BLOCK])
        if key not in block_ids:
            block_ids[key] = len(blocks)
            blocks.append(key)
        index.append(block_ids[key])
    assert len(blocks) < 65536
    return index, blocks


def write_table(out, name, index, blocks):
    out.write(f"static const uint16_t k{name}Index[{len(index)}] = {{\n")
    for i in range(0, len(index), 16):
        out.write("    " + ", ".join(str(x) for x in index[i:i + 16]) + ",\n")
    out.write(f"}};\n\nstatic const int32_t k{name}Blocks[{len(blocks)}][kBlockSize] = {{\n")
    for blk in blocks:
        if all(v == blk[0] for v in blk):
            out.write(f"    {{/* {BLOCK} x {blk[0]} */ " + ", ".join(str(v) for v in blk) + "},\n")
        else:
            for i in range(0, BLOCK, 16):
                lead = "    {" if i == 0 else "     "
                tail = "},\n" if i + 16 == BLOCK else ",\n"
                out.write(lead + ", ".join(str(v) for v in blk[i:i + 16]) + tail)
    out.write("};\n\n")


def main():
    classes1, folds1 = probe(1)
    classes0, folds0 = probe(0)
    if classes0 != classes1:
        sys.exit("token classes differ between remove_diacritics 0 and 1")
    for c in range(TABLE_LIMIT):
        if classes1[c] == TOKEN and (folds1[c] == 0 or folds0[c] == 0):
            sys.exit(f"U+{c:04X} starts a token but folds to nothing")
    index1, blocks1 = two_level(classes1, folds1)
    index0, blocks0 = two_level(classes0, folds0)
    n_token = sum(1 for c in classes1 if c == TOKEN)
    n_inside = sum(1 for c in classes1 if c == INSIDE_ONLY)
    n_fold1 = sum(1 for c in range(TABLE_LIMIT) if classes1[c] and folds1[c] != c)
    n_fold0 = sum(1 for c in range(TABLE_LIMIT) if classes0[c] and folds0[c] != c)
    out = sys.stdout
    out.write(f"""// GENERATED by scripts/gen_unicode61.py from SQLite {sqlite3.sqlite_version}'s FTS5 unicode61
// tokenizer. Do not edit: re-run the script (docs/design/text-analyzer.md says when).
//
// Provenance: the script inserts one FTS5 row per code point (column a = the code point
// alone, column b = "a" + code point + "z"), once with remove_diacritics 1 (FTS5's
// default) and once with remove_diacritics 0, and reads fts5vocab back: every entry is
// what that SQLite's FTS5 did, not a re-derivation from the Unicode database.
//
// Below U+{TABLE_LIMIT:X}: {n_token} code points start and continue tokens (L*, N*, Co and
// the code points FTS5's own table leaves unassigned), {n_inside} only continue one (the
// combining marks FTS5 calls diacritics); {n_fold1} fold to another code point or to nothing
// with remove_diacritics 1, {n_fold0} with remove_diacritics 0. From U+{TABLE_LIMIT:X} up every
// code point is a token character folded to itself (unicode61_tables.h).
#include "index/text/unicode61_tables.h"

namespace fathom::unicode61 {{
namespace {{

constexpr int kBlockSize = {BLOCK};

""")
    write_table(out, "RemoveDiacritics", index1, blocks1)
    write_table(out, "KeepDiacritics", index0, blocks0)
    out.write(f"""}}  // namespace

const FoldTable kRemoveDiacritics = {{kRemoveDiacriticsIndex, kRemoveDiacriticsBlocks}};
const FoldTable kKeepDiacritics = {{kKeepDiacriticsIndex, kKeepDiacriticsBlocks}};

}}  // namespace fathom::unicode61
""")
    print(f"gen_unicode61: {len(blocks1)} + {len(blocks0)} blocks of {BLOCK}, {n_token} token, "
          f"{n_inside} inside-only, {n_fold1} / {n_fold0} folded", file=sys.stderr)


if __name__ == "__main__":
    main()
