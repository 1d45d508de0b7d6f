"""A policy's Flesch reading ease: the formula, sentences as a reader meets them, short texts."""

from checks.readability import reading_ease, syllables


def test_the_score_is_the_flesch_formula():
    # 24 words of one syllable in 4 sentences: 206.835 - 1.015 * 6 - 84.6 * 1.
    assert reading_ease("The cat sat on the mat. " * 4) == 116.1


def test_long_words_and_long_sentences_read_harder():
    plain = "We keep your data safe. We do not sell it. You can ask us to delete it. " * 3
    legal = (
        "Notwithstanding the foregoing, the organisation may process personal information "
        "where such processing is necessary for the legitimate interests pursued by the "
        "controller or by a third party, including administrative, analytical and "
        "investigatory purposes. "
    ) * 2
    assert reading_ease(plain) > 80 > 30 > reading_ease(legal)


def test_each_heading_and_list_item_ends_a_sentence():
    listed = "Your rights\nYou can see the data we hold\nYou can ask us to delete it\n" * 3
    run_on = listed.replace("\n", " ")
    assert reading_ease(listed) > reading_ease(run_on)


def test_too_little_text_has_no_score():
    assert reading_ease("Privacy policy. We care.") is None
    assert reading_ease("\n  \n") is None


def test_syllables_are_counted_at_hyphenation_points():
    assert [syllables(w) for w in ("we", "never", "personal", "information")] == [1, 2, 3, 4]
