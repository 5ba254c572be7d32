"""What a client's strings may hold, and the form names are compared in (README "Input rules").

- An **id** (tenant and user ids, path ids, the ids in command payloads and integration
  events) is 1–128 visible ASCII characters, `!` to `~`: no space, no control, no character
  outside ASCII that a lookalike could hide in.
- A **command id** (`X-Request-ID`, the idempotency key, and `commandId` on Kafka) is an id
  of letters, digits and `.`, `_`, `:`, `-` only: it is also a path segment (the command's
  status resource, a 202's `Location`), where `/`, `?`, `#` or `%` would change the URL.
- **Single-line text** (names, titles, short fields) holds no control character (C0, DEL and
  C1: tab and line breaks included), no bidi embedding, override or isolate (U+202A–U+202E,
  U+2066–U+2069) or bidi mark (U+200E, U+200F, U+061C), and no zero-width character
  (U+200B–U+200D, U+2060, U+FEFF).
- **Multi-line text** (notes, remarks, descriptions, contents, addresses) may also hold tab,
  line feed and carriage return; nothing else of those.

The rules are regular expressions, so pydantic checks them in its core (a Python validator
per field cost an import twice as much) and the OpenAPI document shows them. Surrounding
whitespace is trimmed before the check, as it always was.
"""

import unicodedata

MAX_ID_LENGTH = 128
ID_PATTERN = r"^[!-~]+$"
ID_RULE = f"1–{MAX_ID_LENGTH} visible ASCII characters (! to ~, no spaces)"
COMMAND_ID_PATTERN = r"^[A-Za-z0-9._:-]+$"
COMMAND_ID_RULE = f"1–{MAX_ID_LENGTH} characters of A–Z, a–z, 0–9, '.', '_', ':' and '-'"
_COMMAND_ID_CHARACTERS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-"
)

# Zero-width characters (U+200B–U+200D, U+2060, U+FEFF) and bidi controls (marks U+200E,
# U+200F, U+061C; embeddings, overrides, isolates): invisible, and able to make one text
# look like another.
_INVISIBLE = r"\u061c\u200b-\u200f\u2060\ufeff\u202a-\u202e\u2066-\u2069"
SINGLE_LINE_PATTERN = rf"^[^\x00-\x1f\x7f-\x9f{_INVISIBLE}]*$"
MULTI_LINE_PATTERN = rf"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_INVISIBLE}]*$"
# A character class of what single-line text may not hold, for patterns of their own
# (an e-mail address).
SINGLE_LINE_FORBIDDEN = rf"\x00-\x1f\x7f-\x9f{_INVISIBLE}"


def is_id(text: str) -> bool:
    """Whether `text` is a valid id as it stands (nothing trimmed): `ID_PATTERN`, bounded."""
    return (
        0 < len(text) <= MAX_ID_LENGTH
        and text.isascii()
        and text.isprintable()
        and (" " not in text)
    )


def is_command_id(text: str) -> bool:
    """Whether `text` is a valid command id as it stands: `COMMAND_ID_PATTERN`, bounded."""
    return 0 < len(text) <= MAX_ID_LENGTH and _COMMAND_ID_CHARACTERS.issuperset(text)


def comparable_name(name: str) -> str:
    """The form two names are compared in: NFKC-normalised (full-width `Ａｃｍｅ` is
    `Acme`, a ligature its letters), case-folded, trimmed, every run of whitespace one
    space. ASCII names are their own NFKC form: they skip the normalisation (an import
    keys thousands of names)."""
    if not name.isascii():
        name = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return " ".join(name.split()).casefold()
