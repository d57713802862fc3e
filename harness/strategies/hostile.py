"""Text an attacker chooses, for the values we copy into header fields we write.

A HELO name, a MAIL FROM address, a DKIM selector or a remote server's reply reaches our
field builders as text someone else wrote.  :func:`hostile_text` draws such text the way an
attacker would: mostly plausible (a domain, an address), with line breaks that try to start a
field of their own (``\\r\\nX-Injected: yes``), bare CRs and LFs, NULs and other controls,
Unicode line separators, stray 8-bit bytes kept as lone surrogates (``surrogateescape``),
backslashes that look like our own escapes, non-ASCII text, and runs longer than a line may be
(998 octets, RFC 5322 2.1.1).  Every builder that writes such a value must give back exactly
one field, on lines of at most 998 octets, with no CR, LF or NUL but the folds.
"""

from __future__ import annotations

from hypothesis import strategies as st

__all__ = ["INJECTIONS", "hostile_text"]

#: Pieces that try to end the field and add one, or to end the header.
INJECTIONS = (
    "\r\nX-Injected: yes",
    "\nX-Injected: yes",
    "\rX-Injected: yes",
    "\r\n\r\nbody",
    "\r\n X-Folded: no",
    "\r\n",
    "\r",
    "\n",
    "\0",
    "\x85",
    "\u2028",
    "\u2029",
    "\udcff",
    "\udc80",
    "\\x0d",
    "\\",
    '"',
    "(",
    ")",
    ";",
    "=",
)

_PLAUSIBLE = st.sampled_from(
    ("castle.test", "a@castle.test", "mx.bigmail.test", "[127.0.0.1]", "sél", "\u00e9t\u00e9")
)

_PIECES = st.one_of(
    _PLAUSIBLE,
    st.sampled_from(INJECTIONS),
    st.text(max_size=12),  # any code point, surrogates included
    st.text(st.characters(min_codepoint=0, max_codepoint=0x9F), max_size=12),
    # One word too long for a line.  (Drawn as an offset from 0: hypothesis's fuzzing
    # provider cannot draw a range that starts above 2**bits, HypothesisWorks/hypothesis#4847.)
    st.integers(0, 200).map(lambda n: "x" * (900 + n)),
)


@st.composite
def _joined(draw: st.DrawFn, max_pieces: int) -> str:
    pieces = draw(st.lists(_PIECES, max_size=max_pieces))
    return "".join(pieces)


def hostile_text(max_pieces: int = 8) -> st.SearchStrategy[str]:
    """Text made of up to ``max_pieces`` pieces, each plausible, an injection attempt, a
    control character, arbitrary Unicode, or a run of about 1,000 characters without white
    space; the empty string too."""
    return _joined(max_pieces)
