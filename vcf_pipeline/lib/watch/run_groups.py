"""Which new files share a run. Each run costs seconds before its first record (a process, the code
location, the model), so a drop of many small files is worked through in groups; a large file runs
alone, beside the others, on its own run slot.

A group is a run over a range of partition keys, so it must be contiguous in the order the partitions
were added: the files are grouped in the order the sensor adds them, never reordered.
"""

from __future__ import annotations


def run_groups(files: list[tuple[str, int]], max_files: int, max_bytes: int) -> list[list[str]]:
    """`files` (key, size), in the order they are added, cut into consecutive groups of at most
    `max_files` files and `max_bytes` together; a file of `max_bytes` or more is a group of its own."""
    groups: list[list[str]] = []
    current: list[str] = []
    size = 0
    for key, file_size in files:
        if current and (len(current) >= max_files or size + file_size > max_bytes):
            groups.append(current)
            current, size = [], 0
        current.append(key)
        size += file_size
    if current:
        groups.append(current)
    return groups
