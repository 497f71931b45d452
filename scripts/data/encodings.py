"""A text file's encoding: UTF-8 (with or without a byte-order mark), UTF-16/32 by their mark, a file mixing
UTF-8 and cp1252 lines decoded line by line, a non-Western legacy encoding found by charset-normalizer
(Shift-JIS, GBK, KOI8-R, cp1251 ...) and said, or cp1252/latin-1 for Western text; what cannot be read with
confidence is refused with the fix (encoding=...)."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

from scripts.common.console import say
from scripts.common.errors import UserError


def _unreadable(path: Path, encoding: str, exc: Exception) -> UserError:
    return UserError(
        f"{path.name} cannot be read as {encoding}: {exc.__class__.__name__}; "
        "set encoding=auto or the file's real encoding"
    )


WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _wide_encoding(start: bytes, encoding: str) -> str:
    """UTF-16/32 text is full of NUL bytes: with its byte-order mark it is read as what it is."""
    if encoding == "auto":
        for bom, name in WIDE_BOMS:  # UTF-32 LE's mark begins with UTF-16 LE's: test it first
            if start.startswith(bom):
                return name
    return encoding


def decode(raw: bytes, encoding: str, path: Path) -> tuple[str, str]:
    if encoding != "auto":
        try:
            return raw.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            raise _unreadable(path, encoding, exc) from exc
    try:
        return raw.decode("utf-8-sig"), "utf-8-sig"
    except UnicodeDecodeError:
        pass
    mixed = decode_mixed(raw)
    if mixed is not None:
        return mixed
    legacy = detect_legacy(raw, path)
    if legacy is not None:
        return raw.decode(legacy), legacy
    for candidate in ("cp1252", "latin-1"):
        try:
            return raw.decode(candidate), candidate
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any bytes")


# Scripts a Western single-byte reading (cp1252, latin-1) would turn into accented noise.
OTHER_SCRIPTS = (
    "Cyrillic",
    "Greek",
    "Arabic",
    "Hebrew",
    "CJK",
    "Hiragana",
    "Katakana",
    "Hangul",
    "Thai",
    "Devanagari",
    "Armenian",
    "Georgian",
    "Bopomofo",
    "Fullwidth",
)
DETECT_BYTES = 1 << 20  # charset-normalizer reads the start of a large file
CLOSE_CHAOS = 0.02  # another reading this close to the best is as likely: the file is ambiguous


def _other_script_name(alphabet: str) -> bool:
    return any(word in alphabet for word in OTHER_SCRIPTS)


def _other_script(match: Any) -> bool:
    return any(_other_script_name(alphabet) for alphabet in match.alphabets)


def detect_legacy(raw: bytes, path: Path) -> str | None:
    """A file that is not UTF-8: its encoding when charset-normalizer finds a non-Western one (Shift-JIS,
    GBK, KOI8-R, cp1251 ...), said; None for a Western text, read as cp1252/latin-1 as before. Two readings
    of other scripts about as likely (short Japanese text: cp932 or Korean cp949), or bytes no encoding
    reads as text, are refused: naming the encoding is the fix."""
    from charset_normalizer import from_bytes

    matches = list(from_bytes(raw[:DETECT_BYTES]))
    if not matches:
        sample = raw[:DETECT_BYTES].decode("latin-1")
        controls = sum(1 for c in sample if (ord(c) < 32 and c not in "\t\n\r") or 0x7F <= ord(c) < 0xA0)
        if controls > 0.01 * len(sample):
            raise UserError(
                f"{path.name} is not UTF-8 and no encoding reads it as text with confidence; convert it to "
                "UTF-8, or set encoding=<its encoding> (e.g. encoding=cp1252)"
            )
        return None
    best = matches[0]
    if not _other_script(best):
        return None
    text = str(best)
    rivals = [
        m for m in matches[1:] if m.chaos - best.chaos <= CLOSE_CHAOS and _other_script(m) and str(m) != text
    ]
    if rivals:
        raise UserError(
            f"{path.name} is not UTF-8, and it reads as {best.encoding} ({best.alphabets[-1]}) as well as "
            f"{rivals[0].encoding} ({rivals[0].alphabets[-1]}); set encoding=<the file's encoding>, e.g. "
            f"encoding={best.encoding} (or convert the file to UTF-8)"
        )
    scripts = ", ".join(a for a in best.alphabets if _other_script_name(a))
    say(
        f"{path.name} is not UTF-8: read as {best.encoding} ({scripts}, found by charset-normalizer); set "
        "encoding=... if that is wrong"
    )
    return best.encoding


def _legacy(line: bytes) -> str:
    try:
        return line.decode("cp1252")
    except UnicodeDecodeError:
        return line.decode("latin-1")


def _legacy_fallback(error: UnicodeDecodeError) -> tuple[str, int]:
    return _legacy(error.object[error.start : error.end]), error.end


# An error handler for streamed reads: bytes that are not valid UTF-8 are read as cp1252 (or latin-1).
LEGACY_FALLBACK = "quickfit-legacy"
codecs.register_error(LEGACY_FALLBACK, _legacy_fallback)


def decode_mixed(raw: bytes) -> tuple[str, str] | None:
    """A file whose lines are partly UTF-8 and partly cp1252 (pasted together from two exports): each line
    is decoded as what it is, and the count is reported. None when no line is UTF-8 beyond ASCII (then the
    whole file is one legacy encoding)."""
    lines = raw.split(b"\n")
    utf8 = legacy = 0
    decoded = []
    for line in lines:
        try:
            text = line.decode("utf-8")
            utf8 += not line.isascii()
        except UnicodeDecodeError:
            text, legacy = _legacy(line), legacy + 1
        decoded.append(text)
    if not utf8:
        return None
    return "\n".join(decoded).lstrip("\ufeff"), f"utf-8 with {legacy} cp1252 lines"
