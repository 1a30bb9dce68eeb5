"""Open-set identification sets on disk: who is enrolled, who is probed, who is a stranger.

* gallery: one subfolder per person, holding that person's enrolment photos;
* probes: one subfolder per person, or files named ``<Person>_<NNNN>.<ext>`` (LFW naming);
* unknown: photos of strangers (any layout), none of whom is enrolled.

``lfw_protocol`` builds such a set from a folder in the LFW layout (the protocol of
docs/accuracy.md) as lists of files, without copying anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from facewatch.errors import InvalidInput

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
_LFW_NAME = re.compile(r"^(?P<person>.+)_\d{4}$")


@dataclass(frozen=True, slots=True)
class IdentificationSet:
    """Enrolment photos per person, labelled probes and stranger photos."""

    gallery: dict[str, list[Path]]
    probes: list[tuple[str, Path]]
    unknown: list[Path]

    def __post_init__(self) -> None:
        if not self.gallery:
            raise InvalidInput("the gallery has no person")
        if not self.probes and not self.unknown:
            raise InvalidInput("there is nothing to identify: no probes and no strangers")

    @property
    def images(self) -> list[Path]:
        """Every photo of the set, each once, in a stable order."""
        every = [p for photos in self.gallery.values() for p in photos]
        every += [p for _, p in self.probes] + self.unknown
        return list(dict.fromkeys(every))


def images_in(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursively), sorted."""
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )


def read_set(gallery: Path, probes: Path, unknown: Path | None) -> IdentificationSet:
    """The identification set in three folders; ``InvalidInput`` if one is missing or empty."""
    for folder in (gallery, probes, unknown):
        if folder is not None and not folder.is_dir():
            raise InvalidInput(f"not a folder: {folder}")
    people = {
        person.name: images_in(person)
        for person in sorted(gallery.iterdir())
        if person.is_dir() and images_in(person)
    }
    labelled = read_probes(probes)
    enrolled = set(people)
    strays = sorted({name for name, _ in labelled if name not in enrolled})
    if strays:
        raise InvalidInput(
            f"probes of people not in the gallery: {', '.join(strays[:5])}"
            f"{' ...' if len(strays) > 5 else ''} (strangers belong in the unknown folder)"
        )
    return IdentificationSet(people, labelled, images_in(unknown) if unknown else [])


def read_probes(folder: Path) -> list[tuple[str, Path]]:
    """Labelled probes: subfolders per person, or files named ``<Person>_<NNNN>``."""
    labelled: list[tuple[str, Path]] = []
    for path in images_in(folder):
        if path.parent != folder:
            labelled.append((path.parent.relative_to(folder).parts[0], path))
            continue
        match = _LFW_NAME.match(path.stem)
        if match is None:
            raise InvalidInput(
                f"probe {path.name} is neither in a person's subfolder nor named <Person>_<NNNN>"
            )
        labelled.append((match["person"], path))
    return labelled


def lfw_protocol(
    lfw: Path, *, enrolled: int = 1, probes: int = 2, strangers: int | None = None
) -> IdentificationSet:
    """The open-set protocol on an LFW-layout folder.

    People with at least ``enrolled + probes`` photos are enrolled with their first
    ``enrolled`` photos and probed with the next ``probes``; people with exactly one photo
    are the strangers, as many as there are probes unless ``strangers`` says otherwise
    (taken in name order).
    """
    if not lfw.is_dir():
        raise InvalidInput(f"not a folder: {lfw}")
    gallery: dict[str, list[Path]] = {}
    labelled: list[tuple[str, Path]] = []
    singles: list[Path] = []
    for person in sorted(p for p in lfw.iterdir() if p.is_dir()):
        photos = images_in(person)
        if len(photos) == 1:
            singles.append(photos[0])
        elif len(photos) >= enrolled + probes:
            gallery[person.name] = photos[:enrolled]
            labelled += [(person.name, p) for p in photos[enrolled : enrolled + probes]]
    count = len(labelled) if strangers is None else strangers
    if count > len(singles):
        raise InvalidInput(f"{lfw} has only {len(singles)} one-photo people, not {count}")
    return IdentificationSet(gallery, labelled, singles[:count])
