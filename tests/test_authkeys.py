"""authkeys as heartbeat 3.0.6 reads it (SPEC §1c): which key signs, and which files it refuses."""

import dataclasses
import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lvs_compat.config.authkeys import AuthEntry, load_authkeys, parse_authkeys
from lvs_compat.config.errors import ConfigError, Location


def parse(text: str):
    return parse_authkeys(text, "/etc/ha.d/authkeys")


def refused(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    return caught.value


def test_lab_keyfile_signs_with_sha1():
    keys = parse("auth 1\n1 sha1 hbAsecret\n")
    assert keys.active == AuthEntry(1, "sha1", "hbAsecret", Location("/etc/ha.d/authkeys", 2, 1))
    assert keys.active_index == 1 and not keys.warnings
    assert json.loads(json.dumps(dataclasses.asdict(keys)))["entries"][0]["method"] == "sha1"


def test_rolling_key_change_keeps_every_entry_and_signs_with_auth_n():
    keys = parse("# comment\n\n   auth 3\n1 crc\n2 sha1 HI!\n3 md5 Hello!\n")
    assert [(e.index, e.method, e.key) for e in keys.entries] == [
        (1, "crc", None), (2, "sha1", "HI!"), (3, "md5", "Hello!")]
    assert keys.active.method == "md5" and keys.entry(2).key == "HI!" and keys.entry(9) is None


def test_hash_after_data_is_part_of_the_key():
    assert parse("auth 1\n1 sha1 secret#not-a-comment\n").active.key == "secret#not-a-comment"


def test_only_the_first_word_is_the_key_and_the_rest_is_dropped_with_a_warning():
    keys = parse("auth 1\n1 sha1 my secret phrase\n")
    assert keys.active.key == "my"
    assert (keys.warnings[0].location.line, keys.warnings[0].location.column) == (2, 11)
    assert "first word [my] only" in keys.warnings[0].message


def test_sscanf_forms_heartbeat_also_accepts():
    keys = parse("\tauth1\r\n1sha1 k\r\n")  # "auth %d" and "%d%s%s" need no blank
    assert (keys.active.method, keys.active.key) == ("sha1", "k")


def test_a_later_line_for_the_same_index_replaces_the_earlier_one():
    keys = parse("auth 1\n1 sha1 old\n1 md5 new\n")
    assert (keys.active.method, keys.active.key, len(keys.entries)) == ("md5", "new", 1)
    assert "replaces line 2" in keys.warnings[0].message


@pytest.mark.parametrize("text, message, line, column", [
    ("1 sha1 secret\nauth 1\n", "Auth Key [1] not found in keyfile (auth 1 must come before "
     "its key line)", 2, 1),
    ("auth 2\n1 sha1 secret\n", "Auth Key [2] not found in keyfile (auth 2 must come before "
     "its key line)", 1, 1),
    ("1 sha1 secret\n", "Missing auth directive in keyfile", 0, 0),
    ("", "Missing auth directive in keyfile", 0, 0),
    ("auth 1\n1 crc secret\n", "Auth method [crc] doesn't use a key", 2, 3),
    ("auth 1\n1 md5\n", "Auth method [md5] requires a key", 2, 3),
    ("auth 1\n1 sha256 secret\n", "Invalid authtype [sha256]", 2, 3),
    ("auth 1\n1 SHA1 secret\n", "Invalid authtype [SHA1]", 2, 3),
    ("auth 16\n16 crc\n", "Invalid authnum [16]", 2, 1),
    ("auth 1\n-1 crc\n", "Invalid authnum [-1]", 2, 1),
    ("auth one\n", "Invalid auth line [auth one]", 1, 1),
    ("  authority 1\n", "Invalid auth line [authority 1]", 1, 3),
    ("Auth 1\n", "Auth line [Auth 1] is invalid.", 1, 1),
    ("auth 1\n1\n", "Auth line [1] is invalid.", 2, 1),
    ("auth 1\nsha1 1 secret\n", "Auth line [sha1 1 secret] is invalid.", 2, 1),
])
def test_keyfiles_heartbeat_refuses(text, message, line, column):
    error = refused(text)
    assert (error.message, error.line, error.column) == (message, line, column)


# --- file mode: checked by bits, so it holds when we run as root ------------------------------

@pytest.mark.parametrize("mode, accepted", [
    (0o600, True), (0o400, True), (0o200, True), (0o622, True),  # write bits are not checked
    (0o640, False), (0o604, False), (0o644, False), (0o660, False),
])
def test_group_or_world_readable_keyfile_is_refused(tmp_path, mode, accepted):
    path = tmp_path / "authkeys"
    path.write_text("auth 1\n1 sha1 secret\n")
    os.chmod(path, mode)
    if accepted:
        assert load_authkeys(str(path)).active.key == "secret"
        return
    with pytest.raises(ConfigError) as caught:
        load_authkeys(str(path))
    assert caught.value.message == (f"Bad permissions on keyfile [{path}], 600 recommended "
                                    f"(mode is {mode:04o})")


def test_missing_or_unreadable_keyfile_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"Cannot open keyfile \[.*\]: No such file"):
        load_authkeys(str(tmp_path / "authkeys"))
    os.mkdir(tmp_path / "dir")
    os.chmod(tmp_path / "dir", 0o700)
    with pytest.raises(ConfigError, match="cannot read"):
        load_authkeys(str(tmp_path / "dir"))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=60), st.lists(st.sampled_from(
    ["auth", " ", "1", "16", "-", "sha1", "crc", "md5", "k", "\n", "#", "\t", "a", "9" * 25]),
    max_size=30).map("".join)))
def test_any_text_gives_a_model_or_a_located_error(text):
    try:
        keys = parse(text)
    except ConfigError as error:
        assert error.line >= 0 and error.column >= 0 and str(error)
    else:
        assert keys.active.index == keys.active_index


def test_crc_and_md5_entries_are_warned_at_their_method_even_when_not_active():
    keys = parse("auth 2\n1 crc\n2 sha1 k\n 3 md5 k\n")
    assert [(w.location.line, w.location.column, w.message.split(":")[0])
            for w in keys.warnings] == [(2, 3, "auth method crc"), (4, 4, "auth method md5")]
    assert parse("auth 1\n1 sha1 k\n").warnings == ()


@pytest.mark.parametrize("new, said", [
    ("auth 1\n1 sha1 k\n", None),
    ("auth 1\n1 crc\n", "method changes from sha1 to crc: a peer still on sha1 will drop our "
                        "packets until it changes too"),
    ("auth 2\n1 sha1 k\n2 sha1 k2\n", "the active key changes from auth 1 to auth 2: a peer "
                                      "without key 2 will drop our packets until it changes too"),
    ("auth 1\n1 sha1 other\n", "the key of auth 1 changes: a peer still on the old key will "
                               "drop our packets until it changes too"),
])
def test_a_reload_says_what_a_changed_outbound_key_does_to_the_peer(new, said):
    from lvs_compat.config.authkeys import outbound_change
    change = outbound_change(parse("auth 1\n1 sha1 k\n"), parse(new))
    line = 3 if "auth 2" in new else 2
    assert change == (None if said is None else f"/etc/ha.d/authkeys:{line}:1: authkeys: {said}")
    assert change is None or "other" not in change and "k2" not in change   # keys never shown
