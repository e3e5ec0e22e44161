#!/usr/bin/python3
"""Real-text embedding datasets for fathom's benchmarks, made from text on this machine.

Two corpora of paragraphs, both built from files that Debian packages install:

  doc  paragraphs of the files under /usr/share/doc (plain and .gz). Binary files are
       skipped (a NUL byte, or too many control characters), as are formats that are not
       prose (PDF, PostScript, images, archives, CSS/JS/JSON/SVG); HTML is reduced to its
       text. Text is split on blank lines.
  man  paragraphs of the man pages under /usr/share/man (gzipped troff, man and mdoc
       macros, every language directory). Requests are interpreted just enough to get the
       running text: paragraph macros (.PP .TP .IP .SH .Pp .It ...) and blank lines end a
       paragraph, font macros keep their words, escapes become the character they name or
       nothing, definitions/tables' format lines/equations/conditionals are dropped, and
       pages that are only a `.so` link are skipped.

In both, a paragraph is kept when it has at least 5 whitespace-separated words (and at
most 1000: longer blank-line-free runs are build logs and tables), and exact duplicates
(after collapsing runs of whitespace) are kept once, as are identical files. Files are
read in sorted path order; symlinks are not followed (they only repeat other files).
--exclude (a regex on paths) leaves files out; by default the Google Cloud CLI packages'
files, which do not come from Debian and would be almost half of the man corpus.

Tokens are lowercased runs of Unicode word characters (`\\w+`). A gensim Word2Vec
(CBOW, window 5, min_count 3, 2 workers, seed 1) is trained per corpus on all of its
paragraphs; the number of epochs is derived from the corpus' token count (EPOCH_TOKENS
token-passes in total, clamped to [MIN_EPOCHS, MAX_EPOCHS]) so one corpus trains in about
2 to 3.2 minutes on 2 cores (doc: 4 epochs, man: 12). Each document's embedding is the
SIF-weighted mean (weight a/(a + p(w)), a=1e-3, Arora et al. 2017, without the
common-component removal) of its in-vocabulary word vectors, or the plain mean with
--weighting mean; documents with no in-vocabulary word are skipped. Vectors are not
normalised.

If a corpus has more than --max-docs paragraphs, a random sample of that many (Python's
random.Random(1), kept in corpus order) is embedded; training still uses every paragraph.

Outputs, per corpus, in --out:
  <corpus>_<dim>.fvecs  standard fvecs: per vector an int32 dimension (little-endian),
                        then that many float32s
  <corpus>_<dim>.txt    one line per vector, same order: the paragraph's first 200
                        characters with every run of whitespace (newlines included)
                        replaced by one space and control characters removed (UTF-8)

Determinism: the paragraphs and their order depend only on the machine's files (so on the
installed packages). Word2Vec is seeded, but with workers > 1 its threads race on the
shared weights, so two runs give slightly different vectors (not bit-identical); use
--workers 1 for reproducible vectors (about twice as slow).

Run with the Debian interpreter, which sees python3-gensim (scripts/install-bench-deps.sh):
    /usr/bin/python3 scripts/text_embeddings.py --out /work/zoo-data
"""

import argparse
import gzip
import hashlib
import html
import logging
import os
import random
import re
import sys
import time
import unicodedata

import numpy as np

DOC_ROOT = "/usr/share/doc"
MAN_ROOT = "/usr/share/man"
MIN_WORDS = 5
MAX_WORDS = 1000  # longer "paragraphs" are build/test logs and tables, not prose: dropped
# Files left out by default (regex on the path): the Google Cloud CLI packages, which this
# machine image carries from Google's own apt repository (not Debian's). Their 16,600
# generated gcloud_*.1 pages would otherwise make up almost half of the man corpus.
DEFAULT_EXCLUDE = r"/gcloud[_.][^/]*$|/google-cloud-cli"
TEXT_CHARS = 200
MAX_FILE_BYTES = 32 << 20

# Training budget: about EPOCH_TOKENS raw tokens processed in total per corpus (tokens x
# epochs). Measured on this project's 2-core machine, shared with a compiler: about 0.39M
# raw tokens/s for CBOW, dim 384, window 5, 2 workers when the compiler is quiet, 0.26M/s
# when it is busy; 50M is then 2 to 3.2 minutes (each run prints its own rate).
EPOCH_TOKENS = 50_000_000
MIN_EPOCHS = 3
MAX_EPOCHS = 20
SIF_A = 1e-3

# Not prose: skipped by extension (after removing a trailing .gz).
SKIP_EXT = {
    "pdf", "ps", "eps", "dvi", "png", "gif", "jpg", "jpeg", "ico", "bmp", "tif", "tiff",
    "svg", "svgz", "xcf", "tar", "tgz", "zip", "gz", "bz2", "xz", "zst", "lz", "jar",
    "class", "pyc", "so", "a", "o", "woff", "woff2", "ttf", "otf", "eot", "der", "p12",
    "css", "js", "mjs", "map", "json", "db", "sqlite", "bin", "mo", "wasm",
}
HTML_EXT = {"html", "htm", "xhtml"}

WORD_RE = re.compile(r"\w+")
BLANK_SPLIT_RE = re.compile(r"\n[ \t\f\v\r]*\n")
WS_RE = re.compile(r"\s+")
CTRL_RE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------------------- reading files

EXCLUDE_RE = None  # set from --exclude


def walk_files(root):
    """Regular files under root, sorted by path, symlinks not followed, --exclude left out."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            if EXCLUDE_RE is not None and EXCLUDE_RE.search(path):
                continue
            out.append(path)
    out.sort()
    return out


def read_maybe_gz(path):
    with open(path, "rb") as f:
        data = f.read(MAX_FILE_BYTES)
    if path.endswith(".gz") or data[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as g:
                data = g.read(MAX_FILE_BYTES)
        except (OSError, EOFError, gzip.BadGzipFile):
            return None
    return data


def decode_text(data):
    """Bytes to str, or None for binary data."""
    if b"\x00" in data[:65536]:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    sample = text[:65536]
    if sample and len(CTRL_RE.findall(sample)) > len(sample) / 100:
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def base_ext(path):
    name = os.path.basename(path).lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return name.rsplit(".", 1)[1] if "." in name else ""


HTML_DROP_RE = re.compile(r"<(script|style|head)\b.*?</\1\s*>|<!--.*?-->", re.S | re.I)
HTML_BLOCK_RE = re.compile(
    r"</?(p|div|h[1-6]|li|ul|ol|dl|dt|dd|pre|table|tr|td|th|section|article|header|footer|"
    r"nav|blockquote|hr|br|title|body|html|main|aside|figure|figcaption|details|summary)\b[^>]*>",
    re.I)
HTML_TAG_RE = re.compile(r"<[^>]*>")


def html_to_text(text):
    text = HTML_DROP_RE.sub(" ", text)
    text = HTML_BLOCK_RE.sub("\n\n", text)
    text = HTML_TAG_RE.sub("", text)
    return html.unescape(text)


# ---------------------------------------------------------------------------- troff

# Special characters \(xx and \[xx] worth keeping as text; anything else becomes nothing.
TROFF_CHARS = {
    "em": "\u2014", "en": "\u2013", "hy": "-", "mi": "-", "bu": "\u2022", "lq": "\u201c",
    "rq": "\u201d", "oq": "\u2018", "cq": "\u2019", "aq": "'", "dq": '"', "co": "\u00a9",
    "rg": "\u00ae", "tm": "\u2122", "ti": "~", "ha": "^", "ba": "|", "bv": "|", "rs": "\\",
    "sl": "/", "pl": "+", "eq": "=", "mu": "\u00d7", "di": "\u00f7", "<=": "\u2264",
    ">=": "\u2265", "!=": "\u2260", "->": "\u2192", "<-": "\u2190", "de": "\u00b0",
    "at": "@", "sh": "#", "Do": "$", "ga": "`", "aa": "\u00b4", "ul": "_", "ru": "_",
    "lB": "[", "rB": "]", "lC": "{", "rC": "}", "la": "\u27e8", "ra": "\u27e9", "Fo": "\u00ab",
    "Fc": "\u00bb", "fo": "\u2039", "fc": "\u203a", "ss": "\u00df", "'e": "\u00e9",
    "`e": "\u00e8", "'a": "\u00e1", "`a": "\u00e0", ":u": "\u00fc", ":o": "\u00f6",
    ":a": "\u00e4", "sc": "\u00a7", "ps": "\u00b6", "Eu": "\u20ac", "eu": "\u20ac",
}
TROFF_CHARS.update({
    "Bq": "\u201e", "bq": "\u201a", "ci": "\u25cb", "**": "\u2217", "+-": "\u00b1", "mc": "\u00b5",
    "ts": "\u03c2", "12": "\u00bd", "14": "\u00bc", "34": "\u00be", "S1": "\u00b9", "S2": "\u00b2",
    "S3": "\u00b3", "lA": "\u21d0", "rA": "\u21d2", "hA": "\u21d4", "ae": "\u00e6", "AE": "\u00c6",
    "oe": "\u0153", "OE": "\u0152", "/o": "\u00f8", "/O": "\u00d8", "/l": "\u0142", "/L": "\u0141",
    "-D": "\u00d0", "Sd": "\u00f0", "TP": "\u00de", "Tp": "\u00fe", "r!": "\u00a1", "r?": "\u00bf",
    "ct": "\u00a2", "Po": "\u00a3", "Ye": "\u00a5", "LC": "{", "RC": "}",
})
# Accented letters \('e \(:u \(,c \(oa ...: accent mark + letter, composed (NFC).
TROFF_ACCENTS = {"'": "\u0301", "`": "\u0300", "^": "\u0302", "~": "\u0303", ":": "\u0308",
                 ",": "\u0327", "o": "\u030a", "v": "\u030c", "u": "\u0306", "a": "\u0307"}
# Predefined strings \*x, \*(xx, \*[xx], and the ones pod2man and other generators define
# in their preambles (inside conditionals, which are skipped).
TROFF_STRINGS = {"lq": "\u201c", "rq": "\u201d", "R": "\u00ae", "Tm": "\u2122", "Lq": "\u201c",
                 "Rq": "\u201d", "aq": "'", "dq": '"', "Aq": "'", "C`": '"', "C'": '"',
                 'L"': "\u201c", 'R"': "\u201d", "''": "\u201d", "``": "\u201c", "Em": "\u2014",
                 "--": "\u2014", "Gt": ">", "Lt": "<", "Ba": "|", "Le": "\u2264", "Ge": "\u2265",
                 "Pi": "\u03c0", "Ne": "\u2260", "Am": "&", "q": '"'}

TROFF_ESC_RE = re.compile(
    r"\\(?:"
    r"(?P<comment>[\"#])"
    r"|f(?:\[[^\]]*\]|\(..|.)"
    r"|s(?:\[[^\]]*\]|[-+]?\(..|[-+]?'[^']*'|[-+]?\d\d?)"
    r"|\*(?:\[(?P<s1>[^\] ]*)[^\]]*\]|\((?P<s2>..)|(?P<s3>.))"
    r"|\((?P<c2>..)"
    r"|\[(?P<cb>[^\]\s\\]*)\]"
    r"|[nmgFYVM](?:\[[^\]]*\]|\(..|.)"
    r"|[hvwlLoXDbxSRZNBCu]'[^']*'"
    r"|k."
    r"|(?P<one>.)"
    r"|$)")
ONE_CHAR = {"e": "\\", "\\": "\\", "-": "-", "~": " ", " ": " ", "0": " ", "'": "\u00b4",
            "`": "`", ".": ".", "t": "\t", "E": "\\", "[": "[", "]": "]", "<": "<", ">": ">",
            "+": "+", "_": "_"}
# Strings the page being read defines with .ds (set by man_paragraphs).
_page_strings = {}
_string_depth = [0]


def _named_char(c):
    s = TROFF_CHARS.get(c)
    if s is not None:
        return s
    if len(c) == 2 and c[0] in TROFF_ACCENTS and c[1].isalpha():
        return unicodedata.normalize("NFC", c[1] + TROFF_ACCENTS[c[0]])
    return ""


def _char(cp):
    return "" if cp > 0x10FFFF or 0xD800 <= cp < 0xE000 else chr(cp)


def _troff_sub(m):
    if m.group("comment") is not None:
        return "\x00"
    for g in ("s1", "s2", "s3"):
        s = m.group(g)
        if s is not None:
            v = _page_strings.get(s)
            if v is None:
                return TROFF_STRINGS.get(s, "")
            if _string_depth[0] > 4:
                return ""
            _string_depth[0] += 1
            try:
                return troff_text(v)
            finally:
                _string_depth[0] -= 1
    c = m.group("c2")
    if c is not None:
        return _named_char(c)
    c = m.group("cb")
    if c is not None:
        if c.startswith("u") and len(c) >= 5:
            try:
                return "".join(_char(int(h, 16)) for h in c[1:].split("_"))
            except ValueError:
                return ""
        if c.startswith("char") and c[4:].isdigit():
            return _char(int(c[4:]))
        return _named_char(c)
    c = m.group("one")
    if c is not None:
        return ONE_CHAR.get(c, "")  # \& \| \^ \, \/ \) \c \: \% \{ \} \p ... -> nothing
    return ""


def troff_text(s):
    s = TROFF_ESC_RE.sub(_troff_sub, s)
    cut = s.find("\x00")
    return s if cut < 0 else s[:cut]


ARG_RE = re.compile(r'"((?:[^"]|"")*)"?|(\S+)')


def troff_args(rest):
    return [a.replace('""', '"') if a is not None and q is None else q
            for a, q in ((m.group(1), m.group(2)) for m in ARG_RE.finditer(rest))]


# Macros that end a paragraph (man(7), mdoc(7), ms, and raw requests).
BREAK_MACROS = {
    "PP", "P", "LP", "TP", "TQ", "IP", "HP", "SH", "SS", "RS", "RE", "sp", "bp", "ne", "EX", "EE",
    "Pp", "Lp", "Sh", "Ss", "It", "Bl", "El", "Bd", "Ed", "D1", "Dl", "Rs", "Re", "YS", "SY",
    "PD", "in", "ti", "nf", "fi", "TH", "Dd", "Dt", "Os", "Nm_SYN",
}
# Font macros: alternating ones join their arguments without spaces.
FONT_JOIN = {"BR", "BI", "IB", "IR", "RB", "RI"}
FONT_SPACE = {"B", "I", "R", "SB", "SM", "CW", "Tn"}
# mdoc macros whose arguments are text; macro names among the arguments are dropped.
MDOC_CALLABLE = {
    "Ac", "Ad", "An", "Ao", "Ap", "Aq", "Ar", "At", "Bc", "Bo", "Bq", "Brc", "Bro", "Brq",
    "Bsx", "Bx", "Cd", "Cm", "Dc", "Do", "Dq", "Dv", "Dx", "Ec", "Em", "En", "Eo", "Er",
    "Es", "Ev", "Fa", "Fc", "Fl", "Fn", "Fo", "Fr", "Ft", "Fx", "Ic", "In", "Lb", "Li",
    "Lk", "Ms", "Mt", "Nd", "Nm", "No", "Ns", "Nx", "Oc", "Oo", "Op", "Ot", "Ox", "Pa",
    "Pc", "Pf", "Po", "Pq", "Qc", "Ql", "Qo", "Qq", "Sc", "So", "Sq", "St", "Sx", "Sy",
    "Ta", "Tn", "Ux", "Va", "Vt", "Xc", "Xo", "Xr", "%A", "%B", "%C", "%D", "%I", "%J",
    "%N", "%O", "%P", "%Q", "%R", "%T", "%U", "%V", "D1", "Dl", "It", "Sh", "Ss", "Dt",
}
# Requests whose body runs to a closing line: skipped whole.
BLOCK_END = {"de": "..", "de1": "..", "am": "..", "ig": "..", "EQ": "EN", "PS": "PE"}


def man_paragraphs(text):
    """Paragraph strings of one troff page (man or mdoc)."""
    lines = text.split("\n")
    paras, cur = [], []
    nm = [""]  # mdoc: the page's name, which a bare .Nm repeats
    _page_strings.clear()

    def flush():
        if cur:
            paras.append(" ".join(cur))
            cur.clear()

    def emit(s):
        s = s.strip()
        if s:
            cur.append(s)

    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        i += 1
        if not line.strip():
            flush()
            continue
        if line[0] not in ".'":
            emit(troff_text(line))
            continue
        m = re.match(r"[.']\s*([^\s\\]*)\s*(.*)", line)
        name, rest = m.group(1), m.group(2)
        if not name or name.startswith('\\"') or name.startswith("\\#"):
            continue  # empty request or comment
        if name.startswith("\\"):
            continue
        end = BLOCK_END.get(name)
        if end:
            end_re = re.compile(r"\.\.\s*$" if end == ".." else r"[.']\s*" + end + r"\b")
            while i < n and not end_re.match(lines[i]):
                i += 1
            i += 1
            continue
        if name == "TS":  # table: skip options and format lines (up to one ending in '.')
            flush()
            while i < n and not lines[i].rstrip().endswith("."):
                i += 1
            i += 1
            while i < n and not re.match(r"[.']\s*TE\b", lines[i]):
                row = lines[i]
                i += 1
                if row.startswith((".", "'")) or row.strip() in ("_", "=", "T{", "T}"):
                    continue
                row = row.replace("T{", " ").replace("T}", " ")
                cells = [troff_text(c).strip() for c in row.split("\t")]
                emit(" ".join(c for c in cells if c not in ("", "_", "=")))
            i += 1
            flush()
            continue
        if name == "ds" or name == "ds1":
            _define_string(rest, True)
            continue
        if name in ("if", "ie", "el", "while"):
            # Conditionals: skip, including a \{ ... \} block; a one-line string definition
            # in one is kept unless the page already has one (the first branch is nroff's).
            d = re.search(r"[.']\s*ds\s+(.*)", rest)
            if d:
                _define_string(d.group(1), False)
            depth = line.count("\\{") - line.count("\\}")
            while depth > 0 and i < n:
                depth += lines[i].count("\\{") - lines[i].count("\\}")
                i += 1
            continue
        if name in ("SH", "SS", "Sh", "Ss"):
            flush()
            emit(troff_text(" ".join(troff_args(rest))))
            flush()
            continue
        if name in ("IP", "TQ"):
            flush()
            args = troff_args(rest)
            if args:
                emit(troff_text(args[0]))
            continue
        if name in BREAK_MACROS:
            flush()
            if name in ("It", "D1", "Dl"):
                emit(mdoc_text(rest))
            continue
        if name in FONT_JOIN:
            emit(troff_text("".join(troff_args(rest))))
            continue
        if name in FONT_SPACE:
            emit(troff_text(" ".join(troff_args(rest))))
            continue
        if name in ("UR", "MT", "UE", "ME"):
            if name in ("UE", "ME") and rest:
                if cur:
                    cur[-1] += troff_text(rest).strip()
            continue
        if name == "Nm":
            args = troff_args(rest)
            if args and not nm[0]:
                nm[0] = troff_text(args[0])
            emit(nm[0] + " " + mdoc_text(rest) if not args or args[0] in MDOC_CALLABLE
                 else mdoc_text(rest))
            continue
        if name in MDOC_CALLABLE:
            emit(mdoc_text(name + " " + rest))
            continue
        # Anything else (.br .ft .ad .na .nh .hy .ds .nr .so .ta .ll .Bk .Ek .Sm ...) adds no text.
    flush()
    return paras


def _define_string(rest, override):
    parts = rest.split(None, 1)
    if not parts:
        return
    value = parts[1] if len(parts) > 1 else ""
    if value.startswith('"'):
        value = value[1:]
    if override or parts[0] not in _page_strings:
        _page_strings[parts[0]] = value


def mdoc_text(rest):
    out, fl = [], False
    for a in troff_args(rest):
        if a in MDOC_CALLABLE:
            fl = a == "Fl"
            if fl:
                out.append("-")
            continue
        if fl and out and out[-1] == "-":
            out[-1] = "-" + a
        else:
            out.append(a)
    return troff_text(" ".join(out))


# ---------------------------------------------------------------------------- corpora

class Corpus:
    def __init__(self, name):
        self.name = name
        self.paras = []      # paragraph text, whitespace collapsed
        self.tokens = []     # list of interned token lists
        self.seen = set()
        self.files = 0
        self.files_skipped = 0
        self.raw_paras = 0
        self.dups = 0
        self.too_long = 0
        self.n_tokens = 0

    def add(self, para):
        self.raw_paras += 1
        norm = WS_RE.sub(" ", para).strip()
        words = norm.count(" ") + 1
        if words < MIN_WORDS:
            return
        if words > MAX_WORDS:
            self.too_long += 1
            return
        key = hashlib.blake2b(norm.encode("utf-8", "replace"), digest_size=12).digest()
        if key in self.seen:
            self.dups += 1
            return
        self.seen.add(key)
        toks = [sys.intern(t) for t in WORD_RE.findall(norm.lower())]
        self.paras.append(norm)
        self.tokens.append(toks)
        self.n_tokens += len(toks)


def unique_texts(root, corpus, skip=lambda path: False):
    """Yields (path, text) for each readable text file under root, once per distinct content
    (the same file often sits in several packages' directories); counts the rest as skipped."""
    seen_files = set()
    for path in walk_files(root):
        if skip(path):
            corpus.files_skipped += 1
            continue
        try:
            data = read_maybe_gz(path)
        except OSError:
            data = None
        if data is None:
            corpus.files_skipped += 1
            continue
        h = hashlib.blake2b(data, digest_size=16).digest()
        if h in seen_files:
            corpus.files_skipped += 1
            continue
        seen_files.add(h)
        text = decode_text(data)
        if text is None:
            corpus.files_skipped += 1
            continue
        yield path, text


def build_doc(corpus):
    for path, text in unique_texts(DOC_ROOT, corpus, skip=lambda p: base_ext(p) in SKIP_EXT):
        if base_ext(path) in HTML_EXT or text.lstrip()[:15].lower().startswith(("<!doctype html", "<html")):
            text = html_to_text(text)
        corpus.files += 1
        for para in BLANK_SPLIT_RE.split(text):
            corpus.add(para)


def build_man(corpus):
    for _, text in unique_texts(MAN_ROOT, corpus):
        body = [l for l in text.split("\n", 20) if l.strip() and not l.startswith(('.\\"', "'\\\""))]
        if body and re.match(r"\.so\s", body[0]) and len(text) < 512:
            corpus.files_skipped += 1  # alias of another page
            continue
        corpus.files += 1
        for para in man_paragraphs(text):
            corpus.add(para)


BUILDERS = {"doc": build_doc, "man": build_man}


# ---------------------------------------------------------------------------- embedding

def choose_epochs(n_tokens):
    if n_tokens <= 0:
        return MIN_EPOCHS
    return max(MIN_EPOCHS, min(MAX_EPOCHS, round(EPOCH_TOKENS / n_tokens)))


def train(corpus, dim, epochs, workers, sg):
    from gensim.models import Word2Vec
    model = Word2Vec(vector_size=dim, window=5, min_count=3, workers=workers, seed=1, sg=sg)
    t0 = time.time()
    model.build_vocab(corpus.tokens)
    t1 = time.time()
    model.train(corpus.tokens, total_examples=len(corpus.tokens), epochs=epochs)
    t2 = time.time()
    return model, t1 - t0, t2 - t1


def embed(model, token_lists, weighting):
    """(vectors float32 [m, dim], kept row indices into token_lists)."""
    import scipy.sparse as sp
    kv = model.wv
    key_to_index = kv.key_to_index
    counts = np.array([kv.get_vecattr(w, "count") for w in kv.index_to_key], dtype=np.float64)
    if weighting == "sif":
        p = counts / counts.sum()
        wt = SIF_A / (SIF_A + p)
    else:
        wt = np.ones(len(counts))
    indptr, indices, data, kept = [0], [], [], []
    for r, toks in enumerate(token_lists):
        ids = [key_to_index[t] for t in toks if t in key_to_index]
        if not ids:
            continue
        w = wt[ids]
        indices.extend(ids)
        data.extend((w / w.sum()).tolist())
        indptr.append(len(indices))
        kept.append(r)
    m = sp.csr_matrix((np.asarray(data, dtype=np.float32), np.asarray(indices, dtype=np.int64),
                       np.asarray(indptr, dtype=np.int64)),
                      shape=(len(kept), len(kv.index_to_key)))
    vecs = np.asarray(m @ kv.vectors.astype(np.float32), dtype=np.float32)
    return vecs, kept


def write_fvecs(path, vecs):
    n, d = vecs.shape
    rec = np.empty((n, d + 1), dtype="<i4")
    rec[:, 0] = d
    rec[:, 1:] = np.ascontiguousarray(vecs, dtype="<f4").view("<i4")
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        rec.tofile(f)
    os.replace(tmp, path)


def write_text(path, texts):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", errors="replace", newline="\n") as f:
        for t in texts:
            line = CTRL_RE.sub("", WS_RE.sub(" ", t[:TEXT_CHARS])).strip()
            f.write(line + "\n")
    os.replace(tmp, path)


def read_fvecs(path):
    raw = np.fromfile(path, dtype="<i4")
    d = int(raw[0])
    return raw.reshape(-1, d + 1)[:, 1:].view("<f4")


def sanity(name, vecs, texts, n_queries, k=4):
    norms = np.linalg.norm(vecs, axis=1)
    q = np.percentile(norms, [0, 1, 50, 99, 100])
    log(f"  norms: min {q[0]:.4f} p1 {q[1]:.4f} median {q[2]:.4f} p99 {q[3]:.4f} max {q[4]:.4f}")
    if n_queries <= 0:
        return
    unit = vecs / np.maximum(norms, 1e-12)[:, None]
    rng = random.Random("check " + name)
    for qi in rng.sample(range(len(vecs)), min(n_queries, len(vecs))):
        sims = unit @ unit[qi]
        order = np.argsort(-sims)[: k + 1]
        log(f"  query {qi}: {texts[qi][:110]!r}")
        for j in order:
            if j == qi:
                continue
            log(f"    {sims[j]:.3f} {j}: {texts[j][:110]!r}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--out", required=True, help="output directory (created if missing)")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--max-docs", type=int, default=150000, help="documents per corpus")
    ap.add_argument("--corpus", default="doc,man", help="comma-separated: doc, man")
    ap.add_argument("--epochs", type=int, default=0,
                    help="Word2Vec epochs (default: from the corpus' size, see EPOCH_TOKENS)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sg", type=int, default=0, choices=(0, 1), help="1 = skip-gram (slower)")
    ap.add_argument("--weighting", default="sif", choices=("sif", "mean"))
    ap.add_argument("--check", type=int, default=3,
                    help="print the nearest neighbours of this many random docs (0: none)")
    ap.add_argument("--exclude", default=DEFAULT_EXCLUDE,
                    help="regex: files whose path matches are not read ('' reads all; "
                         "default: the Google Cloud CLI's pages)")
    args = ap.parse_args()
    global EXCLUDE_RE
    EXCLUDE_RE = re.compile(args.exclude) if args.exclude else None

    names = [c.strip() for c in args.corpus.split(",") if c.strip()]
    for c in names:
        if c not in BUILDERS:
            ap.error(f"unknown corpus {c!r} (known: {', '.join(BUILDERS)})")
    os.makedirs(args.out, exist_ok=True)
    logging.basicConfig(level=logging.WARNING)
    t_all = time.time()
    for name in names:
        log(f"== corpus {name}")
        t0 = time.time()
        corpus = Corpus(name)
        BUILDERS[name](corpus)
        t_read = time.time() - t0
        log(f"  files read {corpus.files}, skipped {corpus.files_skipped}; paragraphs: "
            f"{corpus.raw_paras} split, {len(corpus.paras)} kept ({MIN_WORDS}..{MAX_WORDS} words; "
            f"{corpus.dups} duplicates, {corpus.too_long} longer dropped); tokens {corpus.n_tokens}; read {t_read:.1f}s")
        if not corpus.paras:
            log("  nothing to embed")
            continue
        epochs = args.epochs or choose_epochs(corpus.n_tokens)
        model, t_vocab, t_train = train(corpus, args.dim, epochs, args.workers, args.sg)
        log(f"  word2vec: vocabulary {len(model.wv.index_to_key)} (min_count 3), dim {args.dim}, "
            f"epochs {epochs}, vocab {t_vocab:.1f}s, train {t_train:.1f}s "
            f"({corpus.n_tokens * epochs / max(t_train, 1e-9) / 1e6:.2f}M raw tokens/s)")

        rows = list(range(len(corpus.paras)))
        if len(rows) > args.max_docs:
            rows = sorted(random.Random(1).sample(rows, args.max_docs))
        t2 = time.time()
        vecs, kept = embed(model, [corpus.tokens[r] for r in rows], args.weighting)
        texts = [corpus.paras[rows[k]] for k in kept]
        base = os.path.join(args.out, f"{name}_{args.dim}")
        write_fvecs(base + ".fvecs", vecs)
        write_text(base + ".txt", texts)
        t_embed = time.time() - t2
        log(f"  docs: {len(rows)} sampled, {len(rows) - len(kept)} without known words, "
            f"{len(kept)} written to {base}.fvecs/.txt ({args.weighting}); embed+write {t_embed:.1f}s")
        back = read_fvecs(base + ".fvecs")
        assert back.shape == vecs.shape and np.array_equal(back, vecs)
        with open(base + ".txt", encoding="utf-8") as f:
            lines = f.read().split("\n")
        assert len(lines) == len(kept) + 1 and lines[-1] == "", (len(lines), len(kept))
        sanity(name, vecs, lines, args.check)
        log(f"  corpus {name}: {time.time() - t0:.1f}s total")
        del model, corpus
    log(f"== all done in {time.time() - t_all:.1f}s")


if __name__ == "__main__":
    main()
