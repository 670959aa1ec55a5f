"""PED files (PLINK's pedigree format, as GEMINI and Hail read them): one person per line with
family, individual, father, mother, sex and phenotype, tab or space separated.

`0` (or empty, `.`, `-9` for the phenotype) is unknown; sex is 1 male, 2 female; phenotype 1
unaffected, 2 affected. Lines starting with `#` are comments (a header line among them). Columns past
the sixth are ignored, as PLINK does. A parent named but given no line of their own is added to the
family with the sex their role implies. Every mistake is refused with the file and line.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

MALE, FEMALE, UNKNOWN = "male", "female", "unknown"
AFFECTED, UNAFFECTED = "affected", "unaffected"
_SEX = {"1": MALE, "2": FEMALE, "m": MALE, "f": FEMALE, "male": MALE, "female": FEMALE}
_PHENOTYPE = {"1": UNAFFECTED, "2": AFFECTED, "unaffected": UNAFFECTED, "affected": AFFECTED}
_MISSING = {"0", "", ".", "-9", "na"}
_NAME = re.compile(r"[^\s\x00-\x1f]{1,200}")


class PedigreeError(ValueError):
    """A PED file that cannot be read as one: names the file and the line."""


@dataclass(frozen=True)
class Person:
    name: str
    family: str
    father: str | None = None
    mother: str | None = None
    sex: str = UNKNOWN
    phenotype: str = UNKNOWN

    @property
    def affected(self) -> bool:
        return self.phenotype == AFFECTED

    def as_row(self) -> dict:
        return asdict(self)


def read_ped(path: Path | str, namespace: str = "") -> list[Person]:
    """The people of a PED file; names (and parents' names) prefixed `namespace:` when given, to
    match the samples of a source with that `sample_namespace`."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise PedigreeError(f"{path}: cannot read the PED file ({exc})") from None

    def named(value: str) -> str:
        return f"{namespace}:{value}" if namespace else value

    people: dict[str, Person] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{path}, line {number}"
        fields = line.split("\t") if "\t" in line else line.split()
        fields = [f.strip() for f in fields]
        if len(fields) < 6:
            raise PedigreeError(f"{where}: {len(fields)} columns; a PED line has 6 (family, individual, father, mother, sex, phenotype)")
        family, individual, father, mother, sex, phenotype = fields[:6]
        for label, value in (("family", family), ("individual", individual)):
            if value in _MISSING or not _NAME.fullmatch(value):
                raise PedigreeError(f"{where}: {label} id {value!r} is missing or has spaces or control characters")
        if sex.lower() not in _SEX and sex not in _MISSING:
            raise PedigreeError(f"{where}: sex {sex!r} is not 1 (male), 2 (female) or 0 (unknown)")
        if phenotype.lower() not in _PHENOTYPE and phenotype.lower() not in _MISSING:
            raise PedigreeError(f"{where}: phenotype {phenotype!r} is not 1 (unaffected), 2 (affected) or 0/-9 (unknown)")
        name = named(individual)
        if name in people:
            raise PedigreeError(f"{where}: individual {individual!r} is listed twice")
        parents = [named(p) if p not in _MISSING else None for p in (father, mother)]
        if name in parents:
            raise PedigreeError(f"{where}: {individual!r} is given as their own parent")
        people[name] = Person(name, family, parents[0], parents[1], _SEX.get(sex.lower(), UNKNOWN), _PHENOTYPE.get(phenotype.lower(), UNKNOWN))
    if not people:
        raise PedigreeError(f"{path}: no individuals (is it a PED file?)")
    return _with_parents(people, path)


def _with_parents(people: dict[str, Person], path: Path) -> list[Person]:
    """Check each parent's sex and family against their role; add parents who have no line."""
    for person in list(people.values()):
        for parent, sex, role in ((person.father, MALE, "father"), (person.mother, FEMALE, "mother")):
            if parent is None:
                continue
            known = people.get(parent)
            if known is None:
                people[parent] = Person(parent, person.family, sex=sex)
            elif known.sex not in (sex, UNKNOWN):
                raise PedigreeError(f"{path}: {parent!r} is {person.name!r}'s {role} but their sex is {known.sex}")
            elif known.family != person.family:
                raise PedigreeError(f"{path}: {parent!r} (family {known.family}) is {role} of {person.name!r} in family {person.family}")
    return sorted(people.values(), key=lambda p: (p.family, p.name))


def trios(family: list[Person]) -> list[tuple[Person, Person, Person]]:
    """(child, father, mother) for each member of `family` with both parents in it."""
    by_name = {p.name: p for p in family}
    return [
        (child, by_name[child.father], by_name[child.mother])
        for child in family
        if child.father in by_name and child.mother in by_name
    ]
