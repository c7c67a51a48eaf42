//! Embedded pictures: where a file keeps one, which to show, and what image type it is.

/// Where the bytes of an embedded picture are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// The image as it is, `len` bytes of the file at `offset`: sent as a span of the file.
    Span {
        /// Offset in the file.
        offset: u64,
        /// Length in bytes.
        len: u64,
    },
    /// An image in an ID3v2 tag stored unsynchronised: the file's `len` bytes at `offset`,
    /// resynchronised, hold it from `skip` on, `image_len` bytes long. Decoded on demand.
    Unsynchronised {
        /// Offset in the file of the unsynchronised bytes (a frame, or a whole tag body).
        offset: u64,
        /// Their length.
        len: u64,
        /// Where the image starts once they are decoded.
        skip: u64,
        /// The image's length.
        image_len: u64,
    },
    /// A FLAC picture structure in base64, the value of an Ogg comment: decoded on demand,
    /// since listing a directory only asks whether there is one.
    OggComment {
        /// Offset of the base64 value within the comment packet.
        offset: u64,
        /// Length of the base64 value.
        len: u64,
    },
}

/// A picture embedded in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    /// Whether the file says it is the front cover (ID3v2/FLAC picture type 3, the APEv2
    /// `Cover Art (Front)` item, the first MP4 `covr`).
    pub front: bool,
    /// Where its bytes are.
    pub body: Body,
}

/// The picture to show: the first front cover, else the first picture.
pub fn front(pictures: Vec<Picture>) -> Option<Picture> {
    let first_front = pictures.iter().position(|picture| picture.front).unwrap_or(0);
    pictures.into_iter().nth(first_front)
}

/// The image type of the bytes that start `head`, by their signature. Declared types are
/// not trusted: a tag saying `text/html` must not make the player's origin serve HTML.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    Some(match head {
        [0xff, 0xd8, 0xff, ..] => "image/jpeg",
        [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n', ..] => "image/png",
        [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => "image/gif",
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => "image/webp",
        [b'B', b'M', ..] => "image/bmp",
        _ => return None,
    })
}

/// The image type of a picture file beside the music, by its extension (ASCII
/// case-insensitive): `cover.*`, `folder.*` and `front.*` are looked for.
pub fn image_type(file_name: &str) -> Option<&'static str> {
    let (_, extension) = file_name.rsplit_once('.')?;
    const TYPES: &[(&str, &str)] = &[
        ("jpg", "image/jpeg"),
        ("jpeg", "image/jpeg"),
        ("png", "image/png"),
        ("webp", "image/webp"),
    ];
    TYPES.iter().find(|(known, _)| known.eq_ignore_ascii_case(extension)).map(|&(_, kind)| kind)
}

#[cfg(test)]
mod tests {
    use super::{Body, Picture, front, image_type, sniff};

    fn picture(front: bool, offset: u64) -> Picture {
        Picture { front, body: Body::Span { offset, len: 1 } }
    }

    #[test]
    fn front_cover_first_else_first_picture() {
        assert_eq!(front(vec![]), None);
        assert_eq!(front(vec![picture(false, 1), picture(false, 2)]), Some(picture(false, 1)));
        #[rustfmt::skip]
        let both = vec![picture(false, 1), picture(true, 2), picture(true, 3)];
        assert_eq!(front(both), Some(picture(true, 2)));
    }

    #[test]
    fn image_types_by_signature() {
        #[rustfmt::skip]
        let cases: &[(&[u8], Option<&str>)] = &[
            (b"\xff\xd8\xff\xe0\0\x10JFIF", Some("image/jpeg")),
            (b"\x89PNG\r\n\x1a\n\0\0", Some("image/png")),
            (b"GIF89a", Some("image/gif")),
            (b"GIF87a", Some("image/gif")),
            (b"RIFF\0\0\0\0WEBPVP8 ", Some("image/webp")),
            (b"BM\0\0", Some("image/bmp")),
            (b"<html><script>", None),
            (b"<svg", None),
            (b"\xff\xd8", None),
            (b"", None),
        ];
        for &(head, want) in cases {
            assert_eq!(sniff(head), want, "{head:?}");
        }
    }

    #[test]
    fn picture_files_by_extension() {
        #[rustfmt::skip]
        let cases = [
            ("cover.jpg", Some("image/jpeg")), ("Folder.JPEG", Some("image/jpeg")),
            ("front.Png", Some("image/png")), ("cover.webp", Some("image/webp")),
            ("cover.gif", None), ("cover", None), ("cover.jpg.txt", None),
        ];
        for (name, want) in cases {
            assert_eq!(image_type(name), want, "{name}");
        }
    }
}
