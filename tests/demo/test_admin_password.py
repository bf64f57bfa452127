"""The demo's admin password file is private from the moment it exists."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from simulators.demo.stack import admin_password


def test_the_password_file_is_created_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = os.umask(0o022)  # a usual umask: a plainly written file is readable by everyone
    try:
        # the run dies right after writing (no chance to change the mode afterwards)
        def no_chmod(self: Path, mode: int, **kw: object) -> None:
            raise KeyboardInterrupt("killed")

        monkeypatch.setattr(Path, "chmod", no_chmod)
        pw = admin_password(tmp_path)
    except KeyboardInterrupt:
        pw = None
    finally:
        os.umask(old)
    path = tmp_path / "admin_password"
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert pw is not None and path.read_text().strip() == pw
    assert admin_password(tmp_path) == pw  # kept and reused


def test_it_is_never_written_through_a_planted_link(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("")
    (tmp_path / "admin_password").symlink_to(target)
    target.unlink()  # a dangling link: exists() is false, the file would be created there
    with pytest.raises(FileExistsError):
        admin_password(tmp_path)
    assert not target.exists()
