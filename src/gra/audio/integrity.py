"""One rule for damaged input, whatever the format: a file that cannot be decoded, or decodes to
far less audio than its container declares, is corrupt (HTTP 422 `corrupt_audio`); a partial
decode is never answered as if it were the whole recording.

Decoders disagree on how they fail: libsndfile clamps a cut WAV to what is there and reads a cut
Ogg as a shorter one; FFmpeg stops early in a damaged WebM; a cut M4A loses its index and does
not open at all. So besides the decoders' own errors, three checks: the length the container
declares (WAV data chunk, MP3 Xing/Info frames, Ogg granule, WebM/MP4 duration) against what
was decoded; an Ogg stream must end with its end-of-stream page; and a file that starts like a
known audio container but will not open is damaged, not "not audio".
"""

from __future__ import annotations

import struct
from pathlib import Path

SHORT_BY = 0.1  # decoded less than 90% of the declared length ...
SHORT_BY_SECONDS = 0.5  # ... and at least this much less: cut or damaged

_SIGNATURES = {
    "WAV": lambda h: h[:4] == b"RIFF" and h[8:12] == b"WAVE",
    "FLAC": lambda h: h[:4] == b"fLaC",
    "Ogg": lambda h: h[:4] == b"OggS",
    "MP3": lambda h: h[:3] == b"ID3" or (len(h) > 1 and h[0] == 0xFF and h[1] & 0xE0 == 0xE0),
    "WebM/Matroska": lambda h: h[:4] == b"\x1a\x45\xdf\xa3",
    "MP4/M4A": lambda h: h[4:8] == b"ftyp",
}


def head_and_tail(source: str | Path | bytes, size: int = 65536) -> tuple[bytes, bytes, int]:
    """The first and last `size` bytes, and the total length."""
    if isinstance(source, bytes | bytearray):
        return bytes(source[:size]), bytes(source[-size:]), len(source)
    with open(source, "rb") as handle:
        head = handle.read(size)
        handle.seek(0, 2)
        total = handle.tell()
        handle.seek(max(0, total - size))
        return head, handle.read(size), total


def container_kind(head: bytes) -> str | None:
    """Which known audio container the bytes start like (None: none we know)."""
    return next((kind for kind, looks in _SIGNATURES.items() if looks(head)), None)


def structural_problem(head: bytes, tail: bytes, total: int) -> str | None:
    """A cut WAV or Ogg that its decoder would read as a shorter, valid file."""
    kind = container_kind(head)
    if kind == "WAV":
        declared = _wav_data_bytes(head)
        if declared is not None and declared > total - _wav_data_offset(head) + 1:
            return f"the WAV file declares {declared} bytes of audio but holds fewer (cut short)"
    if kind == "Ogg":
        last = tail.rfind(b"OggS")
        if last >= 0 and len(tail) > last + 5 and not tail[last + 5] & 0x04:
            return "the Ogg stream stops before its last page (cut short)"
    return None


def short_decode(declared_seconds: float | None, decoded_seconds: float) -> str | None:
    if not declared_seconds or declared_seconds <= 0:
        return None
    missing = declared_seconds - decoded_seconds
    if missing > max(SHORT_BY_SECONDS, SHORT_BY * declared_seconds):
        return (
            f"the file declares {declared_seconds:.1f} s of audio but only "
            f"{decoded_seconds:.1f} s could be decoded (cut short or damaged)"
        )
    return None


def _wav_chunks(head: bytes):
    pos = 12
    while pos + 8 <= len(head):
        name, size = head[pos : pos + 4], struct.unpack("<I", head[pos + 4 : pos + 8])[0]
        yield name, size, pos + 8
        pos += 8 + size + (size & 1)


def _wav_data_bytes(head: bytes) -> int | None:
    for name, size, _ in _wav_chunks(head):
        if name == b"data":
            # 0 and 0xFFFFFFFF mean "unknown length" (streamed WAV): nothing to check.
            return None if size in (0, 0xFFFFFFFF) else size
    return None


def _wav_data_offset(head: bytes) -> int:
    return next((start for name, _, start in _wav_chunks(head) if name == b"data"), 0)
