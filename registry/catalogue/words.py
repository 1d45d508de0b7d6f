"""Find the entries matching some words in memory, from an index of every word each entry holds.

The database's full-text indexes (migration 0004) answer a word on a large registry in tens of
milliseconds, mostly reading every matching row to hand back its id. This index is built with
the filter index (facets.py), for the same search version, from the same text: an entry's name,
its kind and tags, its provider and its description, split into words the way the database
splits them (punctuation is a space, accents folded, lower case). A search's words must each
begin some word of the entry, as on every database; matching is then a few bitset operations.
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
        self.vocabulary: list[str] = []
        self._entries: list[array] = []
        self._bits: dict[int, int] = {}

    def add(self, entry_id: int, texts: Iterable[str | None]) -> None:
        """Record the words of an entry's texts (call once per entry, before finish)."""
        postings = self._postings
        for word in set(split(" ".join(text for text in texts if text))):
            postings[word].append(entry_id)

    def finish(self) -> None:
        """Sort the words so a prefix is a range of them, and set up the common words' bitsets."""
        postings, self._postings = self._postings, defaultdict(lambda: array("I"))
        self.vocabulary = sorted(postings)
        self._entries = [postings[word] for word in self.vocabulary]
        self._bits = {
            place: bits_of(held)
            for place, held in enumerate(self._entries)
            if len(held) >= KEEP_BITS_FROM
        }

    def matching(self, words: Iterable[str]) -> int:
        """Return the entries, as a bitset, holding a word that begins with each of words."""
        found = -1
        for word in words:
            found &= self._beginning(fold(word))
            if not found:
                return 0
        return max(found, 0)

    def _beginning(self, prefix: str) -> int:
        vocabulary, bits = self.vocabulary, self._bits
        place = bisect_left(vocabulary, prefix)
        found, loose = 0, bytearray()
        while place < len(vocabulary) and vocabulary[place].startswith(prefix):
            if place in bits:
                found |= bits[place]
            else:
                loose = _set_bits(loose, self._entries[place])
            place += 1
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
