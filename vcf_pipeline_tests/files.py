"""VCF files the tests write, with known contents."""

from __future__ import annotations

import random
from pathlib import Path


def write_raw_calls(path: Path, records: int, seed: int = 11, samples: tuple[str, ...] = ()) -> Path:
    """A VCF of `records` SNVs on chr1 and chr2 with no annotation at all (raw caller output); with
    `samples`, each gets a random genotype per record."""
    rng = random.Random(seed)
    lines = ["##fileformat=VCFv4.2", "##contig=<ID=chr1,length=248956422>", "##contig=<ID=chr2,length=242193529>",
             '##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">',
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
             "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", *(["FORMAT", *samples] if samples else [])])]
    per_chrom = records // 2
    for chrom in ("chr1", "chr2"):
        for pos in sorted(rng.sample(range(10_000, 200_000_000), per_chrom)):
            ref = rng.choice("ACGT")
            alt = rng.choice([b for b in "ACGT" if b != ref])
            genotypes = [rng.choice(("0/0", "0/1", "1/1", "./.")) for _ in samples]
            lines.append("\t".join([chrom, str(pos), ".", ref, alt, str(rng.randint(10, 99)), "PASS", f"DP={rng.randint(5, 60)}",
                                    *(["GT", *genotypes] if samples else [])]))
    path.write_text("\n".join(lines) + "\n")
    return path


def write_settings(home: Path, settings: dict) -> Path:
    """The home's configuration file (`vcf-pipeline.yaml`) holding `settings` (nested sections)."""
    import yaml

    home.mkdir(parents=True, exist_ok=True)
    path = home / "vcf-pipeline.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def repeats_and_indels(rng, contigs: int = 300, records: int = 150) -> tuple[str, list[tuple[int, str, str]]]:
    """A sequence of short tandem repeats and (pos, ref, "alt,alt") records on it that need splitting,
    trimming and left-shifting: deletions, insertions and MNPs, one to three ALTs each."""
    units = ["A", "CA", "TTG", "GATC", "C"]
    sequence = "G" + "".join(rng.choice(units) * rng.randint(1, 6) + rng.choice("ACGT") for _ in range(contigs))
    found, used = [], set()
    for _ in range(records):
        pos = rng.randint(1, len(sequence) - 12)
        if pos in used:
            continue
        used.add(pos)
        ref = sequence[pos - 1 : pos - 1 + rng.randint(1, 6)]
        alts = set()
        for _ in range(rng.randint(1, 3)):
            kind = rng.choice(["del", "ins", "mnp"])
            if kind == "del" and len(ref) > 1:
                alt = ref[: rng.randint(1, len(ref) - 1)]
            elif kind == "ins":
                alt = ref + "".join(rng.choice("ACGT") for _ in range(rng.randint(1, 4)))
            else:
                alt = "".join(rng.choice("ACGT") for _ in ref)
            if alt != ref:
                alts.add(alt)
        if alts:
            found.append((pos, ref, ",".join(sorted(alts))))
    return sequence, found
