"""The customer name key: NFKC-normalised, case-folded, trimmed, every run of whitespace one
space (`schemas.text.comparable_name`). For ASCII names, and every name NFKC leaves as it
is, that is the key stored names were keyed with before NFKC came in
(`re.sub(r"\\s+", " ", name.strip()).casefold()`); `storage.name_keys` re-keys the others."""

import re
import sys
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from storage.customers import name_key

WHITESPACE = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
_SPACES = re.compile(r"\s+")


def former_key(name: str) -> str:
    return _SPACES.sub(" ", name.strip()).casefold()


# Names built from words and every kind of whitespace, in runs, at either end too.
names = st.lists(
    st.one_of(st.text(min_size=1, max_size=6), st.text(alphabet=WHITESPACE, min_size=1)),
    max_size=8,
).map("".join)


@given(names)
def test_a_name_nfkc_leaves_alone_keeps_its_former_key(name: str) -> None:
    if unicodedata.is_normalized("NFKC", name) and unicodedata.is_normalized(
        "NFKC", name.casefold()
    ):
        assert name_key(name) == former_key(name)


@given(st.text(alphabet=st.characters(max_codepoint=0x7F)))
def test_ascii_names_keep_their_former_key(name: str) -> None:
    assert name_key(name) == former_key(name)


@given(names)
def test_the_key_is_its_own_key(name: str) -> None:
    """Keying is idempotent: two names with one key compare equal however often keyed."""
    assert name_key(name_key(name)) == name_key(name)


def test_lookalikes_share_a_key() -> None:
    assert name_key("Ａｃｍｅ") == name_key("acme") == name_key(" ACME ") == "acme"
    assert name_key("Ａｃｍｅ　Ｌｔｄ") == name_key("acme ltd")  # ideographic space
    assert name_key("ﬁnance") == name_key("FINANCE")  # the fi ligature
    assert name_key("Straße") == name_key("STRASSE")
    assert name_key("上海示例科技") == "上海示例科技"
    assert name_key("Acme") != name_key("Acne")


def test_every_whitespace_character_separates_words() -> None:
    for space in WHITESPACE:
        name = f"{space}Ac{space}{space}ME{space}"
        assert name_key(name) == "ac me"
