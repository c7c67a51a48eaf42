//! Ogg (RFC 3533) with Vorbis, Opus (RFC 7845) or FLAC: the identification header for the
//! properties and the last page's granule position for the length; the `comments` module
//! reads the tags and covers.

mod comments;
#[cfg(test)]
mod tests;

pub use comments::{decode_base64, field, picture_bytes, pictures, tags};

use super::source::{Bytes, ReadAt, Source};
use super::{Codec, Malformed, Properties, flac, seconds};

/// Bytes of a page header before its segment table.
const PAGE_HEADER: u64 = 27;
/// Pages walked to find the header packets: a comment packet of big pictures spans
/// thousands (a 20 MB one, in the 4 KiB pages some taggers write, about 5,000).
const MAX_HEADER_PAGES: usize = 64 * 1024;
/// Bytes searched backwards from the end for the last page: a page is at most 65,307
/// bytes, so the first window holds the last page's header; the second is for streams
/// that end with pages of another stream or with junk.
const LAST_PAGE_SEARCH: [u64; 2] = [66 * 1024, 1024 * 1024];

/// A page header.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Page {
    granule: u64,
    serial: u32,
    /// The lacing values.
    lacing: Vec<u8>,
    /// Where the body starts.
    body: u64,
}

impl Page {
    fn end(&self) -> u64 {
        self.body + self.lacing.iter().map(|&n| u64::from(n)).sum::<u64>()
    }
}

fn page_at<R: ReadAt>(source: &mut Source<R>, offset: u64) -> Result<Page, Malformed> {
    let header = source.array::<27>(offset)?;
    if &header[..4] != b"OggS" || header[4] != 0 {
        return Err(Malformed);
    }
    let granule = header.u64_le(6).ok_or(Malformed)?;
    let serial = header.u32_le(14).ok_or(Malformed)?;
    let lacing = source.vec_at(offset + PAGE_HEADER, u64::from(header[26]), 255)?;
    let body = offset + PAGE_HEADER + lacing.len() as u64;
    Ok(Page { granule, serial, lacing, body })
}

/// A packet: the spans of the file it is made of, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Packet {
    /// Each span's position in the packet, offset in the file and length.
    spans: Vec<(u64, u64, u64)>,
}

impl Packet {
    fn push(&mut self, offset: u64, len: u64) {
        let pos = self.len();
        self.spans.push((pos, offset, len));
    }

    fn len(&self) -> u64 {
        self.spans.last().map_or(0, |&(pos, _, len)| pos + len)
    }

    /// Up to `buf.len()` bytes from `pos` within the packet; how many were read. The span
    /// holding `pos` is found by bisection: a packet may span thousands of pages, and a
    /// comment packet is read at thousands of places.
    fn read<R: ReadAt>(&self, source: &mut Source<R>, pos: u64, buf: &mut [u8]) -> usize {
        let first = self.spans.partition_point(|&(start, _, len)| start + len <= pos);
        let mut done = 0;
        for &(start, offset, len) in &self.spans[first..] {
            if done == buf.len() {
                break;
            }
            let skip = pos.saturating_sub(start);
            let n = (buf.len() - done).min((len - skip) as usize);
            let Ok(got) = source.read_at(offset + skip, &mut buf[done..done + n]) else { break };
            done += got;
            if got < n {
                break;
            }
        }
        done
    }

    fn bytes<R: ReadAt>(&self, source: &mut Source<R>, pos: u64, len: usize) -> Vec<u8> {
        let mut buf = vec![0; len];
        let n = self.read(source, pos, &mut buf);
        buf.truncate(n);
        buf
    }
}

/// The codec's first packets, and where the audio pages start.
struct Headers {
    serial: u32,
    packets: Vec<Packet>,
    audio: u64,
}

/// The first `count` packets of the logical stream that starts the file.
fn headers<R: ReadAt>(source: &mut Source<R>, count: usize) -> Result<Headers, Malformed> {
    let first = page_at(source, 0)?;
    let serial = first.serial;
    let mut packets = Vec::new();
    let mut current = Packet::default();
    let mut page = first;
    for _ in 0..MAX_HEADER_PAGES {
        let next = page.end();
        if page.serial == serial {
            let mut offset = page.body;
            let mut run = 0;
            for &lace in &page.lacing {
                run += u64::from(lace);
                if lace < 255 {
                    current.push(offset, run);
                    offset += run;
                    run = 0;
                    packets.push(std::mem::take(&mut current));
                    if packets.len() == count {
                        return Ok(Headers { serial, packets, audio: next });
                    }
                }
            }
            if run > 0 {
                current.push(offset, run);
            }
        }
        page = page_at(source, next)?;
    }
    Err(Malformed)
}

/// The codec and the number of header packets, from the identification packet.
fn identify(id: &[u8]) -> Option<(Codec, usize)> {
    if id.starts_with(b"\x01vorbis") {
        Some((Codec::Vorbis, 3))
    } else if id.starts_with(b"OpusHead") {
        Some((Codec::Opus, 2))
    } else if id.starts_with(b"\x7fFLAC") {
        // The mapping says how many metadata packets follow; 0 means unknown, and the
        // comment packet comes first among them.
        let more = usize::from(id.u16_be(7)?).max(1);
        Some((Codec::Flac, 1 + more.min(64)))
    } else {
        None
    }
}

/// The granule position of the last page of stream `serial` that has one.
fn last_granule<R: ReadAt>(source: &mut Source<R>, serial: u32) -> Option<u64> {
    for window in LAST_PAGE_SEARCH {
        let start = source.len().saturating_sub(window);
        let tail = source.up_to(start, window as usize);
        let mut end = tail.len();
        while let Some(at) = tail[..end].windows(4).rposition(|w| w == b"OggS") {
            end = at;
            let Ok(page) = page_at(source, start + at as u64) else { continue };
            // −1 marks a page on which no packet ends.
            if page.serial == serial && page.granule != u64::MAX {
                return Some(page.granule);
            }
        }
        if start == 0 {
            break;
        }
    }
    None
}

/// The properties of an Ogg file.
pub fn properties<R: ReadAt>(source: &mut Source<R>) -> Result<Properties, Malformed> {
    let first = headers(source, 1)?;
    let id = first.packets[0].bytes(source, 0, 64);
    let (codec, count) = identify(&id).ok_or(Malformed)?;
    let headers = headers(source, count)?;
    let last = last_granule(source, headers.serial);
    let (sample_rate, channels, bits, samples) = match codec {
        Codec::Vorbis => {
            let rate = id.u32_le(12).ok_or(Malformed)?;
            (rate, u16::from(*id.get(11).ok_or(Malformed)?), None, last)
        }
        Codec::Opus => {
            // Opus always decodes at 48 kHz; the decoder drops `pre-skip` samples first.
            let pre_skip = u64::from(id.u16_le(10).ok_or(Malformed)?);
            let channels = u16::from(*id.get(9).ok_or(Malformed)?);
            (48_000, channels, None, last.map(|last| last.saturating_sub(pre_skip)))
        }
        _ => {
            let (rate, channels, bits, _) =
                flac::streaminfo(id.get(17..).ok_or(Malformed)?).ok_or(Malformed)?;
            (rate, channels, Some(bits), last)
        }
    };
    if sample_rate == 0 || channels == 0 {
        return Err(Malformed);
    }
    Ok(Properties {
        codec,
        duration: samples.and_then(|samples| seconds(samples, sample_rate)),
        audio_bytes: source.len().saturating_sub(headers.audio),
        sample_rate,
        channels,
        bits_per_sample: bits,
    })
}
