"""Which writing system a character belongs to, approximated from its Unicode name: enough to refuse a username
that mixes scripts, such as ``pаypal`` with a Cyrillic ``а`` among Latin letters (UTS #39 §5.1, "single script").

Python's :mod:`unicodedata` has no Script property, and taking one from a third-party package for one rule was
not worth a dependency. A character's name starts with its script in all but a few cases (``LATIN SMALL LETTER
A``, ``CYRILLIC SMALL LETTER A``, ``CJK UNIFIED IDEOGRAPH-4E00``), so the first word, or the first two for the
few scripts that share a first word (``OLD ITALIC``, ``NEW TAI LUE``), stands for the script. The exceptions are
listed below: names that start with a word that is not a script (``DIGIT ZERO``, ``COMBINING ACUTE ACCENT``,
``MODIFIER LETTER APOSTROPHE``) count as shared by every script (Unicode's Common and Inherited), and a few
words are another name of a script (``ARABIC-INDIC DIGIT ZERO`` is Arabic, ``TURNED SMALL F`` is Latin).

Only letters, marks and decimal digits are looked at; punctuation and symbols belong to every script. As in UTS
#39, Han goes with Hiragana and Katakana (Japanese), with Hangul (Korean) and with Bopomofo, since those are
written together.

How close it comes: against Unicode's Script property (as the ``regex`` package has it), over the 129,890
letters, marks and digits that a normalised username can hold, no two scripts share a key, and 230 characters
are placed differently: combining marks named for a script (``COMBINING CYRILLIC TITLO``, Glagolitic and
Devanagari ones, a few Latin modifier letters) count as shared here, which only lets a mark through; and marks
Unicode calls Inherited but names for one script (Arabic vowel marks, Znamenny neumes) count as that script
here, which only refuses them beside another script. Tangut's ideographs, which this Python leaves unnamed, are
a script apart from Tangut's named components.

What it does not catch: a name written wholly in another script that looks like a Latin one (``аре`` in
Cyrillic only), which is a legitimate name in that script. Tests pin the look-alikes that matter and the
legitimate mixes (Japanese, Korean).
"""

import unicodedata
from collections.abc import Iterable

__all__ = ["mixed_scripts", "scripts_of"]

#: first words of names that are not a script: the character is shared by every script (Common, Inherited)
_SHARED = frozenset(
    {"COMBINING", "DIGIT", "MODIFIER", "CARON", "MASU", "VERTICAL", "VEDIC", "MUSICAL", "PHAISTOS", "VARIATION"}
)
#: first words that several scripts share: the second word tells them apart
_TWO_WORDS = frozenset({"OLD", "NEW", "TAI", "LINEAR", "INSCRIPTIONAL", "MEROITIC"})
#: words that name a script by another name
_ALIASES = {
    "ARABIC-INDIC": "ARABIC",
    "EXTENDED": "ARABIC",  # EXTENDED ARABIC-INDIC DIGIT
    "TURNED": "LATIN",  # TURNED SMALL F
    "IDEOGRAPHIC": "CJK",  # IDEOGRAPHIC ITERATION MARK
    "VIETNAMESE": "CJK",  # VIETNAMESE ALTERNATE READING MARK
    "HENTAIGANA": "HIRAGANA",
    "KATAKANA-HIRAGANA": "HIRAGANA",
    "OLD CHINESE": "CJK",  # OLD CHINESE HOOK MARK
}
_HAN = frozenset({"Han", "Japanese", "Korean", "Bopomofo"})
#: scripts written together count as one (UTS #39's augmented script sets)
_WRITTEN_WITH = {
    "CJK": _HAN,
    "HIRAGANA": frozenset({"Japanese"}),
    "KATAKANA": frozenset({"Japanese"}),
    "HANGUL": frozenset({"Korean"}),
    "BOPOMOFO": frozenset({"Bopomofo"}),
}


def _script(char: str) -> str | None:
    """The script word of ``char``'s name, or None for a character every script shares."""
    if unicodedata.category(char)[0] not in "LM" and unicodedata.category(char) != "Nd":
        return None
    words = unicodedata.name(char, "").split(" ")
    if not words[0]:
        return "UNNAMED"  # e.g. Tangut ideographs, which this Python names only by code point
    if words[0] in _SHARED:
        return None
    script = f"{words[0]} {words[1]}" if words[0] in _TWO_WORDS and len(words) > 1 else words[0]
    return _ALIASES.get(script, script)


def scripts_of(char: str) -> frozenset[str] | None:
    """The scripts ``char`` may be written in (more than one for Han and the scripts written with it), or None
    if it goes with any."""
    script = _script(char)
    if script is None:
        return None
    return _WRITTEN_WITH.get(script, frozenset({script.title()}))


def mixed_scripts(text: Iterable[str]) -> tuple[str, str] | None:
    """Two scripts of ``text`` that are not written together, or None if it keeps to one."""
    common: frozenset[str] | None = None
    first = ""
    for char in text:
        scripts = scripts_of(char)
        if scripts is None:
            continue
        if common is None:
            common, first = scripts, char
            continue
        if not common & scripts:
            return _label(first), _label(char)
        common &= scripts
    return None


def _label(char: str) -> str:
    script = _script(char) or ""
    return {"CJK": "Han"}.get(script, script.title())
