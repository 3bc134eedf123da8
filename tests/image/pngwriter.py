"""A tiny PNG writer (zlib + struct, following the PNG specification), so tests can make every colour type and
bit depth, palettes with tRNS and eXIf chunks, which cv2.imwrite cannot all produce. The pixel arrays given
here are the independent truth that xfer's libpng decoding is compared with."""
import struct
import zlib

import numpy as np


def _chunk(kind, data):
    body = kind.encode("ascii") + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def _pack_row(values, bit_depth):
    values = [int(v) for v in values]
    if bit_depth == 16:
        return b"".join(struct.pack(">H", v) for v in values)
    if bit_depth == 8:
        return bytes(values)
    per_byte = 8 // bit_depth
    out = bytearray()
    for i in range(0, len(values), per_byte):
        group = values[i:i + per_byte]
        b = 0
        for v in group:
            b = (b << bit_depth) | v
        b <<= bit_depth * (per_byte - len(group))
        out.append(b)
    return bytes(out)


def png_bytes(samples, color_type, bit_depth, palette=None, trns=None, exif=None):
    """samples: H x W x C integer array (C = 1, 2, 3, 4 as the colour type says; for palette, C = 1 indices)."""
    samples = np.asarray(samples)
    if samples.ndim == 2:
        samples = samples[:, :, None]
    h, w, _ = samples.shape
    raw = b"".join(b"\x00" + _pack_row(samples[y].reshape(-1), bit_depth) for y in range(h))
    out = b"\x89PNG\r\n\x1a\n" + _chunk("IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0))
    if palette is not None:
        out += _chunk("PLTE", bytes(np.asarray(palette, dtype=np.uint8).reshape(-1)))
    if trns is not None:
        out += _chunk("tRNS", bytes(trns))
    if exif is not None:
        out += _chunk("eXIf", exif)
    out += _chunk("IDAT", zlib.compress(raw)) + _chunk("IEND", b"")
    return out


def exif_tiff(orientation):
    """A minimal little-endian TIFF structure (as EXIF stores it) with one IFD entry: Orientation (0x0112)."""
    return (b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1) +
            struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack("<I", 0))


def jpeg_with_exif(jpeg, orientation):
    """Inserts an APP1 Exif segment right after the JPEG's SOI marker."""
    payload = b"Exif\x00\x00" + exif_tiff(orientation)
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def oriented(a, orientation):
    """What an EXIF orientation tag asks for, written from the EXIF specification with numpy (as PIL's
    ImageOps.exif_transpose): the displayed image for stored pixels a (H x W x C)."""
    return {
        1: lambda x: x,
        2: lambda x: x[:, ::-1],                  # mirrored left-right
        3: lambda x: x[::-1, ::-1],               # rotated 180
        4: lambda x: x[::-1, :],                  # mirrored top-bottom
        5: lambda x: x.transpose(1, 0, 2),        # mirrored along the main diagonal
        6: lambda x: np.rot90(x, -1),             # rotated 90 clockwise
        7: lambda x: x.transpose(1, 0, 2)[::-1, ::-1],  # mirrored along the anti-diagonal
        8: lambda x: np.rot90(x, 1),              # rotated 90 counter-clockwise
    }[orientation](a)
