//! Fragmented MP4 (ISO/IEC 14496-12) boxes for HLS: the initialization segment of one audio
//! track (AAC-LC or FLAC) and the `moof` + `mdat` header of a media segment around packets the
//! host keeps. Only the boxes those need, written big-endian by hand.

/// What the sample entry says about the track's codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackCodec {
    /// AAC-LC (`mp4a` with an `esds` holding its AudioSpecificConfig).
    Aac {
        /// The nominal bitrate, in bit/s.
        bitrate: u32,
    },
    /// FLAC (`fLaC` with a `dfLa` holding its STREAMINFO).
    Flac {
        /// Samples in every frame but the last.
        block: u16,
        /// Bits per sample.
        bits: u8,
        /// Samples per channel in the stream.
        samples: u64,
    },
}

/// One audio track: what its initialization segment describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Track {
    /// The codec and its parameters.
    pub codec: TrackCodec,
    /// Samples per second, which is also the track's timescale.
    pub rate: u32,
    /// 1 or 2.
    pub channels: u8,
}

/// The only track's ID.
const TRACK_ID: u32 = 1;
/// The unity transformation matrix of `mvhd` and `tkhd`.
const MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];
/// `tfhd` flags: a default sample duration follows, and offsets count from the `moof`.
const TFHD_DEFAULT_DURATION: u32 = 0x00_0008;
const TFHD_BASE_IS_MOOF: u32 = 0x02_0000;
/// `trun` flags: a data offset, and each sample's size (and duration, when they differ).
const TRUN_DATA_OFFSET: u32 = 0x000_001;
const TRUN_DURATIONS: u32 = 0x000_100;
const TRUN_SIZES: u32 = 0x000_200;

/// AAC's sampling frequency indices (ISO/IEC 14496-3 §1.6.3.4), by rate.
const AAC_FREQUENCIES: [u32; 12] =
    [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000];

/// Whether AAC signals `rate` by index (the rates an AAC-LC rendition may have).
pub fn is_aac_rate(rate: u32) -> bool {
    AAC_FREQUENCIES.contains(&rate)
}

/// Writes boxes into one buffer, each sized when it closes.
struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, n: u8) {
        self.0.push(n);
    }
    fn u16(&mut self, n: u16) {
        self.0.extend_from_slice(&n.to_be_bytes());
    }
    fn u24(&mut self, n: u32) {
        self.0.extend_from_slice(&n.to_be_bytes()[1..]);
    }
    fn u32(&mut self, n: u32) {
        self.0.extend_from_slice(&n.to_be_bytes());
    }
    fn u64(&mut self, n: u64) {
        self.0.extend_from_slice(&n.to_be_bytes());
    }
    fn zeros(&mut self, n: usize) {
        self.0.resize(self.0.len() + n, 0);
    }
    fn bytes(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    /// A box of `kind` whose content `content` writes.
    fn boxed(&mut self, kind: &[u8; 4], content: impl FnOnce(&mut Self)) {
        let at = self.0.len();
        self.zeros(4);
        self.bytes(kind);
        content(self);
        let size = (self.0.len() - at) as u32;
        self.0[at..at + 4].copy_from_slice(&size.to_be_bytes());
    }

    /// A full box: a box whose content starts with a version and 24 bits of flags.
    fn full(&mut self, kind: &[u8; 4], version: u8, flags: u32, content: impl FnOnce(&mut Self)) {
        self.boxed(kind, |w| {
            w.u8(version);
            w.u24(flags);
            content(w);
        });
    }

    /// An MPEG-4 descriptor (ISO/IEC 14496-1 §8.3.3): a tag, its size in one byte (every
    /// descriptor here is under 128 bytes), and its content.
    fn descriptor(&mut self, tag: u8, content: impl FnOnce(&mut Self)) {
        self.u8(tag);
        let at = self.0.len();
        self.u8(0);
        content(self);
        self.0[at] = (self.0.len() - at - 1) as u8;
    }
}

/// The initialization segment: `ftyp`, then a `moov` with the track and an `mvex` that says
/// its samples come in fragments.
pub fn init_segment(track: &Track) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(768));
    w.boxed(b"ftyp", |w| {
        w.bytes(b"iso6");
        w.u32(0);
        w.bytes(b"iso6mp41");
    });
    w.boxed(b"moov", |w| {
        w.full(b"mvhd", 0, 0, |w| {
            w.zeros(8); // creation and modification times
            w.u32(track.rate);
            w.u32(0); // duration: in the fragments
            w.u32(0x0001_0000); // rate 1.0
            w.u16(0x0100); // volume 1.0
            w.zeros(10);
            MATRIX.iter().for_each(|&n| w.u32(n));
            w.zeros(24);
            w.u32(TRACK_ID + 1);
        });
        w.boxed(b"trak", |w| {
            w.full(b"tkhd", 0, 0b11, |w| {
                w.zeros(8);
                w.u32(TRACK_ID);
                w.zeros(4);
                w.u32(0); // duration
                w.zeros(8);
                w.u16(0); // layer
                w.u16(0); // alternate group
                w.u16(0x0100); // volume: an audio track
                w.zeros(2);
                MATRIX.iter().for_each(|&n| w.u32(n));
                w.u32(0); // width
                w.u32(0); // height
            });
            w.boxed(b"mdia", |w| {
                w.full(b"mdhd", 0, 0, |w| {
                    w.zeros(8);
                    w.u32(track.rate);
                    w.u32(0);
                    w.u16(0x55C4); // language `und`
                    w.u16(0);
                });
                w.full(b"hdlr", 0, 0, |w| {
                    w.u32(0);
                    w.bytes(b"soun");
                    w.zeros(12);
                    w.bytes(b"SoundHandler\0");
                });
                w.boxed(b"minf", |w| {
                    w.full(b"smhd", 0, 0, |w| w.u32(0));
                    w.boxed(b"dinf", |w| {
                        w.full(b"dref", 0, 0, |w| {
                            w.u32(1);
                            w.full(b"url ", 0, 1, |_| {}); // media in this file
                        });
                    });
                    w.boxed(b"stbl", |w| {
                        w.full(b"stsd", 0, 0, |w| {
                            w.u32(1);
                            sample_entry(w, track);
                        });
                        w.full(b"stts", 0, 0, |w| w.u32(0));
                        w.full(b"stsc", 0, 0, |w| w.u32(0));
                        w.full(b"stsz", 0, 0, |w| w.zeros(8));
                        w.full(b"stco", 0, 0, |w| w.u32(0));
                    });
                });
            });
        });
        w.boxed(b"mvex", |w| {
            w.full(b"trex", 0, 0, |w| {
                w.u32(TRACK_ID);
                w.u32(1); // sample description index
                w.zeros(12); // default duration, size and flags: in each fragment
            });
        });
    });
    w.0
}

/// The track's `mp4a` or `fLaC` sample entry.
fn sample_entry(w: &mut Writer, track: &Track) {
    let (kind, sample_bits) = match track.codec {
        TrackCodec::Aac { .. } => (b"mp4a", 16),
        TrackCodec::Flac { bits, .. } => (b"fLaC", u16::from(bits)),
    };
    w.boxed(kind, |w| {
        w.zeros(6);
        w.u16(1); // data reference index
        w.zeros(8);
        w.u16(track.channels.into());
        w.u16(sample_bits);
        w.zeros(4);
        // 16.16 fixed point, which cannot hold rates from 65536 Hz: FLAC then says 0 here and
        // the rate in its STREAMINFO.
        w.u32(if track.rate <= 0xFFFF { track.rate << 16 } else { 0 });
        match track.codec {
            TrackCodec::Aac { bitrate } => esds(w, track, bitrate),
            TrackCodec::Flac { block, bits, samples } => dfla(w, track, block, bits, samples),
        }
    });
}

/// The `esds` of AAC-LC (ISO/IEC 14496-14 §5.6): an ES descriptor whose decoder configuration
/// holds the AudioSpecificConfig.
fn esds(w: &mut Writer, track: &Track, bitrate: u32) {
    let frequency = AAC_FREQUENCIES.iter().position(|&rate| rate == track.rate).unwrap_or(15);
    // Object type 2 (AAC LC), 4 bits of frequency index, 4 of channel configuration, then 3
    // zero bits (1024-sample frames, no core coder, no extension).
    let config = 2 << 11 | (frequency as u16) << 7 | u16::from(track.channels) << 3;
    w.full(b"esds", 0, 0, |w| {
        w.descriptor(0x03, |w| {
            w.u16(0); // ES ID
            w.u8(0); // no dependence, URL or OCR stream
            w.descriptor(0x04, |w| {
                w.u8(0x40); // Audio ISO/IEC 14496-3
                w.u8(0x05 << 2 | 1); // an audio stream
                w.u24(6144 / 8 * u32::from(track.channels)); // the largest AAC frame
                w.u32(bitrate); // max
                w.u32(bitrate); // average
                w.descriptor(0x05, |w| w.u16(config));
            });
            w.descriptor(0x06, |w| w.u8(0x02)); // SL config: predefined for MP4
        });
    });
}

/// The `dfLa` of FLAC in ISO-BMFF: its STREAMINFO metadata block, the last one.
fn dfla(w: &mut Writer, track: &Track, block: u16, bits: u8, samples: u64) {
    w.full(b"dfLa", 0, 0, |w| {
        w.u8(0x80); // the last metadata block, of type STREAMINFO
        w.u24(34);
        w.u16(block); // min block size (the last frame may have fewer)
        w.u16(block); // max block size
        w.u24(0); // min frame size: unknown
        w.u24(0); // max frame size: unknown
        // 20 bits of rate, 3 of channels − 1, 5 of bits − 1, 36 of samples.
        let packed = u64::from(track.rate & 0xF_FFFF) << 44
            | u64::from(track.channels - 1) << 41
            | u64::from(bits - 1) << 36
            | (samples & 0xF_FFFF_FFFF);
        w.u64(packed);
        w.zeros(16); // MD5 of the audio: not computed
    });
}

/// A media segment's header: `moof` (sequence `sequence`, samples from decode time
/// `base_time`, each of `default_duration` but where `durations` says otherwise, of the
/// `sizes` given) and the 8-byte `mdat` header; the packets follow it.
pub fn segment_header(
    sequence: u32,
    base_time: u64,
    default_duration: u32,
    durations: &[u32],
    sizes: &[u32],
) -> Vec<u8> {
    let uniform = durations.iter().all(|&duration| duration == default_duration);
    let trun_flags = TRUN_DATA_OFFSET | TRUN_SIZES | if uniform { 0 } else { TRUN_DURATIONS };
    let mut w = Writer(Vec::with_capacity(104 + 8 * sizes.len()));
    let mut data_offset_at = 0;
    w.boxed(b"moof", |w| {
        w.full(b"mfhd", 0, 0, |w| w.u32(sequence));
        w.boxed(b"traf", |w| {
            w.full(b"tfhd", 0, TFHD_BASE_IS_MOOF | TFHD_DEFAULT_DURATION, |w| {
                w.u32(TRACK_ID);
                w.u32(default_duration);
            });
            w.full(b"tfdt", 1, 0, |w| w.u64(base_time));
            w.full(b"trun", 0, trun_flags, |w| {
                w.u32(sizes.len() as u32);
                data_offset_at = w.0.len();
                w.u32(0);
                for (index, &size) in sizes.iter().enumerate() {
                    if !uniform {
                        w.u32(durations.get(index).copied().unwrap_or(default_duration));
                    }
                    w.u32(size);
                }
            });
        });
    });
    // The first packet's offset from the start of the `moof`: past it and the `mdat` header.
    let data_offset = (w.0.len() + 8) as u32;
    w.0[data_offset_at..data_offset_at + 4].copy_from_slice(&data_offset.to_be_bytes());
    let payload: u64 = sizes.iter().map(|&size| u64::from(size)).sum();
    w.u32(u32::try_from(payload + 8).unwrap_or(u32::MAX));
    w.bytes(b"mdat");
    w.0
}

/// Bytes [`segment_header`] writes for `packets` packets, at most: with their durations
/// when `with_durations`.
pub const fn segment_header_len(packets: u64, with_durations: bool) -> u64 {
    let per_packet = if with_durations { 8 } else { 4 };
    8 + 16 + 8 + 20 + 20 + 20 + per_packet * packets + 8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn be(bytes: &[u8]) -> u64 {
        bytes.iter().fold(0, |n, &b| n << 8 | u64::from(b))
    }

    /// The boxes at the top of `bytes`, as (kind, content), checking that sizes tile it.
    fn boxes(bytes: &[u8]) -> Vec<(String, &[u8])> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let size = be(&bytes[at..at + 4]) as usize;
            assert!(size >= 8 && at + size <= bytes.len(), "box size {size} at {at}");
            let kind = String::from_utf8(bytes[at + 4..at + 8].to_vec()).unwrap();
            out.push((kind, &bytes[at + 8..at + size]));
            at += size;
        }
        out
    }

    /// The content of the box at `path` (kinds from the top), skipping `skip[i]` bytes of
    /// each container's own fields before its children.
    fn find<'a>(bytes: &'a [u8], path: &[(&str, usize)]) -> &'a [u8] {
        path.iter().fold(bytes, |inside, &(kind, skip)| {
            let found = boxes(inside).into_iter().find(|(k, _)| k == kind);
            &found.unwrap_or_else(|| panic!("no {kind}")).1[skip..]
        })
    }

    const AAC: Track =
        Track { codec: TrackCodec::Aac { bitrate: 128_000 }, rate: 44_100, channels: 2 };
    const FLAC: Track = Track {
        codec: TrackCodec::Flac { block: 4096, bits: 24, samples: 10_000_000 },
        rate: 96_000,
        channels: 2,
    };
    const STBL: [(&str, usize); 5] =
        [("moov", 0), ("trak", 0), ("mdia", 0), ("minf", 0), ("stbl", 0)];

    #[test]
    fn init_segment_tree() {
        for track in [AAC, FLAC] {
            let init = init_segment(&track);
            let top: Vec<String> = boxes(&init).into_iter().map(|(k, _)| k).collect();
            assert_eq!(top, ["ftyp", "moov"]);
            let moov: Vec<String> =
                boxes(find(&init, &[("moov", 0)])).into_iter().map(|(k, _)| k).collect();
            assert_eq!(moov, ["mvhd", "trak", "mvex"]);
            let mdhd = find(&init, &[("moov", 0), ("trak", 0), ("mdia", 0), ("mdhd", 0)]);
            assert_eq!(be(&mdhd[12..16]), u64::from(track.rate), "timescale");
            let stbl: Vec<String> = boxes(find(&init, &STBL)).into_iter().map(|(k, _)| k).collect();
            assert_eq!(stbl, ["stsd", "stts", "stsc", "stsz", "stco"]);
        }
    }

    #[test]
    fn aac_sample_entry_and_audio_specific_config() {
        // (rate, channels, AudioSpecificConfig): 0x1210 is AAC LC, 44.1 kHz, stereo.
        let cases =
            [(44_100, 2, 0x1210), (48_000, 2, 0x1190), (48_000, 1, 0x1188), (8_000, 1, 0x1588)];
        for (rate, channels, config) in cases {
            let track = Track { rate, channels, ..AAC };
            let init = init_segment(&track);
            let stsd = find(&init, &[STBL.as_slice(), &[("stsd", 8)]].concat());
            let mp4a = find(stsd, &[("mp4a", 0)]);
            assert_eq!(be(&mp4a[16..18]), u64::from(channels));
            assert_eq!(be(&mp4a[24..28]), u64::from(rate) << 16);
            let esds = find(&mp4a[28..], &[("esds", 4)]);
            // ES (3) > decoder config (4) > decoder specific info (5) holding the config.
            let at = esds.windows(2).position(|pair| pair == [0x05, 0x02]).unwrap();
            assert_eq!(be(&esds[at + 2..at + 4]), config, "{rate} Hz × {channels}");
            assert_eq!(esds[0], 0x03);
            assert_eq!(usize::from(esds[1]), esds.len() - 2, "ES descriptor size");
        }
    }

    #[test]
    fn flac_sample_entry_carries_streaminfo() {
        let init = init_segment(&FLAC);
        let stsd = find(&init, &[STBL.as_slice(), &[("stsd", 8)]].concat());
        let entry = find(stsd, &[("fLaC", 0)]);
        assert_eq!(be(&entry[18..20]), 24, "sample size");
        assert_eq!(be(&entry[24..28]), 0, "96 kHz does not fit 16.16");
        let dfla = find(&entry[28..], &[("dfLa", 4)]);
        assert_eq!(dfla[0], 0x80);
        assert_eq!(be(&dfla[1..4]), 34);
        let info = &dfla[4..];
        assert_eq!(be(&info[0..2]), 4096);
        assert_eq!(be(&info[2..4]), 4096);
        let packed = be(&info[10..18]);
        assert_eq!(packed >> 44, 96_000);
        assert_eq!(packed >> 41 & 7, 1, "two channels");
        assert_eq!(packed >> 36 & 31, 23, "24 bits");
        assert_eq!(packed & 0xF_FFFF_FFFF, 10_000_000);
    }

    /// (name, base time, default duration, durations, sizes, per-sample durations written)
    type HeaderCase = (&'static str, u64, u32, &'static [u32], &'static [u32], bool);

    #[test]
    fn segment_header_table() {
        #[rustfmt::skip]
        let cases: [HeaderCase; 3] = [
            ("AAC, every packet 1024", 286_720, 1024, &[1024, 1024, 1024], &[300, 310, 290], false),
            ("FLAC's last frame shorter", 1 << 33, 4096, &[4096, 100], &[9000, 200], true),
            ("no durations given: all default", 0, 1024, &[], &[5], false),
        ];
        for (name, base, default, durations, sizes, per_sample) in cases {
            let header = segment_header(7, base, default, durations, sizes);
            let top = boxes(&header[..header.len() - 8]);
            assert_eq!(top.len(), 1, "{name}");
            let moof_len = header.len() - 8;
            assert_eq!(
                header.len() as u64,
                segment_header_len(sizes.len() as u64, per_sample),
                "{name}"
            );
            let payload: u32 = sizes.iter().sum();
            assert_eq!(be(&header[moof_len..moof_len + 4]), u64::from(payload) + 8, "{name}");
            assert_eq!(&header[moof_len + 4..], b"mdat", "{name}");
            let mfhd = find(&header[..moof_len], &[("moof", 0), ("mfhd", 4)]);
            assert_eq!(be(mfhd), 7, "{name}");
            let traf = [("moof", 0), ("traf", 0)];
            let tfdt = find(&header[..moof_len], &[traf.as_slice(), &[("tfdt", 0)]].concat());
            assert_eq!(tfdt[0], 1, "{name}: version 1");
            assert_eq!(be(&tfdt[4..]), base, "{name}");
            let tfhd = find(&header[..moof_len], &[traf.as_slice(), &[("tfhd", 0)]].concat());
            assert_eq!(be(&tfhd[1..4]), 0x02_0008, "{name}");
            assert_eq!(be(&tfhd[8..12]), u64::from(default), "{name}");
            let trun = find(&header[..moof_len], &[traf.as_slice(), &[("trun", 0)]].concat());
            let flags = be(&trun[1..4]);
            assert_eq!(flags & 0x100 != 0, per_sample, "{name}");
            assert_eq!(be(&trun[4..8]), sizes.len() as u64, "{name}");
            assert_eq!(
                be(&trun[8..12]),
                header.len() as u64,
                "{name}: data offset past mdat's header"
            );
            let stride = if per_sample { 8 } else { 4 };
            for (index, &size) in sizes.iter().enumerate() {
                let at = 12 + index * stride;
                if per_sample {
                    assert_eq!(be(&trun[at..at + 4]), u64::from(durations[index]), "{name}");
                }
                assert_eq!(be(&trun[at + stride - 4..at + stride]), u64::from(size), "{name}");
            }
        }
    }

    #[test]
    fn aac_rates_are_the_indexed_ones() {
        assert!(is_aac_rate(44_100) && is_aac_rate(8_000) && is_aac_rate(96_000));
        assert!(!is_aac_rate(44_101) && !is_aac_rate(192_000) && !is_aac_rate(0));
    }
}
