"""The lab's state file: written before things are made, read back by `down`."""

from __future__ import annotations

from pathlib import Path

import pytest

from netweave.lab import LabState, LabStateError, StateFile, find_labs


def new_state() -> LabState:
    return LabState(
        name="t",
        prefix="nlabcdef",
        digest="d",
        datapath="dummy",
        controller=None,
        fail_mode="secure",
        hosts={"h1": "nlabcdef-h1"},
    )


def test_records_survive_a_reload_without_duplicates(tmp_path: Path) -> None:
    file, state = StateFile(tmp_path / "lab"), new_state()

    file.record(state, daemon="ovsdb-server")
    file.record(state, netns=["nlabcdef-h1"], links=["nlabcdefl1b"])
    file.record(state, netns=["nlabcdef-h1"], daemon="ovsdb-server")

    loaded = file.load()
    assert loaded == state
    assert (loaded.daemons, loaded.netns, loaded.links) == (
        ["ovsdb-server"],
        ["nlabcdef-h1"],
        ["nlabcdefl1b"],
    )
    assert [p.name for p in (tmp_path / "lab").iterdir()] == ["state.json"]


def test_a_missing_file_says_there_is_no_lab(tmp_path: Path) -> None:
    file = StateFile(tmp_path)

    assert not file.exists()
    with pytest.raises(LabStateError, match=r"no lab in .* \(state.json is missing\)"):
        file.load()


def test_a_foreign_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text('{"name": "t"}')

    with pytest.raises(LabStateError, match="is not a lab state file"):
        StateFile(tmp_path).load()


def test_labs_are_found_by_their_state_files(tmp_path: Path) -> None:
    for name in ("b", "a"):
        StateFile(tmp_path / "lab" / name).save(new_state())
    (tmp_path / "lab" / "not-a-lab").mkdir()

    assert find_labs(tmp_path) == [tmp_path / "lab" / "a", tmp_path / "lab" / "b"]
    assert find_labs(tmp_path / "elsewhere") == []
