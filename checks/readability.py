"""How easy a privacy policy is to read: its Flesch reading ease, syllables counted by pyphen."""

from __future__ import annotations

import functools
import re

from checks import lazy

# Words as a reader counts them: letters, with an apostrophe inside ("don't", "we’ll").
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_SENTENCE = re.compile(r"[.!?]+(?=\s|$)")
MIN_WORDS = 20  # fewer words than this give no meaningful score


@lazy.once
def _hyphenator():
    # pyphen's hyphenation patterns (those of LibreOffice, shipped in its wheel) mark where a word
    # may break, which is where one syllable ends and the next begins; the syllable counter
    # textstat itself used until 2023. Loaded once per process that reads policies.
    import pyphen

    return pyphen.Pyphen(lang="en_GB")


@functools.lru_cache(maxsize=50_000)
def syllables(word: str) -> int:
    """Count a word's syllables: its hyphenation points, plus one."""
    return len(_hyphenator().positions(word.lower())) + 1


def reading_ease(text: str) -> float | None:
    """Return a text's Flesch reading ease, to one decimal (higher is easier); None: too short.

    Each line (a heading, a paragraph, a list item) ends a sentence, as a reader meets it, and so
    does each ., ! or ? followed by a space.
    """
    words = sentences = syllable_count = 0
    for line in text.split("\n"):
        for sentence in _SENTENCE.split(line):
            found = _WORD.findall(sentence)
            if found:
                sentences += 1
                words += len(found)
                syllable_count += sum(syllables(w) for w in found)
    if words < MIN_WORDS:
        return None
    score = 206.835 - 1.015 * (words / sentences) - 84.6 * (syllable_count / words)
    return round(score, 1)
