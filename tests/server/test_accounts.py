"""The rules for a username, in the one function every way of creating a user calls: one normal form (NFKC and
case folding, as PRECIS UsernameCaseMapped), and no name that could pass for another."""

import pytest

from tessera.errors import AlreadyExists, InvalidAccount
from tessera.server.accounts import check_username, create_user, normalise_username
from tessera.server.scripts import mixed_scripts, scripts_of
from tessera.store import Store


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Alice", "alice"),
        ("ＡＬＩＣＥ", "alice"),  # fullwidth
        ("ﬁona", "fiona"),  # a ligature
        ("Straße", "strasse"),
        ("Jo\u0301se", "jóse"),  # a combining accent, composed
        ("Alice@Example.COM", "alice@example.com"),
        ("o'Brien", "o'brien"),
        ("Mary Ann", "mary ann"),
        ("ОЛЬГА", "ольга"),  # Cyrillic alone
        ("Σοφία", "σοφία"),  # Greek alone
        ("山田たろう", "山田たろう"),  # Han with Hiragana: Japanese
        ("ヤマダ太郎", "ヤマダ太郎"),  # Katakana with Han
        ("김민준金", "김민준金"),  # Hangul with Han: Korean
        ("user_1-2.3", "user_1-2.3"),
    ],
)
def test_a_username_is_stored_in_its_normal_form(store: Store, typed: str, stored: str) -> None:
    assert check_username(typed) == stored
    assert create_user(store.users, typed, "violet kettle drum").username == stored
    assert [u.username for u in store.users.all()] == [stored]


def test_two_accounts_cannot_differ_only_by_case_or_width(store: Store) -> None:
    create_user(store.users, "Alice", "violet kettle drum")
    for variant in ("alice", "ALICE", "ａｌｉｃｅ", "Ａｌｉｃｅ", "aLiCe"):
        with pytest.raises(AlreadyExists, match="'alice' already exists"):
            create_user(store.users, variant, "amber paper lantern")
    assert [u.username for u in store.users.all()] == ["alice"]


@pytest.mark.parametrize(
    ("username", "named"),
    [
        ("ali\u202ece", "U+202E"),  # right-to-left override: shows as "aliec"
        ("alice\u2066", "U+2066"),  # left-to-right isolate
        ("al\x1b[31mice", "U+001B"),  # an escape sequence for a terminal
        ("ali\tce", "U+0009"),
        ("alice\u200b", "U+200B"),  # zero-width space
        ("al\u00adice", "U+00AD"),  # soft hyphen
        ("ali\u034fce", "U+034F"),  # combining grapheme joiner
        ("alice\ufe0f", "U+FE0F"),  # variation selector
        ("\u3164", "U+1160"),  # a Hangul filler, blank: named as NFKC leaves it
        ("ali\u1680ce", "U+1680"),  # Ogham space mark
        ("ali\u2028ce", "U+2028"),  # line separator
        ("ali\ue000ce", "U+E000"),  # private use
        ("ali\U000e0041ce", "U+E0041"),  # tag character
    ],
)
def test_control_formatting_and_invisible_characters_are_refused(store: Store, username: str, named: str) -> None:
    with pytest.raises(InvalidAccount) as refused:
        create_user(store.users, username, "pw")
    message = str(refused.value)
    assert named in message and "characters" in message
    assert message.isprintable()  # the character is named, never printed
    assert store.users.all() == []


@pytest.mark.parametrize("username", ["", " ", " alice", "alice ", "\u3000alice", "b" * 151, "ﷺ" * 9])
def test_length_and_surrounding_spaces_are_checked_on_the_normal_form(store: Store, username: str) -> None:
    # U+3000 (ideographic space) is a space once normalised; U+FDFA is 18 characters once normalised
    with pytest.raises(InvalidAccount, match="1 to 150 characters, without leading or trailing spaces"):
        create_user(store.users, username, "pw")
    assert store.users.all() == []


def test_two_spaces_in_a_row_are_refused(store: Store) -> None:
    with pytest.raises(InvalidAccount, match="two spaces in a row"):
        create_user(store.users, "mary  ann", "pw")
    with pytest.raises(InvalidAccount, match="two spaces in a row"):
        create_user(store.users, "mary\u00a0 ann", "pw")  # a no-break space is a space once normalised


@pytest.mark.parametrize(
    ("username", "scripts"),
    [
        ("p\u0430ypal", ("Latin", "Cyrillic")),  # Cyrillic а among Latin letters
        ("\u0430dmin", ("Cyrillic", "Latin")),
        ("g\u043e\u043egle", ("Latin", "Cyrillic")),  # Cyrillic о
        ("paypa\u04cf", ("Latin", "Cyrillic")),  # Cyrillic palochka, an l
        ("\u0391lice", ("Greek", "Latin")),  # Greek capital alpha, folded to α
        ("r\u0578ot", ("Latin", "Armenian")),  # Armenian vo, an n
        ("admin\u0660", ("Latin", "Arabic")),  # Arabic-Indic digit zero
        ("テストtest", ("Katakana", "Latin")),
        ("漢字と한글", ("Han", "Hangul")),  # Japanese and Korean are each fine, not together
    ],
)
def test_look_alikes_from_mixed_scripts_are_refused(store: Store, username: str, scripts: tuple[str, str]) -> None:
    with pytest.raises(InvalidAccount) as refused:
        create_user(store.users, username, "pw")
    assert f"mixes {scripts[0]} and {scripts[1]} letters" in str(refused.value)
    assert store.users.all() == []


def test_characters_every_script_shares_go_with_any() -> None:
    for char in "0123456789_-.@' ʼ\u0301":
        assert scripts_of(char) is None, char
    assert scripts_of("a") == frozenset({"Latin"}) and scripts_of("\u0430") == frozenset({"Cyrillic"})
    assert mixed_scripts("ольга-2024") is None
    assert mixed_scripts("jose\u0301") is None  # a combining accent is no script of its own


def test_normalising_twice_changes_nothing() -> None:
    for typed in ("ＡＬＩＣＥ", "Straße", "ﬁona", "Jo\u0301se", "ΣΟΦΙΑΣ", "\u0345", "ǅ", "ﷺ"):
        once = normalise_username(typed)
        assert normalise_username(once) == once, typed
