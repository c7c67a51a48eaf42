//! The WAV representation of decoded PCM: a 44-byte header the guest writes, then
//! the decoder's samples. Maps byte ranges of that representation to sample frames,
//! so a seek decodes from the right frame and trims to the exact byte.

/// The media type of a WAV file.
pub const MEDIA_TYPE: &str = "audio/wav";

/// Length of the canonical header: RIFF, `fmt ` (16 bytes) and `data` chunk heads.
pub const HEADER_LEN: u64 = 44;

/// PCM as a decoder yields it: interleaved little-endian frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcmFormat {
    /// Frames per second.
    pub sample_rate: u32,
    /// Samples per frame.
    pub channels: u16,
    /// Bits per sample (8, 16, 24 or 32).
    pub bits_per_sample: u16,
    /// IEEE float samples rather than integers.
    pub float: bool,
    /// Frames in the whole file.
    pub total_frames: u64,
}

/// Where one byte range of the WAV comes from: part of the header, then PCM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The bytes of the range that fall in the header.
    pub header: Vec<u8>,
    /// The part of the range that falls in the samples, if any.
    pub pcm: Option<PcmSlice>,
}

/// Bytes of the sample data: decode `frame_count` frames from `first_frame`, drop
/// the first `skip` bytes, and send `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcmSlice {
    /// The frame holding the slice's first byte.
    pub first_frame: u64,
    /// Frames to decode to cover the slice.
    pub frame_count: u64,
    /// Bytes of `first_frame` before the slice starts.
    pub skip: u64,
    /// Bytes in the slice.
    pub len: u64,
}

impl PcmFormat {
    /// Bytes per frame.
    pub fn block_align(&self) -> u64 {
        u64::from(self.channels) * u64::from(self.bits_per_sample).div_ceil(8)
    }

    /// Bytes of sample data.
    pub fn data_len(&self) -> u64 {
        self.total_frames * self.block_align()
    }

    /// Bytes of the whole WAV: what `Content-Length` says for a 200.
    pub fn wav_len(&self) -> u64 {
        HEADER_LEN + self.data_len()
    }

    /// The canonical 44-byte header. Sizes past RIFF's 32 bits are written as
    /// `0xFFFFFFFF`, which players read as "to the end of the stream".
    pub fn header(&self) -> [u8; HEADER_LEN as usize] {
        let data_len = u32::try_from(self.data_len()).unwrap_or(u32::MAX);
        let riff_len = data_len.saturating_add(36);
        let block_align = self.block_align() as u16;
        let format_tag: u16 = if self.float { 3 } else { 1 };
        let mut header = [0u8; HEADER_LEN as usize];
        let fields: [&[u8]; 13] = [
            b"RIFF",
            &riff_len.to_le_bytes(),
            b"WAVEfmt ",
            &16u32.to_le_bytes(),
            &format_tag.to_le_bytes(),
            &self.channels.to_le_bytes(),
            &self.sample_rate.to_le_bytes(),
            &(self.sample_rate * u32::from(block_align)).to_le_bytes(),
            &block_align.to_le_bytes(),
            &self.bits_per_sample.to_le_bytes(),
            b"data",
            &data_len.to_le_bytes(),
            &[],
        ];
        let mut at = 0;
        for field in fields {
            header[at..at + field.len()].copy_from_slice(field);
            at += field.len();
        }
        header
    }

    /// Where bytes `start..start + len` of the WAV come from. The range must lie
    /// inside [`Self::wav_len`], as the range planner guarantees.
    pub fn locate(&self, start: u64, len: u64) -> Source {
        let end = start + len;
        let header = if start < HEADER_LEN {
            self.header()[start as usize..end.min(HEADER_LEN) as usize].to_vec()
        } else {
            Vec::new()
        };
        let pcm_start = start.max(HEADER_LEN) - HEADER_LEN;
        let pcm_end = end.max(HEADER_LEN) - HEADER_LEN;
        let pcm = (pcm_end > pcm_start).then(|| {
            let align = self.block_align();
            let first_frame = pcm_start / align;
            PcmSlice {
                first_frame,
                frame_count: pcm_end.div_ceil(align) - first_frame,
                skip: pcm_start % align,
                len: pcm_end - pcm_start,
            }
        });
        Source { header, pcm }
    }
}

/// CD audio, 1000 frames of 4 bytes: a 4044-byte WAV whose samples start at byte 44.
#[cfg(test)]
pub(crate) const CD: PcmFormat = PcmFormat {
    sample_rate: 44_100,
    channels: 2,
    bits_per_sample: 16,
    float: false,
    total_frames: 1000,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_matches_the_canonical_layout() {
        let header = CD.header();
        assert_eq!(&header[0..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(header[4..8].try_into().unwrap()), 36 + 4000);
        assert_eq!(&header[8..16], b"WAVEfmt ");
        assert_eq!(u16::from_le_bytes([header[20], header[21]]), 1);
        assert_eq!(u16::from_le_bytes([header[22], header[23]]), 2);
        assert_eq!(u32::from_le_bytes(header[24..28].try_into().unwrap()), 44_100);
        assert_eq!(u32::from_le_bytes(header[28..32].try_into().unwrap()), 176_400);
        assert_eq!(u16::from_le_bytes([header[32], header[33]]), 4);
        assert_eq!(u16::from_le_bytes([header[34], header[35]]), 16);
        assert_eq!(&header[36..40], b"data");
        assert_eq!(u32::from_le_bytes(header[40..44].try_into().unwrap()), 4000);
    }

    #[test]
    fn float_and_24_bit_formats_set_tag_and_alignment() {
        let float = PcmFormat { bits_per_sample: 32, float: true, ..CD };
        assert_eq!(u16::from_le_bytes([float.header()[20], float.header()[21]]), 3);
        let hi_res = PcmFormat { bits_per_sample: 24, channels: 1, ..CD };
        assert_eq!(hi_res.block_align(), 3);
        assert_eq!(hi_res.wav_len(), 44 + 3000);
    }

    #[test]
    fn sizes_past_32_bits_are_written_as_unknown() {
        let long = PcmFormat { total_frames: 2_000_000_000, ..CD };
        let header = long.header();
        assert_eq!(u32::from_le_bytes(header[4..8].try_into().unwrap()), u32::MAX);
        assert_eq!(u32::from_le_bytes(header[40..44].try_into().unwrap()), u32::MAX);
    }

    #[test]
    fn locate_maps_ranges_to_header_bytes_and_frames() {
        struct Case {
            name: &'static str,
            start: u64,
            len: u64,
            header: std::ops::Range<usize>,
            pcm: Option<PcmSlice>,
        }
        let slice = |first_frame, frame_count, skip, len| {
            Some(PcmSlice { first_frame, frame_count, skip, len })
        };
        let cases = [
            Case { name: "header only", start: 0, len: 10, header: 0..10, pcm: None },
            Case {
                name: "whole file",
                start: 0,
                len: 4044,
                header: 0..44,
                pcm: slice(0, 1000, 0, 4000),
            },
            Case { name: "straddles", start: 40, len: 10, header: 40..44, pcm: slice(0, 2, 0, 6) },
            Case {
                name: "frame aligned",
                start: 44 + 400,
                len: 8,
                header: 0..0,
                pcm: slice(100, 2, 0, 8),
            },
            Case {
                name: "mid frame",
                start: 44 + 401,
                len: 4,
                header: 0..0,
                pcm: slice(100, 2, 1, 4),
            },
            Case { name: "last byte", start: 4043, len: 1, header: 0..0, pcm: slice(999, 1, 3, 1) },
        ];
        for case in cases {
            let source = CD.locate(case.start, case.len);
            assert_eq!(source.header, CD.header()[case.header].to_vec(), "{}", case.name);
            assert_eq!(source.pcm, case.pcm, "{}", case.name);
        }
    }

    #[test]
    fn located_pieces_cover_exactly_the_requested_bytes() {
        let format = PcmFormat { channels: 3, bits_per_sample: 24, total_frames: 77, ..CD };
        for start in 0..format.wav_len() {
            for len in [1, 2, 5, 44, 100] {
                let len = len.min(format.wav_len() - start);
                let source = format.locate(start, len);
                let pcm = source.pcm.map_or(0, |slice| slice.len);
                assert_eq!(source.header.len() as u64 + pcm, len);
                if let Some(slice) = source.pcm {
                    let decoded = slice.frame_count * format.block_align();
                    assert!(slice.skip + slice.len <= decoded);
                    assert!(slice.first_frame + slice.frame_count <= format.total_frames);
                }
            }
        }
    }
}
