"""The allocator settings every pipeline process makes (lib/system/memory.py), read back from glibc
by `malloc_info` in a fresh interpreter whose eight threads allocate at once."""

import os
import subprocess
import sys

from vcf_pipeline.lib.system.memory import HEAP_ARENAS

# Eight threads hold 5 MB each at the same moment (blocks of 100 kB, below the mmap threshold: heap
# memory), then glibc reports its arenas: one `<heap nr=...>` per arena.
_PROBE = """
import ctypes, sys, tempfile, threading
if sys.argv[1] == "pipeline":
    import vcf_pipeline  # noqa: F401
libc = ctypes.CDLL(None)
barrier = threading.Barrier(8)
held = []
def work():
    barrier.wait()
    held.append([bytearray(100_000) for _ in range(50)])
    barrier.wait()
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
libc.fopen.restype = ctypes.c_void_p
with tempfile.NamedTemporaryFile(suffix=".xml") as out:
    stream = ctypes.c_void_p(libc.fopen(out.name.encode(), b"w"))
    libc.malloc_info(0, stream)
    libc.fclose(stream)
    print(open(out.name).read().count("<heap nr="))
"""


def _arenas(importing: str, **environment: str) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES"))}
    result = subprocess.run([sys.executable, "-c", _PROBE, importing], env={**env, **environment}, capture_output=True, text=True, check=True)
    return int(result.stdout)


def test_a_pipeline_process_keeps_its_heap_in_few_arenas():
    assert _arenas("plain") > HEAP_ARENAS  # what glibc does unbounded: the probe can tell
    assert _arenas("pipeline") <= HEAP_ARENAS


def test_an_arena_limit_in_the_environment_wins():
    assert HEAP_ARENAS < _arenas("pipeline", MALLOC_ARENA_MAX="4") <= 4


# A block's peak is measured from its own start: 300 MB held and freed before it do not count, the
# 200 MB it holds do, and the process's peak still shows the 300 MB. Sizes are known, not read back.
_PEAKS = """
from vcf_pipeline.lib.system.memory import peak_resident, process_peak_mb
before = b"x" * (300 << 20)
del before
with peak_resident() as idle:
    pass
with peak_resident() as busy:
    held = b"x" * (200 << 20)
del held
print(idle.mb, busy.mb, process_peak_mb())
"""


def test_a_block_s_peak_counts_from_its_own_start_and_the_process_peak_is_kept():
    result = subprocess.run([sys.executable, "-c", _PEAKS], capture_output=True, text=True, check=True)
    idle, busy, process = map(float, result.stdout.split())
    assert busy - idle >= 190  # the 200 MB the block held
    assert idle + 250 <= process  # the 300 MB before it count for the process, not the block
    assert process >= busy
