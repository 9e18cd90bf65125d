"""Result files are written whole or not at all.

Each file goes to FILE.part beside its place and is renamed over FILE only once written, so
an interrupted command (Ctrl-C, a killed job) leaves the previous file or none, never a
truncated one that looks complete. A rename within a directory is atomic on POSIX.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO


def part_path(path: Path) -> Path:
    return path.with_name(path.name + ".part")


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield the temporary path to write; on success it replaces `path`. A writer that picks
    the format from the name (matplotlib's savefig) must be told the format."""
    part = part_path(path)
    try:
        yield part
        part.replace(path)
    finally:
        part.unlink(missing_ok=True)


def write_frame_csv(frame, path: Path) -> Path:
    with replacing(path) as part:
        frame.to_csv(part, index=False)
    return path


def write_together(writers: Mapping[Path, Callable[[IO[str]], object]]) -> None:
    """Write each text file to FILE.part, then rename them all: files that belong together
    (a CSV and its provenance) appear together or not at all."""
    parts = {path: part_path(path) for path in writers}
    try:
        for path, write in writers.items():
            with open(parts[path], "w", encoding="utf-8", newline="") as f:
                write(f)
        for path, part in parts.items():
            part.replace(path)
    finally:
        for part in parts.values():
            part.unlink(missing_ok=True)
