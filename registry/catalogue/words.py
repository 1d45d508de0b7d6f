"""Find the entries matching some words in memory, from an index of every word each entry holds.

The database's full-text indexes (migration 0004) answer a word on a large registry in tens of
milliseconds, mostly reading every matching row to hand back its id. This index is built with
the filter index (facets.py), for the same search version, from the same text: an entry's name,
its kind and tags, its provider and its description, split into words the way the database
splits them (punctuation is a space, accents folded, lower case). A search's words must each
begin some word of the entry, as on every database; matching is then a few bitset operations.
Built with weights, the index also says how well an entry matches (relevance): a word in the
name counts most, as it did in the database's own ranking, which this replaces.
"""

import re
import unicodedata
from array import array
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable

_WORD = re.compile(r"[^\W_]+")
# A word held by at least this many entries keeps its bitset ready; rarer words are set bit by bit.
KEEP_BITS_FROM = 64


def fold(text: str) -> str:
    """Return text lower-cased with its accents taken off, as the database's indexes fold it."""
    text = text.lower()
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def split(text: str) -> list[str]:
    """Return the words of a text, folded: letters and digits, anything else a space."""
    return _WORD.findall(fold(text))


class Words:
    """Every word in the registry's entries, in order, with the entries holding each."""

    def __init__(self) -> None:
        self._postings: defaultdict[str, array] = defaultdict(lambda: array("I"))
        self._weighed: defaultdict[str, array] = defaultdict(lambda: array("B"))
        self.vocabulary: list[str] = []
        self._entries: list[array] = []
        self._weights: list[array] = []
        self._bits: dict[int, int] = {}

    def add(
        self, entry_id: int, texts: Iterable[str | None], weights: Iterable[int] | None = None
    ) -> None:
        """Record the words of an entry's texts (call once per entry, before finish).

        With weights (one per text), each word also keeps how much it counts in this entry:
        the weights of the texts holding it, added up (see relevance).
        """
        postings = self._postings
        if weights is None:
            for word in set(split(" ".join(text for text in texts if text))):
                postings[word].append(entry_id)
            return
        held: dict[str, int] = {}
        for text, weight in zip(texts, weights, strict=True):
            if text:
                for word in set(_WORD.findall(fold(text))):
                    held[word] = held.get(word, 0) + weight
        weighed = self._weighed
        for word, weight in held.items():
            postings[word].append(entry_id)
            weighed[word].append(weight if weight < 255 else 255)

    def finish(self) -> None:
        """Sort the words so a prefix is a range of them, and set up the common words' bitsets."""
        postings, self._postings = self._postings, defaultdict(lambda: array("I"))
        weighed, self._weighed = self._weighed, defaultdict(lambda: array("B"))
        self.vocabulary = sorted(postings)
        self._entries = [postings[word] for word in self.vocabulary]
        self._weights = [weighed[word] for word in self.vocabulary] if weighed else []
        self._bits = {
            place: bits_of(held)
            for place, held in enumerate(self._entries)
            if len(held) >= KEEP_BITS_FROM
        }

    def relevance(self, words: Iterable[str], among: set[int]) -> dict[int, int]:
        """Return how well each entry of among holds the words (higher is better).

        For each word typed, the entry scores the weight of the best word it holds that begins
        with it; the scores are added up. Only an index built with weights can say.
        """
        score = dict.fromkeys(among, 0)
        for word in words:
            prefix, best = fold(word), {}
            for place in self._range(prefix):
                held = zip(self._entries[place], self._weights[place], strict=True)
                for entry_id, weight in held:
                    if entry_id in among and weight > best.get(entry_id, 0):
                        best[entry_id] = weight
            for entry_id, weight in best.items():
                score[entry_id] += weight
        return score

    def _range(self, prefix: str) -> range:
        """Return the places in the vocabulary of the words that begin with prefix."""
        vocabulary = self.vocabulary
        start = place = bisect_left(vocabulary, prefix)
        while place < len(vocabulary) and vocabulary[place].startswith(prefix):
            place += 1
        return range(start, place)

    def matching(self, words: Iterable[str]) -> int:
        """Return the entries, as a bitset, holding a word that begins with each of words."""
        found = -1
        for word in words:
            found &= self._beginning(fold(word))
            if not found:
                return 0
        return max(found, 0)

    def _beginning(self, prefix: str) -> int:
        bits, found, loose = self._bits, 0, bytearray()
        for place in self._range(prefix):
            if place in bits:
                found |= bits[place]
            else:
                loose = _set_bits(loose, self._entries[place])
        return found | int.from_bytes(loose, "little") if loose else found


def _set_bits(bitmap: bytearray, ids: array | list[int]) -> bytearray:
    need = max(ids) // 8 + 1
    if need > len(bitmap):
        bitmap.extend(bytes(need - len(bitmap)))
    for entry_id in ids:
        bitmap[entry_id >> 3] |= 1 << (entry_id & 7)
    return bitmap


def bits_of(ids: Iterable[int]) -> int:
    """Return a bitset of entry ids."""
    ids = list(ids)
    return int.from_bytes(_set_bits(bytearray(), ids), "little") if ids else 0
