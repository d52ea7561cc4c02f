"""haresources as ResourceManager reads it (SPEC §1b), checked against its real sed/awk pipeline."""

import dataclasses
import json
import os
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lvs_compat.config.errors import ConfigError
from lvs_compat.config.haresources import (IpAddressSpec, _logical_lines, parse_haresources,
                                           parse_ip_spec)
from lvs_compat.config.libc import ascii_lower

SEED_HARESOURCES = "lvs1.domain.com 10.0.0.3 lvs mon\n"


def parse(text: str):
    return parse_haresources(text, "/etc/ha.d/haresources")


def refused(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    return caught.value


def test_seed_group_brings_up_the_vip_then_lvs_then_mon_and_stops_in_reverse():
    (group,) = parse(SEED_HARESOURCES).groups
    assert (group.node, group.key) == ("lvs1.domain.com", "10.0.0.3")
    assert [r.command for r in group.start_order] == [("IPaddr", "10.0.0.3"), ("lvs",), ("mon",)]
    assert [r.name for r in group.stop_order] == ["mon", "lvs", "IPaddr"]
    assert group.start_order[0].ip_address == IpAddressSpec("10.0.0.3", None, None, None)
    assert [(r.location.line, r.location.column) for r in group.resources] == [
        (1, 17), (1, 26), (1, 30)]
    assert json.loads(json.dumps(dataclasses.asdict(parse(SEED_HARESOURCES))))


def test_lab_group_with_full_ip_spec_and_script_arguments():
    (group,) = parse("hbanode1 10.250.0.100/24/hbAeth0/10.250.0.255 hbAprobe::first::second\n"
                     ).groups
    vip, probe = group.resources
    assert vip.ip_address == IpAddressSpec("10.250.0.100", "24", "hbAeth0", "10.250.0.255")
    assert probe.command == ("hbAprobe", "first", "second")


@pytest.mark.parametrize("spec, expected", [
    ("10.0.0.3", ("10.0.0.3", None, None, None)),
    ("10.0.0.3/24", ("10.0.0.3", "24", None, None)),
    ("10.0.0.3/24/10.0.0.255", ("10.0.0.3", "24", None, "10.0.0.255")),
    ("10.0.0.3/24/eth0", ("10.0.0.3", "24", "eth0", None)),
    ("10.0.0.3/24/eth0/10.0.0.255", ("10.0.0.3", "24", "eth0", "10.0.0.255")),
    ("10.0.0.3/255.255.255.0//eth0:1", ("10.0.0.3", "255.255.255.0", "eth0:1", None)),
    ("10.0.0.3/", ("10.0.0.3", None, None, None)),
])
def test_ip_address_forms_of_the_resource_d_wrapper(spec, expected):
    assert parse_ip_spec(spec) == expected
    for resource in (spec, f"IPaddr::{spec}", f"IPaddr2::{spec}"):
        ip = parse(f"node1 {resource}\n").groups[0].resources[0].ip_address
        assert ip == IpAddressSpec(*expected)


def test_ip_shorthand_is_the_shell_glob_digit_dot_digit_dot_digit_dot_digit():
    resources = parse("node1 10.0.0.3 7up 1.2.3 a.b.c.d\n").groups[0].resources
    assert [r.name for r in resources] == ["IPaddr", "7up", "1.2.3", "a.b.c.d"]
    assert refused("node1 1.2.3.4x\n").message == "IP address [1.2.3.4x] not valid."


def test_normalisation_comments_continuations_blanks_and_case():
    text = ("# preferred node   resources\n"
            "  LVS1.Domain.COM\t10.0.0.3   Filesystem::/dev/sda1::/data1::ext2 # fs \\\n"
            "\n"
            "lvs2 10.0.0.4 \\\n"
            "   httpd \\\n"
            "  Mon\n"
            "lvs2 a\\\n"
            "b\n")
    groups = parse(text).groups
    assert [(g.node, g.key) for g in groups] == [("lvs1.domain.com", "10.0.0.3"),
                                                ("lvs2", "10.0.0.4"), ("lvs2", "ab")]
    assert groups[0].resources[1].args == ("/dev/sda1", "/data1", "ext2")
    assert [r.name for r in groups[1].resources] == ["IPaddr", "httpd", "Mon"]
    assert (groups[1].resources[2].location.line, groups[1].resources[2].location.column) == (6, 3)


def test_empty_script_arguments_vanish_like_in_the_shell():
    resource = parse("node1 Filesystem::::/data::\n").groups[0].resources[0]
    assert resource.command == ("Filesystem", "/data")


@pytest.mark.parametrize("text, message, column", [
    ("node1 10.0.0.300 lvs", "IP address [10.0.0.300] not valid.", 7),
    ("node1 lvs IPaddr::10.0.0.03", "IP address [10.0.0.03] not valid.", 11),
    ("node1 IPaddr2::10.0.0.3/33", "Invalid netmask specification [33]", 7),
    ("node1 10.0.0.3/24/eth0/10.0.0.256", "Invalid broadcast address [10.0.0.256].", 7),
    ("node1 IPaddr::10.0.0.3::eth0", "IPaddr takes exactly one argument "
                                     "IP[/NETMASK[/NIC][/BROADCAST]], not 2", 7),
    ("node1 IPaddr", "IPaddr takes exactly one argument IP[/NETMASK[/NIC][/BROADCAST]], not 0",
     7),
    ("node1 10.0.0.3 lvs\nnode2 10.0.0.3 mon", "Resource group key [10.0.0.3] is not unique: "
     "ResourceManager greps for it and also finds line 2", 7),
    ("node1 httpd\nnode2 10.0.0.4 httpd", "Resource group key [httpd] is not unique: "
     "ResourceManager greps for it and also finds line 2", 7),
    ("node1 a \\\n b # not a comment here", "Resource [#]: '#' after a backslash continuation "
     "is not a comment for ResourceManager (SPEC §1b)", 4),
    ("node1 10.0.0.3 lvs\r\n", "Resource ['lvs\\r'] contains a carriage return: DOS line "
     "endings are not stripped by ResourceManager", 16),
])
def test_groups_that_could_never_be_taken_over_are_refused(text, message, column):
    error = refused(text)
    assert (error.message, error.column) == (message, column)


def test_a_node_without_resources_is_ignored_with_a_warning():
    result = parse("node1\nnode2 10.0.0.3\n")
    assert [g.node for g in result.groups] == ["node2"]
    assert "has no resources" in result.warnings[0].message


def test_group_lookup_helpers():
    result = parse("n1 10.0.0.3 lvs\nN2 10.0.0.4\nn1 10.0.0.5\n")
    assert result.group("10.0.0.4").node == "n2" and result.group("lvs") is None
    assert [g.key for g in result.groups_of("N1")] == ["10.0.0.3", "10.0.0.5"]


# --- the real ResourceManager pipeline (ipres) as the oracle for normalisation -----------------

IPRES_SED = ["-e", "s%#.*%%", "-e", ":a", "-e", "/\\\\$/N; s/\\\\\\n//; ta", "-e", "s%$% %",
             "-e", "s%[\t ][\t ]*% %g", "-e", "/^[\t ]*$/ d", "-e", "s%^ %%"]
IPRES_AWK = ["/.*/ {$1 = tolower($1); print $0, \"\"}"]
RESOURCE_MANAGER = "/usr/share/heartbeat/ResourceManager"


def ipres(text: str) -> list[list[str]]:
    """Run ResourceManager's own sed | awk (C locale) over ``text``."""
    environment = dict(os.environ, LC_ALL="C")
    sed = subprocess.run(["sed", *IPRES_SED], input=text.encode(), capture_output=True,
                         env=environment, timeout=10, check=True)
    awk = subprocess.run(["awk", *IPRES_AWK], input=sed.stdout, capture_output=True,
                         env=environment, timeout=10, check=True)
    return [line.rstrip(" ").split(" ") for line in awk.stdout.decode().split("\n") if line]


def test_the_pipeline_copy_matches_the_installed_resource_manager():
    if not os.path.exists(RESOURCE_MANAGER):
        pytest.skip("heartbeat is not installed")  # the copy above is still the reference
    script = open(RESOURCE_MANAGER).read()
    for expression in ("s%#.*%%", "/\\\\$/N; s/\\\\\\n//; ta", "s%[\t ][\t ]*% %g",
                       "$1 = tolower($1); print $0, \"\""):
        assert expression in script


@pytest.mark.skipif(not (shutil.which("sed") and shutil.which("awk")), reason="no sed/awk")
@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(["a", "B", "1.2.3.4", "::", " ", "\t", "\n", "\\", "#",
                                 "\\\n", "x y", "\r", "\f"]), max_size=25).map("".join))
def test_normalisation_equals_resource_manager_on_any_text(text):
    ours = [[ascii_lower(fields[0][0])] + [word for word, _ in fields[1:]]
            for fields in _logical_lines(text, "haresources")]
    assert ours == ipres(text)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=60), st.lists(st.sampled_from(
    ["n1 ", "10.0.0.3", "/24", "/eth0", "/", "IPaddr::", "IPaddr2::", "::", "#", "\\\n", "\n",
     " ", "\t", "\r", "x", "999", "."]), max_size=30).map("".join)))
def test_any_text_gives_a_model_or_a_located_error(text):
    try:
        result = parse(text)
    except ConfigError as error:
        assert error.line >= 0 and error.column >= 0 and str(error)
    else:
        json.dumps(dataclasses.asdict(result))


# --- long continuations (issue 21: the join used to copy the whole pattern space per line) ----

def continued_group(lines: int) -> str:
    """One group whose resources are each on a line of their own, joined by backslashes."""
    return "lvs1 10.0.0.3 \\\n" + "".join(f"  r{n} \\\n" for n in range(lines)) + "  last\n"


def test_a_group_continued_over_thousands_of_lines_keeps_every_resource_and_its_place():
    lines = 20_000
    (group,) = parse(continued_group(lines)).groups
    assert [r.name for r in group.resources] == ["IPaddr", *(f"r{n}" for n in range(lines)), "last"]
    assert [(r.location.line, r.location.column) for r in group.resources] == [
        (1, 6), *((n + 2, 3) for n in range(lines)), (lines + 2, 3)]


@pytest.mark.skipif(not (shutil.which("sed") and shutil.which("awk")), reason="no sed/awk")
def test_long_continuations_equal_resource_manager():
    # A run of backslashes joined with as many empty lines, a word split across lines, comments
    # that only the first physical line loses, and a group that ends in an empty continuation.
    text = ("n1 a" + "\\" * 300 + "\n" * 150 + "b \\\n" + "".join(f"w{n}\\\nx{n} \\\n" for n in range(500))
            + "c # kept \\\n d\n" + "N2 e \\\n" * 300 + "\\\n\\\n\n" + "n3 f\\")
    ours = [[ascii_lower(fields[0][0])] + [word for word, _ in fields[1:]]
            for fields in _logical_lines(text, "haresources")]
    assert ours == ipres(text)
