"""The password policy (NIST SP 800-63B rev. 4, §3.1.1.2), in the one function every way of setting a password
calls: a length in code points, no composition rules, and nothing people commonly choose."""

from pathlib import Path

import pytest

from tessera.errors import InvalidAccount
from tessera.server.accounts import MAX_PASSWORD, PasswordPolicy, check_password, create_user, set_password
from tessera.store import Store


def _refusal(password: str, username: str | None = None, policy: PasswordPolicy | None = None) -> str:
    """The one-line refusal of ``password``. The tests compare it whole: a fixed sentence per rule, the same
    whatever the password, so it can never repeat one."""
    with pytest.raises(InvalidAccount) as refused:
        check_password(password, username, policy=policy or PasswordPolicy())
    message = str(refused.value)
    assert "\n" not in message and len(message) < 190
    return message


@pytest.mark.parametrize(
    "password",
    [
        "violet kettle drum",
        "Tr0ub4dor&3x",
        "zebra-lamp",  # eight or more, nothing else asked: no digit, no capital, no symbol needed
        "ölçü birimi",
        "пароль для почты",
        "日本語のパスワード",
        "re\u0301sume\u0301s!",  # eight characters once composed, ten code points as typed
        "x" * 7 + "y",
        "k" * (MAX_PASSWORD - 1) + "j",
        "my password is long",  # a common word inside a longer phrase is fine
    ],
)
def test_passwords_people_choose_well_are_accepted_without_composition_rules(password: str) -> None:
    assert check_password(password, "alice") == password  # returned as typed, never normalised


@pytest.mark.parametrize("password", ["seven77", "re\u0301sume\u0301", "\U0001f600" * 7, "a b c d"])
def test_fewer_than_eight_characters_are_refused_counting_code_points_after_nfc(password: str) -> None:
    assert _refusal(password) == "the password must be at least 8 characters long"


def test_more_than_1024_characters_are_refused() -> None:
    assert _refusal("k" * 1024 + "j") == "the password must be at most 1024 characters long"
    assert _refusal("") == "the password must not be empty"


@pytest.mark.parametrize("password", ["alice", "ALICE123", "xxaliceyy", "ａｌｉｃｅ2024!", "Alice Wonderland 99"])
def test_the_username_or_a_password_containing_it_is_refused(password: str) -> None:
    if len(password) < 8:
        password += "!" * (8 - len(password))
    assert _refusal(password, "alice") == "the password must not contain the username"


def test_a_short_username_is_compared_whole() -> None:
    assert check_password("joy to the world", "jo") == "joy to the world"
    assert _refusal("a.b.c.d.e", "a.b.c.d.e") == "the password must not contain the username"


@pytest.mark.parametrize("password", ["tessera1", "Tessera2024!", "my tessera account", "TESSERAtessera"])
def test_the_name_of_the_service_is_refused(password: str) -> None:
    assert _refusal(password) == "the password must not contain the name of the service ('tessera')"


@pytest.mark.parametrize(
    "password", ["aaaaaaaa", "11111111", "ZZZZZZZZZZ", "abababab", "abcabcabc", "passpass", "12121212", "xyzwxyzwx"]
)
def test_a_few_characters_repeated_are_refused(password: str) -> None:
    assert _refusal(password) == "the password must not be a few characters repeated (like aaaaaaaa or abababab)"


@pytest.mark.parametrize(
    "password",
    [
        "12345678",
        "123456789",
        "1234567890",
        "87654321",
        "abcdefgh",
        "ABCDEFGHIJ",
        "hgfedcba",
        "qwertyui",
        "qwertyuiop",
        "poiuytrewq",
        "asdfghjkl",
        "1qaz2wsx3edc",
        "azertyuiop",
        "!@#$%^&*",
    ],
)
def test_obvious_sequences_and_their_reverses_are_refused(password: str) -> None:
    assert _refusal(password) == ("the password must not be an obvious sequence (like 12345678, abcdefgh or qwertyui)")


@pytest.mark.parametrize(
    "password", ["password", "Password1", "P@ssw0rd", "iloveyou", "sunshine", "baseball", "Monkey2024!", "dragon!!!"]
)
def test_the_most_common_passwords_are_refused_with_or_without_digits_and_symbols(password: str) -> None:
    assert _refusal(password) == ("the password is one of the most common passwords (give or take digits or symbols)")


def test_the_built_in_list_is_a_few_hundred_lower_case_lines() -> None:
    from importlib.resources import files

    lines = files("tessera.server").joinpath("common_passwords.txt").read_text(encoding="utf-8").splitlines()
    assert 300 <= len(lines) <= 1000
    assert all(line == line.strip().lower() and line for line in lines)
    assert len(set(lines)) == len(lines)


def test_the_operators_list_is_compared_case_insensitively(tmp_path: Path) -> None:
    listed = tmp_path / "blocklist.txt"
    listed.write_bytes(b"\xef\xbb\xbfAcme Corporation\r\nwinter is coming\n\n\xff\xfe broken line\nsp\xc3\xa4ter123\n")
    policy = PasswordPolicy.from_file(listed)
    for password in ("acme corporation", "ACME CORPORATION", "Winter Is Coming", "SPÄTER123"):
        assert _refusal(password, policy=policy) == (
            "the password is on this server's list of refused passwords (TESSERA_PASSWORD_BLOCKLIST)"
        )
    assert check_password("acme corporation!", policy=policy) == "acme corporation!"  # exact lines only
    assert check_password("acme corporation", policy=PasswordPolicy()) == "acme corporation"


def test_create_user_and_set_password_apply_the_policy(store: Store) -> None:
    with pytest.raises(InvalidAccount, match="username"):
        create_user(store.users, "alice", "alice1234")
    assert store.users.all() == []
    create_user(store.users, "alice", "violet kettle drum")
    with pytest.raises(InvalidAccount, match="at least 8"):
        set_password(store.users, "alice", "short")
    # only the demo's user is created without it, and even then never with an empty password
    assert create_user(store.users, "demo", "demo", policy=None).username == "demo"
    with pytest.raises(InvalidAccount, match="empty"):
        create_user(store.users, "other", "", policy=None)
