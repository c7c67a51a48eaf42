# Writes tags and pictures into an audio file the way real taggers do, for the library
# tests: `python3 tag.py FILE SPEC_JSON`. mutagen writes ID3v2.3/2.4, FLAC and Ogg comments
# and pictures, MP4 atoms and ASF attributes; ID3v2.2, which mutagen reads but never writes,
# is written here byte by byte.
#
# SPEC: {"kind": "id3v24" | "id3v23" | "id3v22" | "vorbis" | "mp4" | "asf",
#        "tags": {"title", "artist", "album", "album_artist", "track", "track_total",
#                 "disc", "disc_total", "date", "genre"} (any may be absent),
#        "pictures": [{"type": 3, "mime": "image/jpeg", "path": "..."}]}
# Each kind writes its fields the way that format's taggers usually do: ID3 "3/12" and
# numeric genres in parentheses, Vorbis TRACKNUMBER and TRACKTOTAL apart, MP4 number pairs.

import base64
import json
import struct
import sys

import mutagen
from mutagen import id3
from mutagen.asf import ASF, ASFByteArrayAttribute
from mutagen.flac import FLAC, Picture
from mutagen.mp4 import MP4, MP4Cover

path, spec = sys.argv[1], json.loads(sys.argv[2])
tags, pictures = spec.get("tags", {}), spec.get("pictures", [])


def pair(number, total):
    if number is None:
        return None
    return f"{number}/{total}" if total is not None else str(number)


def read(picture):
    with open(picture["path"], "rb") as f:
        return f.read()


def id3_frames(version):
    # UTF-16 with a BOM (encoding 1) for the names, as ID3v2.3 taggers write non-Latin-1 text;
    # UTF-8 (3) for the rest where ID3v2.4 allows it.
    plain = 3 if version == 4 else 1
    frames = [
        (id3.TIT2, tags.get("title"), 1),
        (id3.TPE1, tags.get("artist"), 1),
        (id3.TALB, tags.get("album"), plain),
        (id3.TPE2, tags.get("album_artist"), plain),
        (id3.TRCK, pair(tags.get("track"), tags.get("track_total")), plain),
        (id3.TPOS, pair(tags.get("disc"), tags.get("disc_total")), plain),
        (id3.TDRC, tags.get("date"), plain),
        (id3.TCON, tags.get("genre"), plain),
    ]
    return [kind(encoding=enc, text=[value]) for kind, value, enc in frames if value is not None]


def write_id3(version):
    tag = id3.ID3()
    for frame in id3_frames(version):
        tag.add(frame)
    for i, picture in enumerate(pictures):
        tag.add(id3.APIC(encoding=3, mime=picture["mime"], type=picture["type"],
                         desc=f"picture {i}", data=read(picture)))
    if version == 3:
        # TDRC becomes TYER and TDAT, as an ID3v2.3 tagger writes a full date.
        tag.update_to_v23()
    tag.save(path, v2_version=version, v23_sep="/")


def syncsafe(n):
    return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])


def write_id3v22():
    def frame(name, body):
        return name.encode() + struct.pack(">I", len(body))[1:] + body

    def text(value):
        return b"\x01" + "\ufeff".encode("utf-16-le") + value.encode("utf-16-le") + b"\0\0"

    # ID3v2.2 has no date frame beyond the year (TYE), and TP2 is its album artist.
    year = tags.get("date")
    fields = [
        ("TT2", tags.get("title")), ("TP1", tags.get("artist")), ("TAL", tags.get("album")),
        ("TP2", tags.get("album_artist")),
        ("TRK", pair(tags.get("track"), tags.get("track_total"))),
        ("TPA", pair(tags.get("disc"), tags.get("disc_total"))),
        ("TYE", year[:4] if year else None), ("TCO", tags.get("genre")),
    ]
    body = b"".join(frame(name, text(value)) for name, value in fields if value is not None)
    for picture in pictures:
        image_format = b"PNG" if picture["mime"] == "image/png" else b"JPG"
        body += frame("PIC", b"\x00" + image_format + bytes([picture["type"]]) + b"\x00"
                      + read(picture))
    with open(path, "rb") as f:
        audio = f.read()
    with open(path, "wb") as f:
        f.write(b"ID3\x02\x00\x00" + syncsafe(len(body)) + body + audio)


def flac_picture(picture):
    block = Picture()
    block.type, block.mime, block.desc, block.data = (
        picture["type"], picture["mime"], "", read(picture))
    return block


def write_vorbis():
    audio = mutagen.File(path)
    if audio.tags is None:
        audio.add_tags()
    names = {
        "title": "TITLE", "artist": "ARTIST", "album": "ALBUM", "album_artist": "ALBUMARTIST",
        "track": "TRACKNUMBER", "track_total": "TRACKTOTAL", "disc": "DISCNUMBER",
        "disc_total": "DISCTOTAL", "date": "DATE", "genre": "GENRE",
    }
    for key, name in names.items():
        if tags.get(key) is not None:
            audio[name] = [str(tags[key])]
    if isinstance(audio, FLAC):
        for picture in pictures:
            audio.add_picture(flac_picture(picture))
    elif pictures:
        # Ogg has no picture block: the FLAC one, base64, as a comment.
        audio["METADATA_BLOCK_PICTURE"] = [
            base64.b64encode(flac_picture(picture).write()).decode("ascii") for picture in pictures
        ]
    audio.save()


def write_mp4():
    audio = MP4(path)
    names = {"title": "\xa9nam", "artist": "\xa9ART", "album": "\xa9alb",
             "album_artist": "aART", "date": "\xa9day", "genre": "\xa9gen"}
    for key, name in names.items():
        if tags.get(key) is not None:
            audio[name] = [tags[key]]
    for key, name in (("track", "trkn"), ("disc", "disk")):
        if tags.get(key) is not None:
            audio[name] = [(tags[key], tags.get(key + "_total") or 0)]
    covers = []
    for picture in pictures:
        kind = MP4Cover.FORMAT_PNG if picture["mime"] == "image/png" else MP4Cover.FORMAT_JPEG
        covers.append(MP4Cover(read(picture), imageformat=kind))
    if covers:
        audio["covr"] = covers
    audio.save()


def write_asf():
    audio = ASF(path)
    # ASF has no track total; WM/PartOfSet holds "1/2".
    names = {"title": "Title", "artist": "Author", "album": "WM/AlbumTitle",
             "album_artist": "WM/AlbumArtist", "track": "WM/TrackNumber", "date": "WM/Year",
             "genre": "WM/Genre"}
    for key, name in names.items():
        if tags.get(key) is not None:
            audio[name] = [str(tags[key])]
    if tags.get("disc") is not None:
        audio["WM/PartOfSet"] = [pair(tags["disc"], tags.get("disc_total"))]
    values = []
    for picture in pictures:
        data = read(picture)
        value = (bytes([picture["type"]]) + struct.pack("<I", len(data))
                 + (picture["mime"] + "\0").encode("utf-16-le") + "\0".encode("utf-16-le") + data)
        values.append(ASFByteArrayAttribute(value))
    if values:
        audio["WM/Picture"] = values
    audio.save()


kind = spec["kind"]
if kind in ("id3v24", "id3v23"):
    write_id3(int(kind[-1]))
elif kind == "id3v22":
    write_id3v22()
elif kind == "vorbis":
    write_vorbis()
elif kind == "mp4":
    write_mp4()
elif kind == "asf":
    write_asf()
else:
    sys.exit(f"unknown tag kind {kind!r}")
