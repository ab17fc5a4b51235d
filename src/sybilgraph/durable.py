"""Durable publication by rename: what a rename makes visible survives a power loss.

Why: a rename is atomic, but without ``fsync`` the renamed files' data and the directory entries
may still sit in the page cache when the power goes, and after it a bundle marked complete can
hold truncated Parquet. The order that makes it safe (the one SQLite and PostgreSQL use): fsync
the files, then the directories holding them, then rename, then fsync the directories the rename
changed (Pillai et al., "All File Systems Are Not Created Equal", OSDI 2014).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["fsync_dir", "fsync_file", "fsync_tree", "replace", "write_bytes", "write_text"]


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """Every regular file under ``root``, then every directory, deepest first (symlinks not followed)."""
    if not root.is_dir() or root.is_symlink():
        fsync_file(root)
        return
    for dirpath, _dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames:
            path = Path(dirpath, name)
            if path.is_file() and not path.is_symlink():
                fsync_file(path)
        fsync_dir(Path(dirpath))


def replace(source: Path, target: Path) -> None:
    """``os.replace`` that is durable: the source's data first, the changed directories after."""
    fsync_tree(source)
    os.replace(source, target)
    fsync_dir(target.parent)
    if source.parent != target.parent:
        fsync_dir(source.parent)


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all, durably (a temporary file beside it, then ``replace``)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))
