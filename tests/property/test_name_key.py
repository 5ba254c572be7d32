"""The customer name key is the one stored names were keyed with: trimmed, every run of
whitespace one space, case folded (`re.sub(r"\\s+", " ", name.strip()).casefold()`).
Stored `_nameKey` values and the unique name index depend on it staying exactly that."""

import re
import sys

from hypothesis import given
from hypothesis import strategies as st

from storage.customers import name_key

WHITESPACE = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
_SPACES = re.compile(r"\s+")


def reference(name: str) -> str:
    return _SPACES.sub(" ", name.strip()).casefold()


# Names built from words and every kind of whitespace, in runs, at either end too.
names = st.lists(
    st.one_of(st.text(min_size=1, max_size=6), st.text(alphabet=WHITESPACE, min_size=1)),
    max_size=8,
).map("".join)


@given(names)
def test_name_key_is_the_reference_key(name: str) -> None:
    assert name_key(name) == reference(name)


def test_every_whitespace_character_separates_words() -> None:
    for space in WHITESPACE:
        name = f"{space}Ac{space}{space}ME{space}"
        assert name_key(name) == reference(name) == "ac me"
