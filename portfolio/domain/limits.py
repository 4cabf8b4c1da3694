"""The limits on what people write, stated once.

- ``TEXT_LIMIT`` characters for a piece of free text a person writes in the cycle: a comment on
  the allocation report or its reply, a red-team challenge or its reply, a dissent, the Mission
  CEO's justification of a RAG override or reason for a change in the allocation, a reason given
  to or by Treasury. Longer text is refused with an error naming the field (never cut short); the
  limit counts the text with its leading and trailing whitespace stripped.
- ``LETTER_WORD_LIMIT``: the quarterly update letter is *under* 2,000 words (DESIGN.md, the
  quarterly cycle), counted by ``count_words``; the product's draft and the check of a letter
  the CEO saves count the same way.

Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import StringConstraints

TEXT_LIMIT = 5000
"""Characters a comment, reply, challenge, dissent, justification or reason may hold."""

LETTER_WORD_LIMIT = 2000
"""The quarterly update letter has fewer words than this (``count_words``)."""

LimitedText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TEXT_LIMIT)
]
"""A stored piece of free text within ``TEXT_LIMIT`` (what ``checked_text`` lets through)."""

TOO_LONG = f"is too long: at most {TEXT_LIMIT:,} characters"
"""The rule an over-long text breaks, in the words pydantic's own refusal is put in
(``portfolio.domain.errors.rule_in_words``)."""

_WORD = re.compile(r"\w", re.UNICODE)


def count_words(text: str) -> int:
    """Words of a letter: whitespace-separated tokens holding at least one letter or digit
    ("-" bullets, "—" and "#" do not count; "£4.0" and "2026-27" count once)."""
    return sum(1 for token in text.split() if _WORD.search(token))


def letter_within_limit(words: int) -> bool:
    """A letter of ``words`` words (``count_words``) is under ``LETTER_WORD_LIMIT``."""
    return words < LETTER_WORD_LIMIT


def letter_rule(words: int) -> str:
    """The rule a letter of ``words`` words breaks, in words, for its field's error."""
    return f"must be under {LETTER_WORD_LIMIT:,} words (it has {words:,})"


def text_problem(text: str, *, missing: str | None = None) -> str | None:
    """The rule ``text`` (stripped) breaks, or None: over ``TEXT_LIMIT`` characters, or empty
    when ``missing`` gives the rule to show then. For a form that reports every field at once;
    ``checked_text`` refuses at the first."""
    text = text.strip()
    if not text and missing is not None:
        return missing
    if len(text) > TEXT_LIMIT:
        return f"{TOO_LONG} (it has {len(text):,})"
    return None


def checked_text(field: str, text: str, *, missing: str | None = None) -> str:
    """``text`` stripped, refused (``InvalidInput`` naming ``field``) when it has more than
    ``TEXT_LIMIT`` characters — or when it is empty and ``missing`` gives the rule to show then
    ("write the comment"); without ``missing`` an empty text is allowed."""
    from portfolio.domain.errors import InvalidInput  # errors imports the model, which imports this

    if (problem := text_problem(text, missing=missing)) is not None:
        raise InvalidInput.single(field, problem)
    return text.strip()


def checked_letter(field: str, body: str) -> tuple[str, int]:
    """The letter stripped and its word count; refused (``InvalidInput`` naming ``field``) when
    it is empty or not under ``LETTER_WORD_LIMIT`` words."""
    from portfolio.domain.errors import InvalidInput  # errors imports the model, which imports this

    body = body.strip()
    if not body:
        raise InvalidInput.single(field, "the update is empty")
    words = count_words(body)
    if not letter_within_limit(words):
        raise InvalidInput.single(field, letter_rule(words))
    return body, words
