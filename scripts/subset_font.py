"""Build the Chinese font Linyuan ships (gis/fonts/) from Debian's fonts-noto-cjk.

Charts and report figures need a font with CJK glyphs, and an office PC or a fresh Linux box
may have none that matplotlib finds. Linyuan therefore carries a static (not variable) subset of
Noto Sans CJK SC Regular, SIL Open Font License 1.1 (gis/fonts/OFL.txt), made here with
fontTools (a matplotlib dependency):

- source: the SC face of ``NotoSansCJK-Regular.ttc`` (``apt-get install fonts-noto-cjk``);
- characters: all of GB 2312 (6763 hanzi and 682 symbols), every character Linyuan's own code,
  catalog, rules and notebooks write (GB 2312 lacks 瞭 of 瞭望塔), plus ASCII, Latin-1, general
  punctuation, letterlike symbols, number forms, arrows, mathematical operators, enclosed
  numerals, box drawing, geometric shapes, dingbats, CJK symbols and punctuation, and
  full-width forms;
- no OpenType layout features (matplotlib does not shape text) and no vertical metrics;
- renamed (family ``Noto Sans SC Linyuan``) so it never shadows a full system Noto Sans CJK SC:
  a Modified Version under the OFL may not use the Reserved Font Name "Source", and does not.

Run from the repository root::

    .venv/bin/python scripts/subset_font.py [--source PATH.ttc] [--out gis/fonts/FILE.otf]

The output is deterministic for a given source file and fontTools version.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
OUT = Path("gis/fonts/NotoSansSC-Linyuan-Regular.otf")
FAMILY = "Noto Sans SC Linyuan"
POSTSCRIPT = "NotoSansSCLinyuan-Regular"

RANGES = (
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1 (° ± × ² ³ · …)
    (0x2000, 0x206F),  # general punctuation (— “ ” … ‰)
    (0x2100, 0x214F),  # letterlike symbols (℃ №)
    (0x2150, 0x218F),  # number forms (Ⅰ Ⅱ …)
    (0x2190, 0x21FF),  # arrows (→ ↑)
    (0x2200, 0x22FF),  # mathematical operators (≥ ≤ ≈ ∑)
    (0x2460, 0x24FF),  # enclosed numerals (① ②)
    (0x2500, 0x257F),  # box drawing
    (0x25A0, 0x25FF),  # geometric shapes (■ ▲ ●)
    (0x2700, 0x27BF),  # dingbats (✓)
    (0x3000, 0x303F),  # CJK symbols and punctuation (、。「」【】)
    (0xFF00, 0xFFEF),  # full-width forms (，：（）％)
)


def gb2312() -> set[int]:
    """Return the code points of every character of GB 2312 (rows 0xA1–0xF7)."""
    points = set()
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                points.add(ord(bytes((high, low)).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    return points


def written_by_linyuan() -> set[int]:
    """Return every non-ASCII character Linyuan itself writes (gis/, layers/, notebooks/).

    GB 2312 lacks some characters the bureau's words need (瞭 of 瞭望塔); whatever the code,
    catalog, rules and notebooks say is covered too (``tests/test_charts.py`` checks it).
    """
    points: set[int] = set()
    for folder in ("gis", "layers", "notebooks"):
        for path in Path(folder).rglob("*"):
            if path.suffix in {".py", ".yaml", ".yml", ".ipynb", ".j2", ".md"}:
                text = path.read_text(encoding="utf-8", errors="ignore")
                points.update(ord(c) for c in text if ord(c) > 0x7F)
    return points


def wanted() -> set[int]:
    """Return the code points the shipped font covers (where the source has a glyph)."""
    points = gb2312() | written_by_linyuan()
    for first, last in RANGES:
        points.update(range(first, last + 1))
    return points


def rename(font: subset.ttLib.TTFont) -> None:
    """Give the subset its own family name (IDs 1, 3, 4, 6, 16, 17), keeping the rest."""
    names = font["name"]
    for record in names.names:
        if record.nameID in (1, 16):
            record.string = FAMILY
        elif record.nameID == 4:
            record.string = f"{FAMILY} Regular"
        elif record.nameID == 6:
            record.string = POSTSCRIPT
        elif record.nameID == 3:
            record.string = f"{record.toUnicode()};Linyuan subset"
        elif record.nameID == 17:
            record.string = "Regular"
    cff = font["CFF "].cff
    cff.fontNames = [POSTSCRIPT]
    top = cff.topDictIndex[0]
    top.FamilyName = FAMILY
    top.FullName = f"{FAMILY} Regular"


def build(source: Path, out: Path) -> int:
    """Write the subset of the SC face of ``source`` to ``out``; return its size in bytes."""
    collection = TTCollection(str(source))
    font = next(f for f in collection.fonts if f["name"].getDebugName(6) == "NotoSansCJKsc-Regular")
    options = subset.Options()
    options.layout_features = []
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.drop_tables += ["VORG", "vhea", "vmtx"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=wanted())
    subsetter.subset(font)
    rename(font)
    out.parent.mkdir(parents=True, exist_ok=True)
    font.save(str(out))
    return out.stat().st_size


def main() -> None:
    """Parse the command line and build the font."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    size = build(args.source, args.out)
    print(f"{args.out}: {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
