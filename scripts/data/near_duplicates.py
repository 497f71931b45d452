"""Near-duplicate search in linear time: which corpus texts share >= 80 % of a query's character 5-grams.

Each text is normalised (lower case, digits to 0, punctuation to spaces, whitespace collapsed) and cut
into character 5-grams; the 5-grams are hashed with NumPy over a whole chunk of texts at once and reduced
to a one-permutation MinHash signature (256 bins, empty bins filled by optimal densification:
Shrivastava, 2017) in one pass, instead of 128 hash functions per 5-gram. LSH bands (36 bands of 7
bins) propose candidate pairs: a pair with Jaccard 0.8 becomes a candidate with probability 0.9998
(datasketch's default banding for 128 permutations at 0.8: 0.40). The signatures estimate each
candidate's Jaccard; candidates more than four standard errors below the threshold are dropped and every
other one is checked on its full 5-gram sets (a gram is a 31-bit hash there: two different grams of a
pair collide about once in 30,000 pairs), so a reported pair is a real one.

`Sketches` computes each text's signature once (text -> row), so the dedupe step, the leakage report and
the evaluation share the work.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import numpy as np

SHINGLE = 5
BINS = 256
BAND_ROWS = 7
BANDS = 36
CHUNK = 20_000  # texts hashed at once: bounds the temporary arrays to ~50 MB
QUERY_CHUNK = 20_000

# Multiplier and finaliser of splitmix64: cheap, well-mixed 64-bit hashing in vectorised NumPy.
_MUL = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_EMPTY = np.uint32(0xFFFFFFFF)

# ASCII texts are normalised by one byte translation: letters lower-cased, digits to 0, the rest spaces.
_ASCII = bytes(
    (b + 32 if 65 <= b <= 90 else b if 97 <= b <= 122 else 48 if 48 <= b <= 57 else 32) if b < 128 else 32
    for b in range(256)
)


def normalise(text: str) -> str:
    text = str(text)
    if text.isascii():
        return b" ".join(text.encode().translate(_ASCII).split()).decode()
    text = re.sub(r"\d", "0", text.lower())
    return " ".join(re.sub(r"[^\w\s]|_", " ", text).split())


def shingles(normalised: str) -> set[str]:
    if len(normalised) <= SHINGLE:
        return {normalised}
    return {normalised[i : i + SHINGLE] for i in range(len(normalised) - SHINGLE + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _mix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def _fold(columns: Iterable[np.ndarray]) -> np.ndarray:
    """A 5-gram's characters, one array per position, folded into one 64-bit value per window."""
    value = np.uint64(0x243F6A8885A308D3)
    for column in columns:
        value = (value ^ column) * _MUL
    return value


def _shingle_hashes(normalised: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of every text's 5-grams (a text of <= 5 characters is one 5-gram) and their owners."""
    lengths = np.fromiter(map(len, normalised), dtype=np.int64, count=len(normalised))
    codes = np.frombuffer("".join(normalised).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    codes = np.concatenate([codes, np.zeros(SHINGLE, np.uint64)])  # zero = past the end (never a character)
    total = int(lengths.sum())
    hashes = _fold(codes[j : j + total] for j in range(SHINGLE))
    starts = np.cumsum(lengths) - lengths
    owners = np.repeat(np.arange(len(lengths)), lengths)
    valid = np.ones(total, bool)
    long = lengths > SHINGLE
    tails = (starts[long] + lengths[long])[:, None] - np.arange(1, SHINGLE)[None, :]
    valid[tails.ravel()] = False  # windows running into the next text
    short = np.flatnonzero(~long)
    if short.size:  # windows of short texts run past their end: hash them alone, zero-padded
        valid[np.isin(owners, short)] = False
        window = starts[short][:, None] + np.arange(SHINGLE)[None, :]
        inside = np.arange(SHINGLE)[None, :] < lengths[short][:, None]
        padded = np.where(inside, codes[np.minimum(window, codes.size - 1)], np.uint64(0))
        extra = _fold(padded[:, j] for j in range(SHINGLE))
        return _mix(np.concatenate([hashes[valid], extra])), np.concatenate([owners[valid], short])
    return _mix(hashes[valid]), owners[valid]


def _probes(attempts: int) -> np.ndarray:
    """The bin each empty bin borrows from at each attempt: one fixed random sequence per bin."""
    return np.random.default_rng(20141).integers(0, BINS, size=(attempts, BINS))


_PROBES = _probes(4 * BINS)


def signatures(normalised: list[str]) -> np.ndarray:
    """One-permutation MinHash: per text, the smallest 5-gram hash in each of BINS bins (uint32). An empty
    bin takes the value of the first filled bin along its own fixed random probe sequence ("optimal
    densification", Shrivastava 2017): the same for every text, so equal texts fill equally and unrelated
    short texts do not share runs of borrowed bins."""
    n = len(normalised)
    hashes, owners = _shingle_hashes(normalised)
    bins = (hashes >> np.uint64(64 - 8)).astype(np.int64)  # top 8 bits: one of 256 bins
    flat = np.full(n * BINS, _EMPTY, np.uint32)
    np.minimum.at(flat, owners * BINS + bins, (hashes & np.uint64(0xFFFFFFFF)).astype(np.uint32))
    out = flat.copy()
    empty = np.flatnonzero(flat == _EMPTY)  # (text, bin) cells still to fill, as flat positions
    first_cell, bin_of = empty - empty % BINS, empty % BINS
    for probe in _PROBES:
        if not empty.size:
            break
        value = flat[first_cell + probe[bin_of]]
        hit = value != _EMPTY
        out[empty[hit]] = value[hit]
        empty, first_cell, bin_of = empty[~hit], first_cell[~hit], bin_of[~hit]
    # a text with very few 5-grams may outlast the probes: its smallest hash fills the rest
    out[empty] = flat.reshape(n, BINS).min(axis=1)[empty // BINS]
    return out.reshape(n, BINS)


def band_keys(sig: np.ndarray) -> np.ndarray:
    """One 32-bit key per LSH band of BAND_ROWS bins: texts sharing a key are candidate pairs (a chance
    collision only adds a candidate, which the estimate then drops)."""
    keys = np.empty((sig.shape[0], BANDS), np.uint32)
    for band in range(BANDS):
        key = np.full(sig.shape[0], np.uint64(band + 1))
        for j in range(band * BAND_ROWS, (band + 1) * BAND_ROWS):
            key = (key ^ sig[:, j].astype(np.uint64)) * _MUL
        keys[:, band] = _mix(key) >> np.uint64(32)
    return keys


class Sketches:
    """Each distinct text's signature (kept as its low 8 bits, enough to estimate Jaccard), band keys,
    5-gram count and normalised form's hash, computed once however often the text is looked up; also the
    last corpus's band index and the exact checks already made."""

    def __init__(self) -> None:
        self._row: dict[str, int] = {}
        self.sig = np.empty((0, BINS), np.uint8)
        self.bands = np.empty((0, BANDS), np.uint32)
        self.size = np.empty(0, np.int32)
        self.exact = np.empty(0, np.int64)
        self.checked: dict[tuple[int, int], float] = {}  # row pair -> exact Jaccard
        self._index: tuple[bytes, list[tuple[np.ndarray, np.ndarray]]] | None = None

    def rows(self, texts: list[str]) -> np.ndarray:
        new = list(dict.fromkeys(t for t in texts if t not in self._row))
        if new:
            first = len(self._row)
            grown = [np.empty((first + len(new), *a.shape[1:]), a.dtype) for a in self._arrays()]
            for array, old in zip(grown, self._arrays()):
                array[:first] = old
            self.sig, self.bands, self.size, self.exact = grown
            for start in range(0, len(new), CHUNK):
                normalised = [normalise(t) for t in new[start : start + CHUNK]]
                sig = signatures(normalised)
                at = slice(first + start, first + start + len(normalised))
                self.sig[at], self.bands[at] = sig, band_keys(sig)
                self.size[at] = [max(len(t) - SHINGLE + 1, 1) for t in normalised]
                self.exact[at] = [hash(t) for t in normalised]
            self._row.update((t, first + i) for i, t in enumerate(new))
        return np.fromiter((self._row[t] for t in texts), dtype=np.int64, count=len(texts))

    def _arrays(self) -> tuple[np.ndarray, ...]:
        return self.sig, self.bands, self.size, self.exact

    def index(self, corpus_rows: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per band: the corpus positions sorted by key, and the sorted keys (kept for the next call)."""
        key = corpus_rows.tobytes()
        if self._index is None or self._index[0] != key:
            index = []
            for band in range(BANDS):
                keys = self.bands[corpus_rows, band]
                order = np.argsort(keys).astype(np.int32)
                index.append((order, keys[order]))
            self._index = (key, index)
        return self._index[1]


def _candidates(query_rows: np.ndarray, corpus_rows: np.ndarray, sk: Sketches) -> np.ndarray:
    """Unique (query position, corpus position) pairs sharing at least one band key."""
    found = []
    for band, (order, keys) in enumerate(sk.index(corpus_rows)):
        wanted = sk.bands[query_rows, band]
        low, high = np.searchsorted(keys, wanted, "left"), np.searchsorted(keys, wanted, "right")
        count = high - low
        if not count.any():
            continue
        queries = np.repeat(np.arange(len(query_rows)), count)
        offsets = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        found.append(queries * len(corpus_rows) + order[np.repeat(low, count) + offsets])
    if not found:
        return np.empty((0, 2), np.int64)
    pairs = np.sort(np.concatenate(found))
    pairs = pairs[np.concatenate([[True], pairs[1:] != pairs[:-1]])]
    return np.stack([pairs // len(corpus_rows), pairs % len(corpus_rows)], axis=1)


def _estimates(sk: Sketches, a: np.ndarray, b: np.ndarray, block: int = 100_000) -> np.ndarray:
    """The share of equal signature bins of rows a[i] and b[i], in blocks to bound the gathered copies."""
    out = np.empty(len(a), np.float32)
    for start in range(0, len(a), block):
        at = slice(start, start + block)
        out[at] = np.count_nonzero(sk.sig[a[at]] == sk.sig[b[at]], axis=1) / BINS
    return out


def near_copies(
    queries: list[str],
    corpus: list[str],
    threshold: float = 0.8,
    sketches: Sketches | None = None,
    first_only: bool = False,
) -> list[list[int]]:
    """For each query text, the corpus rows that are near-duplicates of it (Jaccard >= threshold), sorted;
    with first_only, at most one (the most similar by estimate): enough to know whether it has any."""
    sk = sketches or Sketches()
    corpus_rows, query_rows = sk.rows(corpus), sk.rows(queries)
    found: list[list[int]] = [[] for _ in queries]
    if not len(corpus_rows) or not len(query_rows):
        return found
    for start in range(0, len(query_rows), QUERY_CHUNK):
        chunk = query_rows[start : start + QUERY_CHUNK]
        pairs = _candidates(chunk, corpus_rows, sk)
        if not len(pairs):
            continue
        q_rows, c_rows = chunk[pairs[:, 0]], corpus_rows[pairs[:, 1]]
        estimate = _estimates(sk, q_rows, c_rows)
        # the estimate's standard error shrinks with the bins actually filled by distinct 5-grams
        samples = np.minimum(np.minimum(sk.size[q_rows], sk.size[c_rows]), BINS)
        keep = estimate >= threshold - 4 * np.sqrt(threshold * (1 - threshold) / samples)
        pairs = pairs[keep][np.lexsort((-estimate[keep], pairs[keep, 0]))]  # by query, most similar first
        if not len(pairs):
            continue
        pairs = np.stack([chunk[pairs[:, 0]], corpus_rows[pairs[:, 1]], start + pairs[:, 0], pairs[:, 1]], 1)
        if first_only:  # each query's most similar candidate first: most queries with a copy stop there
            best = np.concatenate([[True], pairs[1:, 2] != pairs[:-1, 2]])
            _check(sk, pairs[best], queries, corpus, threshold, found)
            pairs = pairs[~best]
            pairs = pairs[[not found[q] for q in pairs[:, 2].tolist()]]
        _check(sk, pairs, queries, corpus, threshold, found)
    return [sorted(set(hits)) for hits in found]


def _check(
    sk: Sketches,
    pairs: np.ndarray,
    queries: list[str],
    corpus: list[str],
    threshold: float,
    found: list[list[int]],
) -> None:
    """The exact check of (query row, corpus row, query position, corpus position) pairs: Jaccard of the
    two texts' full 5-gram sets, remembered by row pair."""
    todo = np.array([(a, b) for a, b in pairs[:, :2].tolist() if (a, b) not in sk.checked], np.int64)
    if len(todo):
        texts = {a: queries[q] for (a, _, q, _) in pairs.tolist()}
        texts.update((b, corpus[c]) for (_, b, _, c) in pairs.tolist())
        rows, where = np.unique(todo, return_inverse=True)
        where = where.reshape(todo.shape)
        grams = _gram_matrix([texts[r] for r in rows.tolist()])
        shared = np.asarray(grams[where[:, 0]].multiply(grams[where[:, 1]]).sum(axis=1)).ravel()
        sizes = np.diff(grams.indptr)
        similarity = shared / (sizes[where[:, 0]] + sizes[where[:, 1]] - shared)
        sk.checked.update(zip(map(tuple, todo.tolist()), similarity.tolist()))
    for a, b, q, c in pairs.tolist():
        if sk.checked[(a, b)] >= threshold:
            found[q].append(c)


def _gram_matrix(texts: list[str]) -> Any:
    """A 0/1 sparse matrix, a row per text, a column per 5-gram: the gram's 64-bit hash cut to 31 bits (two
    different grams of a pair of texts share a column about once in 30,000 pairs)."""
    from scipy import sparse

    hashes, owners = _shingle_hashes([normalise(t) for t in texts])
    columns = ((hashes >> np.uint64(33)) % np.uint64(2**31 - 1)).astype(np.int32)  # int32 column ids
    matrix = sparse.csr_matrix(
        (np.ones(len(columns), np.int32), (owners, columns)), shape=(len(texts), 2**31 - 1)
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1
    return matrix
