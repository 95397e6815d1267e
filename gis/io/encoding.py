"""Decide the text encoding of a Shapefile's attribute table, never silently wrong.

Chinese deliveries come as GBK without a ``.cpg`` (or with values GDAL ignores, such as
``ANSI 936``), as GBK flagged only by the DBF language-driver byte, or as UTF-8 with no hint
at all. The order of evidence:

1. an explicit ``encoding=`` from the caller;
2. the ``.cpg`` text (``936``, ``ANSI 936``, ``CP936``, ``GBK``, ``GB2312``, ``UTF-8``,
   ``65001`` …);
3. the DBF language-driver ID (LDID, header byte 29; ``0x4D`` → cp936; ``0x57`` "current ANSI"
   and ``0`` carry no information);
4. strict UTF-8 over all character-field bytes of the whole table;
5. GB18030 (a superset of GBK/GB2312), if it decodes the table strictly.

Failing all of that, :class:`~gis.errors.EncodingError` asks for ``encoding=``. The sniff reads
only the DBF (header and records) as bytes — no GDAL pass over the geometry.

Examples
--------
>>> decide_encoding(cpg_text="ANSI 936").encoding
'gbk'
>>> str(decide_encoding(cpg_text=None, ldid=0x4D).method)
'ldid'
>>> decide_encoding(text_bytes="黑龙江省".encode("gbk")).encoding
'gb18030'
"""

from __future__ import annotations

import codecs
import enum
import os
import re
import struct
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from gis.errors import EncodingError

# ESRI/dBase language-driver IDs → Python codecs (ArcGIS "Locales and code pages" table).
# 0 (none) and 0x57 (87, "current ANSI code page", i.e. whatever the writer's Windows used)
# tell nothing and fall through to the content sniff.
LDID_CODECS: dict[int, str] = {
    0x01: "cp437", 0x02: "cp850", 0x03: "cp1252", 0x04: "mac_roman", 0x08: "cp865",
    0x09: "cp437", 0x0A: "cp850", 0x0B: "cp437", 0x0D: "cp437", 0x0E: "cp850",
    0x0F: "cp437", 0x10: "cp850", 0x11: "cp437", 0x12: "cp850", 0x13: "cp932",
    0x14: "cp850", 0x15: "cp437", 0x16: "cp850", 0x17: "cp865", 0x18: "cp437",
    0x19: "cp437", 0x1A: "cp850", 0x1B: "cp437", 0x1C: "cp863", 0x1D: "cp850",
    0x1F: "cp852", 0x22: "cp852", 0x23: "cp852", 0x24: "cp860", 0x25: "cp850",
    0x26: "cp866", 0x37: "cp850", 0x40: "cp852", 0x4D: "gbk", 0x4E: "cp949",
    0x4F: "cp950", 0x50: "cp874", 0x58: "cp1252", 0x59: "cp1252", 0x64: "cp852",
    0x65: "cp866", 0x66: "cp865", 0x67: "cp861", 0x6A: "cp737", 0x6B: "cp857",
    0x6C: "cp863", 0x78: "cp950", 0x79: "cp949", 0x7A: "gbk", 0x7B: "cp932",
    0x7C: "cp874", 0x86: "cp737", 0x87: "cp852", 0x88: "cp857", 0x96: "mac_cyrillic",
    0x97: "mac_latin2", 0x98: "mac_greek", 0xC8: "cp1250", 0xC9: "cp1251",
    0xCA: "cp1254", 0xCB: "cp1253", 0xCC: "cp1257",
}  # fmt: skip

# .cpg values seen in the wild (upper-cased, spaces/dashes/underscores removed) → codec.
_CPG_ALIASES: dict[str, str] = {
    "ANSI936": "gbk", "936": "gbk", "CP936": "gbk", "GBK": "gbk", "GB2312": "gbk",
    "EUCCN": "gbk", "GB18030": "gb18030", "54936": "gb18030",
    "UTF8": "utf-8", "65001": "utf-8", "UNICODE": "utf-8",
    "BIG5": "cp950", "950": "cp950", "ANSI950": "cp950",
    "88591": "latin-1", "ISO88591": "latin-1", "LATIN1": "latin-1",
    "SYSTEM": "", "ANSI": "", "OEM": "",
}  # fmt: skip


class Method(enum.StrEnum):
    """How the encoding was decided."""

    EXPLICIT = "explicit"
    CPG = "cpg"
    LDID = "ldid"
    ASCII = "ascii"
    UTF8 = "utf8_content"
    GB18030 = "gb18030_content"


@dataclass(frozen=True)
class EncodingDecision:
    """The encoding chosen for an attribute table and why."""

    encoding: str
    method: Method
    reason: str
    warning: str | None = None
    reason_zh: str | None = None
    """``reason`` in Chinese (findings carry both languages)."""
    warning_zh: str | None = None
    """``warning`` in Chinese."""


def codec_from_cpg(text: str) -> str | None:
    """Return the Python codec for a ``.cpg`` value, ``""`` for "no information", or ``None``.

    ``None`` means the value is not understood.

    Examples
    --------
    >>> codec_from_cpg("ANSI 936"), codec_from_cpg("65001"), codec_from_cpg("UTF-8")
    ('gbk', 'utf-8', 'utf-8')
    >>> codec_from_cpg("1252"), codec_from_cpg("klingon")
    ('cp1252', None)
    """
    key = "".join(ch for ch in text.strip().upper() if ch not in " -_")
    if key in _CPG_ALIASES:
        return _CPG_ALIASES[key]
    candidate = f"cp{key[4:]}" if key.startswith("ANSI") else key
    if candidate.isdigit():
        candidate = f"cp{candidate}"
    try:
        return codecs.lookup(candidate).name
    except LookupError:
        return None


def _decodes(data: bytes, codec: str) -> bool:
    """Whether ``data`` decodes, allowing a character cut at the end of a line (a field)."""
    return _whole(data, codec) or all(_decodes_cut(line, codec) for line in data.split(b"\n"))


def _decodes_cut(data: bytes, codec: str) -> bool:
    """Whether ``data`` decodes but for an incomplete character at its very end."""
    try:
        codecs.getincrementaldecoder(codec)().decode(data, final=False)
    except UnicodeDecodeError:
        return False
    return True


def decode_cut(data: bytes, codec: str) -> str:
    """Decode ``data``, dropping an incomplete character at its end (a DBF's byte limit cut it).

    A DBF field name holds 10 bytes and a value its field's width; writers (GDAL among them)
    cut longer UTF-8 or GBK text there, also inside a character. Any other undecodable byte
    still raises.

    Examples
    --------
    >>> decode_cut("前期影像时间".encode()[:10], "utf-8")
    '前期影'
    """
    return codecs.getincrementaldecoder(codec)().decode(data, final=False)


def cut_field_names(path: str | os.PathLike[str], codec: str) -> list[str]:
    """Return the field names of a DBF cut inside a character, decoded without the stump.

    Parameters
    ----------
    path : path-like
        The ``.shp`` or ``.dbf``.
    codec : str
        The table's encoding (see :func:`detect_shapefile_encoding`).

    Examples
    --------
    >>> cut_field_names("no-such.dbf", "utf-8")
    []
    """
    dbf = _sidecar(Path(path), ".dbf")
    if dbf is None:
        return []
    with dbf.open("rb") as stream:
        header = stream.read(32)
        if len(header) < 32:
            return []
        header += stream.read(max(struct.unpack("<H", header[8:10])[0] - 32, 0))
    names = [name for name, *_ in _fields(header, len(header))]
    return [decode_cut(name, codec) for name in names if not _whole(name, codec)]


def _whole(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def _declared(cpg_text: str | None, ldid: int | None) -> EncodingDecision | None:
    if cpg_text is not None and cpg_text.strip():
        codec = codec_from_cpg(cpg_text)
        if codec:
            said = cpg_text.strip()
            return EncodingDecision(
                codec,
                Method.CPG,
                f".cpg says {said!r} → {codec}",
                reason_zh=f".cpg 文件声明为 {said!r} → {codec}",
            )
    if ldid and ldid in LDID_CODECS:
        codec = LDID_CODECS[ldid]
        reason = f"DBF language driver (LDID) 0x{ldid:02X} → {codec}"
        zh = f"DBF 语言驱动字节 (LDID) 0x{ldid:02X} → {codec}"
        return EncodingDecision(codec, Method.LDID, reason, reason_zh=zh)
    return None


def _sniffed(text_bytes: bytes) -> EncodingDecision | None:
    if text_bytes.isascii():
        reason = "all text is ASCII; read as UTF-8"
        return EncodingDecision(
            "utf-8", Method.ASCII, reason, reason_zh="属性文本全为 ASCII，按 UTF-8 读取"
        )
    if _decodes(text_bytes, "utf-8"):
        reason = "no .cpg or LDID; all text bytes decode as strict UTF-8"
        zh = "无 .cpg 文件和 LDID；全部文本字节可按严格 UTF-8 解码"
        return EncodingDecision("utf-8", Method.UTF8, reason, reason_zh=zh)
    if _decodes(text_bytes, "gb18030"):
        reason = "no .cpg or LDID; text is not UTF-8 and decodes as GB18030 (GBK)"
        zh = "无 .cpg 文件和 LDID；文本不是 UTF-8，可按 GB18030 (GBK) 解码"
        return EncodingDecision("gb18030", Method.GB18030, reason, reason_zh=zh)
    return None


def _checked(declared: EncodingDecision, text_bytes: bytes) -> EncodingDecision:
    """Refuse a declaration the text contradicts; flag one the text makes doubtful.

    GBK text holding characters only GB18030 has (rare names written in 4 bytes, such as
    U+21484) is read as GB18030, GBK's superset: every GBK character reads the same.
    """
    widen = declared.encoding == "gbk" and not _decodes(text_bytes, "gbk")
    if widen and not _decodes(text_bytes, "utf-8") and _decodes(text_bytes, "gb18030"):
        return replace(
            declared,
            encoding="gb18030",
            reason=f"{declared.reason}; read as GB18030, its superset, as the text holds "
            "characters beyond GBK",
            reason_zh=f"{declared.reason_zh or declared.reason}；文本含 GBK 以外的字符，"
            "按其超集 GB18030 读取",
        )
    if not _decodes(text_bytes, declared.encoding):
        sniffed = _sniffed(text_bytes)
        hint = f"encoding={sniffed.encoding!r}" if sniffed else "encoding= with the real one"
        raise EncodingError(
            f"{declared.reason}, but the text does not decode as {declared.encoding}; "
            f"the declaration is wrong — pass {hint} (--encoding)",
            zh=f"{declared.reason}，但文本不能按 {declared.encoding} 解码；声明有误——"
            f"请用 --encoding 指定 {hint}",
        )
    utf8_too = declared.encoding != "utf-8" and not text_bytes.isascii()
    if utf8_too and _decodes(text_bytes, "utf-8"):
        warning = (
            f"{declared.reason}, but the text is also valid UTF-8, which is rare for "
            f"{declared.encoding} text; if names look garbled pass encoding='utf-8'"
        )
        zh = (
            f"{declared.reason_zh or declared.reason}，但文本同时也是有效的 UTF-8，这在 "
            f"{declared.encoding} 文本中很少见；如名称显示为乱码，请指定 encoding='utf-8'"
        )
        return replace(declared, warning=warning, warning_zh=zh)
    return declared


def decide_encoding(
    *,
    explicit: str | None = None,
    cpg_text: str | None = None,
    ldid: int | None = None,
    text_bytes: bytes = b"",
) -> EncodingDecision:
    """Decide an attribute table's encoding from the evidence, strongest first.

    Parameters
    ----------
    explicit : str, optional
        Encoding given by the caller; always wins.
    cpg_text : str, optional
        Content of the ``.cpg`` sidecar.
    ldid : int, optional
        DBF language-driver byte (header byte 29).
    text_bytes : bytes
        All character-field bytes of the table (see :func:`dbf_text`).

    Returns
    -------
    EncodingDecision
        The Python codec name, the method and the reason; ``warning`` is set when the text
        is also valid UTF-8 although a non-UTF-8 encoding was declared.

    Raises
    ------
    EncodingError
        When a declared encoding (.cpg, LDID) does not decode the text, or nothing decides
        and the text decodes neither as UTF-8 nor as GB18030.
    """
    if explicit:
        try:
            codec = codecs.lookup(explicit).name
        except LookupError:
            raise EncodingError(
                f"unknown encoding {explicit!r}; pass a codec name such as GBK or UTF-8",
                zh=f"未知编码 {explicit!r}；请给出编码名称，如 GBK 或 UTF-8",
            ) from None
        return EncodingDecision(
            codec,
            Method.EXPLICIT,
            f"encoding={explicit!r} given",
            reason_zh=f"已指定 encoding={explicit!r}",
        )
    declared = _declared(cpg_text, ldid)
    if declared is not None:
        return _checked(declared, text_bytes)
    sniffed = _sniffed(text_bytes)
    if sniffed is None:
        raise EncodingError(
            "the attribute text decodes neither as UTF-8 nor as GB18030; pass encoding= "
            "(--encoding) with the table's real code page",
            zh="属性文本既不能按 UTF-8 也不能按 GB18030 解码；请用 --encoding 指定实际编码",
        )
    return sniffed


@dataclass(frozen=True)
class DbfText:
    """What the sniff needs from a DBF: the LDID and the bytes of the character fields."""

    ldid: int
    n_records: int
    text_bytes: bytes


def _fields(header: bytes, header_len: int) -> list[tuple[bytes, bytes, int, int]]:
    """Return (name, type, offset in record, length) of each field descriptor."""
    fields, offset = [], 1  # byte 0 of a record is the deletion flag
    for pos in range(32, header_len - 31, 32):
        desc = header[pos : pos + 32]
        if desc[0] == 0x0D:
            break
        kind = desc[11:12]
        # shapelib: a character field's width is byte 16 + 256 × byte 17 (long text fields)
        length = desc[16] | (desc[17] << 8) if kind == b"C" else desc[16]
        fields.append((desc[:11].split(b"\x00")[0], kind, offset, length))
        offset += length
    return fields


def dbf_text(data: bytes) -> DbfText:
    """Parse a DBF's header; return its LDID, and the bytes of field names and text values.

    Field names (which may be Chinese too) come first; then each character-field value
    keeps its padding (ASCII blanks/NULs) and is followed by a newline, so a multibyte
    sequence cut at a field's end cannot be completed by the next field.

    Parameters
    ----------
    data : bytes
        The whole ``.dbf`` file.
    """
    if len(data) < 32:
        raise EncodingError(
            "the .dbf is shorter than its 32-byte header", zh=".dbf 文件不足 32 字节的文件头"
        )
    n_records, header_len, record_len = struct.unpack("<IHH", data[4:12])
    body = data[header_len : header_len + n_records * record_len]
    n = len(body) // record_len if record_len else 0
    records = np.frombuffer(body[: n * record_len], dtype=np.uint8).reshape(n, record_len)
    fields = _fields(data[:header_len], header_len)
    names = b"\n".join(name for name, *_ in fields) + b"\n"
    newline = np.full((n, 1), ord("\n"), dtype=np.uint8)
    columns = []
    for _, kind, offset, length in fields:
        if kind == b"C":
            columns += [records[:, offset : offset + length], newline]
    values = np.hstack(columns).tobytes() if columns else b""
    return DbfText(ldid=data[29], n_records=n, text_bytes=names + values)


def detect_shapefile_encoding(
    path: str | os.PathLike[str], *, explicit: str | None = None
) -> EncodingDecision:
    """Decide the encoding of a Shapefile (or lone ``.dbf``) from its ``.cpg`` and ``.dbf``.

    Parameters
    ----------
    path : path-like
        The ``.shp`` or ``.dbf``.
    explicit : str, optional
        Caller's encoding; wins over everything.

    Raises
    ------
    EncodingError
        When the encoding cannot be decided; the message names the file.
    """
    p = Path(path)
    if explicit:
        return decide_encoding(explicit=explicit)
    cpg = _sidecar(p, ".cpg")
    dbf = _sidecar(p, ".dbf")
    cpg_text = cpg.read_text(encoding="ascii", errors="replace") if cpg else None
    try:
        parsed = dbf_text(dbf.read_bytes()) if dbf else DbfText(0, 0, b"")
    except EncodingError as exc:
        raise EncodingError(f"{dbf}: {exc}", zh=f"{dbf}：{exc.text('zh')}") from None
    except (IndexError, ValueError, struct.error) as exc:  # a damaged header
        raise EncodingError(
            f"{dbf}: the .dbf header is damaged ({type(exc).__name__}: {exc}); copy the "
            "Shapefile again from its source",
            zh=f"{dbf}：.dbf 文件头已损坏（{type(exc).__name__}: {exc}）；"
            "请从来源重新复制 Shapefile",
        ) from exc
    try:
        return decide_encoding(cpg_text=cpg_text, ldid=parsed.ldid, text_bytes=parsed.text_bytes)
    except EncodingError as exc:
        raise EncodingError(f"{dbf}: {exc}", zh=f"{dbf}：{exc.text('zh')}") from None


def _sidecar(path: Path, suffix: str) -> Path | None:
    for candidate in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
        if candidate.is_file():
            return candidate
    return None


_XML_DECLARATION = re.compile(
    rb"""^(\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*["']([\w.:-]+)["']"""
)
_XML_ENCODING = re.compile(r"""(<\?xml[^>]*?encoding\s*=\s*)["'][\w.:-]+["']""")
_EXPAT_CODECS = frozenset({"utf-8", "utf-16", "utf-16-le", "utf-16-be", "latin-1", "ascii"})
"""The encodings GDAL's XML parser (expat) reads; any other declared one it refuses."""


def xml_codec_to_recode(head: bytes) -> str | None:
    """Return the codec of an XML file (KML) that declares one expat cannot read, else None.

    Chinese tools write KML declared ``encoding="GBK"`` or ``"GB2312"``; GDAL's KML driver
    stops at "unknown encoding". Such text is read as GB18030 (their superset).

    Parameters
    ----------
    head : bytes
        The file's first bytes (its XML declaration).

    Examples
    --------
    >>> xml_codec_to_recode(b'<?xml version="1.0" encoding="GB2312"?><kml/>')
    'gb18030'
    >>> xml_codec_to_recode(b'<?xml version="1.0" encoding="UTF-8"?><kml/>') is None
    True
    """
    match = _XML_DECLARATION.match(head)
    if match is None:
        return None
    try:
        codec = codecs.lookup(match[2].decode("ascii")).name
    except LookupError:
        return None
    if codec in _EXPAT_CODECS:
        return None
    return "gb18030" if codec in ("gbk", "gb2312", "euc_cn") else codec


def xml_as_utf8(data: bytes, codec: str) -> bytes:
    """Return XML text in ``codec`` as UTF-8 bytes, its declaration saying so.

    Raises
    ------
    UnicodeDecodeError
        When the text does not decode as ``codec``.

    Examples
    --------
    >>> gbk = '<?xml version="1.0" encoding="GBK"?><a>林</a>'.encode("gbk")
    >>> xml_as_utf8(gbk, "gb18030").decode("utf-8")
    '<?xml version="1.0" encoding="UTF-8"?><a>林</a>'
    """
    text = data.decode(codec)
    return _XML_ENCODING.sub(r'\1"UTF-8"', text, count=1).encode("utf-8")
