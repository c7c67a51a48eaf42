//! ISO base media files (M4A, M4B): the audio track's sample description, sample table and
//! edit list for the properties, iTunes' `iTunSMPB` for gapless lengths, and `covr`
//! pictures. The `moov` atom may come before or after the media data. lofty reads `ilst`.

mod describe;

use super::picture::{Body, Picture};
use super::source::{Bytes, ReadAt, Source};
use super::{Malformed, Properties, rescale, seconds};
use describe::description;

/// Atoms read in one parent at most.
const MAX_CHILDREN: usize = 4096;
/// Sample-table entries summed at most (a day of 1024-sample AAC frames at 48 kHz is
/// about 4 million).
const MAX_TABLE_ENTRIES: u64 = 16 * 1024 * 1024;

/// An atom: its type, where its body starts and where it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Atom {
    kind: [u8; 4],
    body: u64,
    end: u64,
}

impl Atom {
    fn len(&self) -> u64 {
        self.end - self.body
    }
}

/// The atom at `offset`, which must end by `parent_end`.
fn atom_at<R: ReadAt>(
    source: &mut Source<R>,
    offset: u64,
    parent_end: u64,
) -> Result<Atom, Malformed> {
    let header = source.array::<8>(offset)?;
    let size = u64::from(header.u32_be(0).ok_or(Malformed)?);
    let kind = [header[4], header[5], header[6], header[7]];
    let (body, end) = match size {
        0 => (offset + 8, parent_end),
        1 => (
            offset + 16,
            offset
                .checked_add(u64::from_be_bytes(source.array::<8>(offset + 8)?))
                .ok_or(Malformed)?,
        ),
        size => (offset + 8, offset + size),
    };
    if end < body || end > parent_end {
        return Err(Malformed);
    }
    Ok(Atom { kind, body, end })
}

/// The atoms from `start` to `end`; a broken one ends the list.
fn children<R: ReadAt>(source: &mut Source<R>, start: u64, end: u64) -> Vec<Atom> {
    let mut found = Vec::new();
    let mut offset = start;
    while offset + 8 <= end && found.len() < MAX_CHILDREN {
        let Ok(atom) = atom_at(source, offset, end) else { break };
        offset = atom.end;
        found.push(atom);
    }
    found
}

fn child<R: ReadAt>(source: &mut Source<R>, parent: Atom, kind: &[u8; 4]) -> Option<Atom> {
    children(source, parent.body, parent.end).into_iter().find(|atom| &atom.kind == kind)
}

/// The atom at the end of `path` below `parent`.
fn descend<R: ReadAt>(source: &mut Source<R>, parent: Atom, path: &[&[u8; 4]]) -> Option<Atom> {
    path.iter().try_fold(parent, |atom, kind| child(source, atom, kind))
}

/// The top-level `moov`.
fn moov<R: ReadAt>(source: &mut Source<R>) -> Result<Atom, Malformed> {
    let len = source.len();
    children(source, 0, len).into_iter().find(|atom| &atom.kind == b"moov").ok_or(Malformed)
}

/// `meta` is a full atom in MP4 (version and flags first) but not in QuickTime: its
/// children start where its `hdlr` does.
fn meta_children<R: ReadAt>(source: &mut Source<R>, meta: Atom) -> Atom {
    let head = source.up_to(meta.body, 16);
    let body = if head.get(4..8) == Some(b"hdlr") { meta.body } else { meta.body + 4 };
    Atom { body: body.min(meta.end), ..meta }
}

/// The `ilst` of `moov/udta/meta`, or of `moov/meta`.
fn ilst<R: ReadAt>(source: &mut Source<R>, moov: Atom) -> Option<Atom> {
    let meta =
        descend(source, moov, &[b"udta", b"meta"]).or_else(|| child(source, moov, b"meta"))?;
    let meta = meta_children(source, meta);
    child(source, meta, b"ilst")
}

/// The first `trak` whose handler is `soun`.
fn audio_track<R: ReadAt>(source: &mut Source<R>, moov: Atom) -> Option<Atom> {
    children(source, moov.body, moov.end).into_iter().filter(|atom| &atom.kind == b"trak").find(
        |&trak| {
            descend(source, trak, &[b"mdia", b"hdlr"])
                .is_some_and(|hdlr| source.up_to(hdlr.body + 8, 4) == b"soun")
        },
    )
}

/// The timescale and duration of an `mvhd` or `mdhd` body.
fn timing(head: &[u8]) -> Option<(u64, u64)> {
    match head.first()? {
        1 => Some((u64::from(head.u32_be(20)?), head.u64_be(24)?)),
        _ => Some((u64::from(head.u32_be(12)?), u64::from(head.u32_be(16)?))),
    }
}

/// Sums a table of `count` big-endian `u32` entries of `width` bytes starting at `start`,
/// taking `value(entry)` from each, reading a block at a time.
fn sum_table<R: ReadAt>(
    source: &mut Source<R>,
    start: u64,
    count: u64,
    width: usize,
    value: fn(&[u8]) -> u64,
) -> u64 {
    let per_read = 8192;
    let mut total = 0u64;
    let mut done = 0;
    while done < count {
        let n = (count - done).min(per_read);
        let bytes = source.up_to(start + done * width as u64, n as usize * width);
        if bytes.len() < n as usize * width {
            break;
        }
        total = bytes
            .chunks_exact(width)
            .fold(total, |total, entry| total.saturating_add(value(entry)));
        done += n;
    }
    total
}

/// The total duration in the media timescale from `stts`.
fn stts_total<R: ReadAt>(source: &mut Source<R>, stbl: Atom) -> Option<u64> {
    let stts = child(source, stbl, b"stts")?;
    let count = u64::from(source.up_to(stts.body + 4, 4).u32_be(0)?);
    let count = count.min((stts.len().saturating_sub(8)) / 8).min(MAX_TABLE_ENTRIES);
    Some(sum_table(source, stts.body + 8, count, 8, |e| {
        u64::from(e.u32_be(0).unwrap_or(0)) * u64::from(e.u32_be(4).unwrap_or(0))
    }))
}

/// The bytes of all samples from `stsz`.
fn stsz_total<R: ReadAt>(source: &mut Source<R>, stbl: Atom) -> Option<u64> {
    let stsz = child(source, stbl, b"stsz")?;
    let head = source.up_to(stsz.body, 12);
    let (size, count) = (u64::from(head.u32_be(4)?), u64::from(head.u32_be(8)?));
    if size != 0 {
        return Some(size * count);
    }
    let count = count.min(stsz.len().saturating_sub(12) / 4).min(MAX_TABLE_ENTRIES);
    Some(sum_table(source, stsz.body + 12, count, 4, |e| u64::from(e.u32_be(0).unwrap_or(0))))
}

/// The first edit that plays media: its duration (movie timescale) and where in the media
/// it starts (media timescale).
fn first_edit<R: ReadAt>(source: &mut Source<R>, trak: Atom) -> Option<(u64, u64)> {
    let elst = descend(source, trak, &[b"edts", b"elst"])?;
    let head = source.up_to(elst.body, 8);
    let (version, count) = (*head.first()?, head.u32_be(4)?);
    let width = if version == 1 { 20 } else { 12 };
    for i in 0..u64::from(count).min(64) {
        let entry = source.up_to(elst.body + 8 + i * width, width as usize);
        let (duration, media_time) = if version == 1 {
            (entry.u64_be(0)?, entry.u64_be(8)? as i64)
        } else {
            (u64::from(entry.u32_be(0)?), i64::from(entry.u32_be(4)? as i32))
        };
        // −1 is an empty edit: a pause before the media starts.
        if media_time >= 0 {
            return Some((duration, media_time as u64));
        }
    }
    None
}

/// The original sample count in an `iTunSMPB` value: hex fields for the encoder delay,
/// the padding and the samples the encoder was given.
pub fn itunsmpb(text: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(text).ok()?;
    let samples = text.split_ascii_whitespace().nth(3)?;
    u64::from_str_radix(samples, 16).ok().filter(|&samples| samples > 0)
}

/// The `iTunSMPB` value in `ilst`, if any.
fn gapless<R: ReadAt>(source: &mut Source<R>, ilst: Atom) -> Option<u64> {
    for item in
        children(source, ilst.body, ilst.end).into_iter().filter(|atom| &atom.kind == b"----")
    {
        let parts = children(source, item.body, item.end);
        let name = parts.iter().find(|atom| &atom.kind == b"name")?;
        if source.up_to(name.body + 4, 9) != b"iTunSMPB" {
            continue;
        }
        let data = parts.iter().find(|atom| &atom.kind == b"data")?;
        return itunsmpb(
            &source.up_to(data.body + 8, data.len().saturating_sub(8).min(256) as usize),
        );
    }
    None
}

/// The properties of an MP4 file's first audio track.
pub fn properties<R: ReadAt>(source: &mut Source<R>) -> Result<Properties, Malformed> {
    let moov = moov(source)?;
    let mvhd = child(source, moov, b"mvhd").ok_or(Malformed)?;
    let (movie_scale, _) = timing(&source.up_to(mvhd.body, 32)).ok_or(Malformed)?;
    let trak = audio_track(source, moov).ok_or(Malformed)?;
    let mdhd = descend(source, trak, &[b"mdia", b"mdhd"]).ok_or(Malformed)?;
    let (media_scale, media_duration) = timing(&source.up_to(mdhd.body, 32)).ok_or(Malformed)?;
    let stbl = descend(source, trak, &[b"mdia", b"minf", b"stbl"]).ok_or(Malformed)?;
    let described = description(source, stbl)?;
    if described.sample_rate == 0 || media_scale == 0 {
        return Err(Malformed);
    }
    let rate = u64::from(described.sample_rate);
    let media_total = stts_total(source, stbl).filter(|&total| total > 0).unwrap_or(media_duration);
    // iTunes records the exact count; otherwise the edit list trims the priming (its start)
    // and the padding (its length).
    let samples = match ilst(source, moov).and_then(|ilst| gapless(source, ilst)) {
        Some(samples) => Some(samples),
        None => {
            let media = match first_edit(source, trak) {
                Some((duration, start)) => {
                    let rest = media_total.saturating_sub(start);
                    match rescale(duration, movie_scale, media_scale) {
                        Some(edit) if edit > 0 => edit.min(rest),
                        _ => rest,
                    }
                }
                None => media_total,
            };
            rescale(media, media_scale, rate)
        }
    };
    let audio_bytes = stsz_total(source, stbl).unwrap_or(0);
    Ok(Properties {
        codec: described.codec,
        duration: samples.and_then(|samples| seconds(samples, described.sample_rate)),
        audio_bytes,
        sample_rate: described.sample_rate,
        channels: described.channels,
        bits_per_sample: described.bits,
    })
}

/// The images in `covr`: MP4 has no picture types, so the first is the cover.
pub fn pictures<R: ReadAt>(source: &mut Source<R>) -> Result<Vec<Picture>, Malformed> {
    let moov = moov(source)?;
    let Some(ilst) = ilst(source, moov) else { return Ok(Vec::new()) };
    let Some(covr) = child(source, ilst, b"covr") else { return Ok(Vec::new()) };
    let found = children(source, covr.body, covr.end)
        .into_iter()
        .filter(|atom| &atom.kind == b"data" && atom.len() > 8)
        // The data atom's type and locale come before the image.
        .map(|data| Picture {
            front: false,
            body: Body::Span { offset: data.body + 8, len: data.len() - 8 },
        })
        .collect();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::itunsmpb;

    #[test]
    fn itunsmpb_values() {
        let value = b" 00000000 00000840 000001CA 00000000000F9C00 00000000 00000000";
        assert_eq!(itunsmpb(value), Some(0xf9c00));
        assert_eq!(itunsmpb(b" 00000000 00000840 000001CA 0000000000000000"), None);
        assert_eq!(itunsmpb(b" 00000000 00000840"), None);
        assert_eq!(itunsmpb(b"\xff\xfe"), None);
    }
}
