"""Names of lab objects: unique per lab directory, valid Linux interface names."""

from __future__ import annotations

from pathlib import Path

import pytest

from netweave.lab import naming


def test_prefix_is_stable_per_directory_and_differs_between_directories(tmp_path: Path) -> None:
    one, two = tmp_path / "a", tmp_path / "b"

    assert naming.lab_prefix(one) == naming.lab_prefix(one)
    assert naming.lab_prefix(one) != naming.lab_prefix(two)
    assert naming.lab_prefix(one).startswith(naming.PREFIX)


def test_the_largest_lab_still_has_valid_interface_names(tmp_path: Path) -> None:
    prefix = naming.lab_prefix(tmp_path)
    biggest = naming.MAX_ITEMS

    names = [naming.bridge_name(prefix, biggest), naming.veth_name(prefix, biggest, "b")]

    assert all(naming.is_ifname(n) for n in names), names


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("eth0", True),
        ("a" * 15, True),
        ("a" * 16, False),
        ("a/b", False),
        ("a:b", False),
        ("a b", False),
        ("", False),
        (".", False),
    ],
)
def test_is_ifname(name: str, valid: bool) -> None:
    assert naming.is_ifname(name) is valid


def test_names_from_the_descriptor_are_made_safe_for_files() -> None:
    assert naming.netns_name("nl123456", "dc1/h:1") == "nl123456-dc1_h_1"
    assert naming.lab_dir(Path("run"), "my/topo") == Path("run/lab/my_topo")


def test_base_dir_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NETWEAVE_RUN_DIR", raising=False)
    assert naming.default_base_dir() == Path("run")
    monkeypatch.setenv("NETWEAVE_RUN_DIR", "/srv/nw")
    assert naming.default_base_dir() == Path("/srv/nw")
