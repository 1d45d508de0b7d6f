"""Find the entries matching some words in memory, from an index of every word each entry holds.

The database's full-text indexes (migration 0004) answer a word on a large registry in tens of
milliseconds, mostly reading every matching row to hand back its id. This index is built with
the filter index (facets.py), for the same search version, from the same text: an entry's name,
its kind and tags, its provider and its description, split into words the way the database
splits them (punctuation is a space, accents folded, lower case). A search's words must each
begin some word of the entry, as on every database; matching is then a few bitset operations.
Built with weights, the index also says how well an entry matches (relevance): a word in the
name counts most, as it did in the database's own ranking, which this replaces. A common word
keeps a bitset per weight it has, so relevance is also reckoned a bitset at a time, never entry
by entry.
"""

import re
import unicodedata
from array import array
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from itertools import compress

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
        # A common word's entries by the weight the word has in them (only with weights).
        self._levels: dict[int, dict[int, int]] = {}

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
        if self._weights:
            self._levels = {
                place: _by_weight(self._entries[place], self._weights[place], bits)
                for place, bits in self._bits.items()
            }

    def relevance(self, words: Iterable[str], among: int) -> bytes:
        """Return how well each entry of the bitset among holds the words: byte i for entry i.

        For each word typed, the entry scores the weight of the best word it holds that begins
        with it; the scores are added up (at most 255), and higher is better. Only an index
        built with weights can say. The entries are kept in one bitset per score, so the work
        grows with the scores there are, not with the entries, and the scores are laid out a
        byte an entry in C: a sort can take them as its key.
        """
        scored = {0: among}
        for word in words:
            best = self._best_weights(fold(word), among)
            if not best:
                continue
            added: dict[int, int] = defaultdict(int)
            for score, entries in scored.items():
                for weight, holding in best.items():
                    if both := entries & holding:
                        added[score + weight] |= both
                        entries &= ~holding
                        if not entries:
                            break
                if entries:  # holding no word that begins with this one
                    added[score] |= entries
            scored = added
        # One byte an entry, 1 where it is in the set: times the score, the sets add up.
        laid_out = sum(_spread(entries) * min(score, 255) for score, entries in scored.items())
        return laid_out.to_bytes(max(1, among.bit_length()), "little")

    def _best_weights(self, prefix: str, among: int) -> dict[int, int]:
        """Return, per weight, the entries of among whose best word beginning with prefix has it."""
        levels, heaviest = self._levels, defaultdict(int)
        loose: defaultdict[int, list[int]] = defaultdict(list)
        for place in self._range(prefix):
            if place in levels:
                for weight, entries in levels[place].items():
                    heaviest[weight] |= entries
            else:
                for entry_id, weight in zip(
                    self._entries[place], self._weights[place], strict=True
                ):
                    loose[weight].append(entry_id)
        for weight, ids in loose.items():
            heaviest[weight] |= bits_of(ids)
        best, taken = {}, 0
        for weight in sorted(heaviest, reverse=True):
            if entries := heaviest[weight] & among & ~taken:
                best[weight] = entries
                taken |= entries
        return best

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


def _by_weight(ids: array, weights: array, every: int) -> dict[int, int]:
    """Return a word's entries as a bitset per weight it has in them (every: all of them)."""
    grouped: defaultdict[int, list[int]] = defaultdict(list)
    for entry_id, weight in zip(ids, weights, strict=True):
        grouped[weight].append(entry_id)
    if len(grouped) == 1:
        return dict.fromkeys(grouped, every)
    return {weight: bits_of(held) for weight, held in grouped.items()}


# The digits of a bitset in binary, as bytes of 0 and 1, for listing its members.
_FLAGS = bytes.maketrans(b"01", b"\x00\x01")
# The ids members picks from, made once: picking from a range made an int for every digit.
_ids: tuple[int, ...] = ()


def _flags(bits: int) -> bytes:
    """Return a byte per entry id of a bitset, from 0 to its highest: 1 for a member, else 0."""
    return bin(bits)[:1:-1].encode("ascii").translate(_FLAGS)  # no "0b"; bit 0 first


def _spread(bits: int) -> int:
    """Return a bitset with each bit moved to the lowest bit of its own byte (bit i to bit 8i)."""
    return int.from_bytes(_flags(bits), "little")


def members(bits: int) -> list[int]:
    """Return the entry ids in a bitset, in id order.

    Its binary digits, lowest first, select from the ids: every step runs in C, which listing
    them byte by byte in Python did not.
    """
    global _ids
    flags = _flags(bits)
    if len(flags) > len(_ids):
        _ids = tuple(range(max(len(flags), 2 * len(_ids))))  # one tuple swapped for another
    return list(compress(_ids, flags))
