//! `Range: bytes=…` (RFC 9110 §14.1–14.4) in two pure steps: [`parse`] reads the header without
//! knowing the length; [`plan`] resolves it against the length and decides what to send.

/// Optional whitespace (RFC 9110 §5.6.3).
const OWS: [char; 2] = [' ', '\t'];

/// More range-specs than any player sends: a longer list is a broken client or an attack, and
/// RFC 9110 §14.2 lets a server ignore it. [`parse`] stops reading at this count.
const MAX_SPECS: usize = 100;

/// Most parts a `multipart/byteranges` reply may have after coalescing; more are ignored (§14.2).
const MAX_PARTS: usize = 32;

/// Ranges closer than this are sent as one: a multipart part header (`--boundary`,
/// `Content-Type`, `Content-Range`) costs about as much as the gap (RFC 9110 §15.3.7.2).
const COALESCE_GAP: u64 = 80;

/// One range-spec as written, before the representation's length is known (RFC 9110 §14.1.1).
/// Numbers too large for a `u64` read as `u64::MAX`: an unreachable first byte, an end past the
/// end, or a suffix longer than any file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeSpec {
    /// `first-last`: an int-range with a last-pos, `first <= last`.
    FromTo(u64, u64),
    /// `first-`: from first-pos to the end.
    From(u64),
    /// `-n`: a suffix-range, the last `n` bytes.
    Suffix(u64),
}

/// Why a Range header was not understood. Each reason makes [`plan`] ignore the header, so the
/// client gets the whole representation with 200 rather than an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// The range unit is not `bytes` (compared case-insensitively, §14.1); §14.2 says to ignore
    /// a range unit the server does not understand.
    UnknownUnit,
    /// No `=` after the unit, or a range-spec that is not decimal digits around one `-`.
    Syntax,
    /// An int-range whose last-pos is below its first-pos, which §14.1.1 calls invalid.
    Reversed,
    /// The range-set holds no range-spec at all, as in `bytes=` or `bytes= , ,`.
    Empty,
    /// More than 100 range-specs.
    TooMany,
}

/// A satisfiable byte range with both ends inclusive, as `Content-Range` writes it (§14.4).
/// [`plan`] only makes ranges with `start <= end < len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// The first byte.
    pub start: u64,
    /// The last byte, inclusive.
    pub end: u64,
}

impl ByteRange {
    /// The number of bytes in the range.
    #[expect(clippy::len_without_is_empty, reason = "an inclusive range holds at least one byte")]
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }
}

/// What to send for a Range header, given the representation's length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangePlan {
    /// 200 with the whole representation, as if there were no Range header: it is malformed,
    /// uses another unit, or asks for more parts than a player needs (§14.2).
    Ignore,
    /// 206 with one range.
    Single(ByteRange),
    /// 206 `multipart/byteranges` with 2 to 32 ranges, sorted, at least 80 bytes apart.
    Multi(Vec<ByteRange>),
    /// 416: no range-spec overlaps the representation (§15.5.17).
    Unsatisfiable,
}

/// Reads a Range header value: `bytes` (any case) `=` then a comma-separated list of range-specs
/// with optional whitespace around the commas and empty elements allowed (§5.6.1). A range-spec
/// holds only decimal digits around its `-`: no sign, no whitespace.
pub fn parse(header: &str) -> Result<Vec<RangeSpec>, Malformed> {
    let (unit, range_set) = header.trim_matches(OWS).split_once('=').ok_or(Malformed::Syntax)?;
    if !unit.eq_ignore_ascii_case("bytes") {
        return Err(Malformed::UnknownUnit);
    }
    let mut specs = Vec::new();
    for element in range_set.split(',').map(|e| e.trim_matches(OWS)) {
        if element.is_empty() {
            continue;
        }
        if specs.len() == MAX_SPECS {
            return Err(Malformed::TooMany);
        }
        specs.push(parse_spec(element)?);
    }
    if specs.is_empty() {
        return Err(Malformed::Empty);
    }
    Ok(specs)
}

/// Resolves a Range header against a representation of `len` bytes (RFC 9110 §14.1.2): clamps
/// each range to the end, drops the unsatisfiable ones, then sorts the rest and coalesces those
/// that overlap or lie less than 80 bytes apart (§15.3.7.2 allows this regardless of order).
/// Coalescing also bounds the reply by `len`, whatever overlaps the client asks for.
pub fn plan(header: &str, len: u64) -> RangePlan {
    let Ok(specs) = parse(header) else {
        return RangePlan::Ignore;
    };
    let mut ranges: Vec<ByteRange> = specs.into_iter().filter_map(|s| resolve(s, len)).collect();
    ranges.sort_unstable_by_key(|range| range.start);
    let mut merged: Vec<ByteRange> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end.saturating_add(COALESCE_GAP) => {
                last.end = last.end.max(range.end);
            }
            _ => merged.push(range),
        }
    }
    match merged.len() {
        0 => RangePlan::Unsatisfiable,
        1 => RangePlan::Single(merged[0]),
        // §14.2: many small ranges are a sign of a broken client or a denial-of-service attack.
        n if n > MAX_PARTS => RangePlan::Ignore,
        _ => RangePlan::Multi(merged),
    }
}

/// One range-spec: `first-last`, `first-` or `-suffix`.
fn parse_spec(spec: &str) -> Result<RangeSpec, Malformed> {
    let (first, last) = spec.split_once('-').ok_or(Malformed::Syntax)?;
    match (first, last) {
        ("", suffix) => Ok(RangeSpec::Suffix(number(suffix)?)),
        (first, "") => Ok(RangeSpec::From(number(first)?)),
        (first, last) => {
            let (first, last) = (number(first)?, number(last)?);
            if last < first {
                return Err(Malformed::Reversed);
            }
            Ok(RangeSpec::FromTo(first, last))
        }
    }
}

/// `1*DIGIT` as a `u64`, saturating at `u64::MAX`. Checked by hand because `u64::from_str`
/// also accepts a leading `+`.
fn number(digits: &str) -> Result<u64, Malformed> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Malformed::Syntax);
    }
    // Only digits, so overflow is the only way parsing can fail.
    Ok(digits.parse().unwrap_or(u64::MAX))
}

/// The bytes of a `len`-byte representation that `spec` selects, or `None` if it selects none.
fn resolve(spec: RangeSpec, len: u64) -> Option<ByteRange> {
    // §14.1.2 calls a non-zero suffix of an empty representation satisfiable, but no 206 can
    // describe zero bytes (an incl-range needs first <= last, §14.4): a 416 with `bytes */0`
    // tells the client the length instead.
    let last_byte = len.checked_sub(1)?;
    let (start, end) = match spec {
        // §14.1.2: an int-range is satisfiable only if its first-pos is below the length.
        RangeSpec::FromTo(first, _) | RangeSpec::From(first) if first > last_byte => return None,
        // §14.1.2: a last-pos past the end means the end.
        RangeSpec::FromTo(first, last) => (first, last.min(last_byte)),
        RangeSpec::From(first) => (first, last_byte),
        // §14.1.2: only a non-zero suffix-length is satisfiable.
        RangeSpec::Suffix(0) => return None,
        // §14.1.2: a suffix longer than the representation selects all of it.
        RangeSpec::Suffix(n) => (len - n.min(len), last_byte),
    };
    Some(ByteRange { start, end })
}

#[cfg(test)]
mod tests {
    use super::{ByteRange, COALESCE_GAP, MAX_PARTS, Malformed, RangePlan, RangeSpec, parse, plan};

    /// The expected plan, in a form a `const` table can hold: one range means `Single`.
    enum Want {
        Ignore,
        Unsat,
        Ranges(&'static [(u64, u64)]),
    }
    use Want::{Ignore, Ranges, Unsat};

    /// (source and name, header, length, expected plan). Go rows come from net/http's
    /// `ServeFileRangeTests` (length 11) and `ParseRangeTests`; nginx rows from t/range.t
    /// (a 1000-byte file). Where they differ from us, the comment says what they answer.
    #[rustfmt::skip]
    const PLANS: &[(&str, &str, u64, Want)] = &[
        ("go: no range", "", 11, Ignore),
        ("go: 0-4", "bytes=0-4", 11, Ranges(&[(0, 4)])),
        ("go: 2-", "bytes=2-", 11, Ranges(&[(2, 10)])),
        ("go: -5", "bytes=-5", 11, Ranges(&[(6, 10)])),
        ("go: 3-7", "bytes=3-7", 11, Ranges(&[(3, 7)])),
        ("go: 20-", "bytes=20-", 11, Unsat),
        ("go: 0-0,-2 (go: 2 parts; gap < 80)", "bytes=0-0,-2", 11, Ranges(&[(0, 10)])),
        ("go: 0-1,5-8 (go: 2 parts)", "bytes=0-1,5-8", 11, Ranges(&[(0, 8)])),
        ("go: 0-1,5- (go: 2 parts)", "bytes=0-1,5-", 11, Ranges(&[(0, 10)])),
        ("go: 5-1000", "bytes=5-1000", 11, Ranges(&[(5, 10)])),
        ("go: wasteful (go: 200; coalesced here)", "bytes=0-,1-,2-,3-,4-", 11, Ranges(&[(0, 10)])),
        ("go: 0-9", "bytes=0-9", 11, Ranges(&[(0, 9)])),
        ("go: 0-10", "bytes=0-10", 11, Ranges(&[(0, 10)])),
        ("go: 0-11", "bytes=0-11", 11, Ranges(&[(0, 10)])),
        ("go: 10-11", "bytes=10-11", 11, Ranges(&[(10, 10)])),
        ("go: 10-", "bytes=10-", 11, Ranges(&[(10, 10)])),
        ("go: 11-", "bytes=11-", 11, Unsat),
        ("go: 11-12", "bytes=11-12", 11, Unsat),
        ("go: 12-12", "bytes=12-12", 11, Unsat),
        ("go: 11-100", "bytes=11-100", 11, Unsat),
        ("go: 12-100", "bytes=12-100", 11, Unsat),
        ("go: 100-", "bytes=100-", 11, Unsat),
        ("go: 100-1000", "bytes=100-1000", 11, Unsat),
        ("go parse: empty, empty file", "", 0, Ignore),
        ("go parse: foo", "foo", 0, Ignore),
        ("go parse: bytes= (go: 416)", "bytes=", 0, Ignore),
        ("go parse: no hyphen (go: 416)", "bytes=7", 10, Ignore),
        ("go parse: spaced no hyphen", "bytes= 7 ", 10, Ignore),
        ("go parse: 1- of empty file", "bytes=1-", 0, Unsat),
        ("go parse: reversed (go: 416)", "bytes=5-4", 10, Ignore),
        ("go parse: second reversed", "bytes=0-2,5-4", 10, Ignore),
        ("go parse: reversed overlap", "bytes=2-5,4-3", 10, Ignore),
        ("go parse: double hyphens", "bytes=--5,4--3", 10, Ignore),
        ("go parse: A-", "bytes=A-", 10, Ignore),
        ("go parse: A- space", "bytes=A- ", 10, Ignore),
        ("go parse: A-Z", "bytes=A-Z", 10, Ignore),
        ("go parse: -Z", "bytes= -Z", 10, Ignore),
        ("go parse: 5-Z", "bytes=5-Z", 10, Ignore),
        ("go parse: garbage", "bytes=Ran-dom, garbage", 10, Ignore),
        ("go parse: hex", "bytes=0x01-0x02", 10, Ignore),
        ("go parse: blank set", "bytes=         ", 10, Ignore),
        ("go parse: commas only", "bytes= , , ,   ", 10, Ignore),
        ("go parse: 0-9", "bytes=0-9", 10, Ranges(&[(0, 9)])),
        ("go parse: Bytes", "Bytes=0-9", 10, Ranges(&[(0, 9)])),
        ("go parse: BYTES", "BYTES=0-9", 10, Ranges(&[(0, 9)])),
        ("go parse: bYtEs", "bYtEs=0-9", 10, Ranges(&[(0, 9)])),
        ("go parse: 0-", "bytes=0-", 10, Ranges(&[(0, 9)])),
        ("go parse: 5-", "bytes=5-", 10, Ranges(&[(5, 9)])),
        ("go parse: 0-20", "bytes=0-20", 10, Ranges(&[(0, 9)])),
        ("go parse: 15-,0-5", "bytes=15-,0-5", 10, Ranges(&[(0, 5)])),
        ("go parse: 1-2,5- (go: 2 parts)", "bytes=1-2,5-", 10, Ranges(&[(1, 9)])),
        ("go parse: -2 , 7- (go: 2 parts)", "bytes=-2 , 7-", 11, Ranges(&[(7, 10)])),
        ("go parse: 3 small (go: 3 parts)", "bytes=0-0 ,2-2, 7-", 11, Ranges(&[(0, 10)])),
        ("go parse: -5", "bytes=-5", 10, Ranges(&[(5, 9)])),
        ("go parse: -15", "bytes=-15", 10, Ranges(&[(0, 9)])),
        ("go parse: 0-499", "bytes=0-499", 10000, Ranges(&[(0, 499)])),
        ("go parse: 500-999", "bytes=500-999", 10000, Ranges(&[(500, 999)])),
        ("go parse: -500", "bytes=-500", 10000, Ranges(&[(9500, 9999)])),
        ("go parse: 9500-", "bytes=9500-", 10000, Ranges(&[(9500, 9999)])),
        ("go parse: first and last byte", "bytes=0-0,-1", 10000, Ranges(&[(0, 0), (9999, 9999)])),
        ("go parse: adjacent (go: 2 parts)", "bytes=500-600,601-999", 10000, Ranges(&[(500, 999)])),
        ("go parse: overlap (go: 2 parts)", "bytes=500-700,601-999", 10000, Ranges(&[(500, 999)])),
        ("go parse: Apache laxity (go: 3 parts)", "bytes=   1 -2   ,  4- 5, 7 - 8 , ,,", 11, Ignore),
        ("nginx: 0-8", "bytes=0-8", 1000, Ranges(&[(0, 8)])),
        ("nginx: final bytes", "bytes=-10", 1000, Ranges(&[(990, 999)])),
        ("nginx: final bytes explicit", "bytes=990-", 1000, Ranges(&[(990, 999)])),
        ("nginx: more than length", "bytes=990-1990", 1000, Ranges(&[(990, 999)])),
        ("nginx: multipart (nginx: 3 parts)", "bytes=0-9, -10, 10-19", 1000, Ranges(&[(0, 19), (990, 999)])),
        ("nginx: multipart big", "bytes=0-9, -10, 100000-, 10-19", 1000, Ranges(&[(0, 19), (990, 999)])),
        ("nginx: too big first byte pos", "bytes=100000-", 1000, Unsat),
        ("nginx: alpha first (nginx: 416)", "bytes=alpha", 1000, Ignore),
        ("nginx: alpha last (nginx: 416)", "bytes=10-alpha", 1000, Ignore),
        ("nginx: no hyphen (nginx: 416)", "bytes=10", 1000, Ignore),
        ("nginx: no comma (nginx: 416)", "bytes=10-11 12-", 1000, Ignore),
        ("nginx: last byte pos adjusted", "bytes=0-10001", 1000, Ranges(&[(0, 999)])),
        ("nginx: malicious (nginx: 200)", "bytes=0-10001, 0-0", 1000, Ranges(&[(0, 999)])),
        ("nginx: two parts", "bytes=0-9, -10", 1000, Ranges(&[(0, 9), (990, 999)])),
        ("nginx: two parts, one bad", "bytes=0-9, -10, 10000-", 1000, Ranges(&[(0, 9), (990, 999)])),
        ("chromium: open-ended start", "bytes=0-", 1000, Ranges(&[(0, 999)])),
        ("chromium: 32 KiB aligned seek", "bytes=32768-", 100_000, Ranges(&[(32768, 99_999)])),
        ("zero suffix", "bytes=-0", 1000, Unsat),
        ("zero suffix beside a good range", "bytes=-0,5-6", 1000, Ranges(&[(5, 6)])),
        ("empty file, open-ended", "bytes=0-", 0, Unsat),
        ("empty file, suffix", "bytes=-5", 0, Unsat),
        ("one-byte file, suffix", "bytes=-5", 1, Ranges(&[(0, 0)])),
        ("one-byte file, -0", "bytes=-0", 1, Unsat),
        ("other unit", "items=0-1", 1000, Ignore),
        ("space before =", "bytes =0-1", 1000, Ignore),
        ("space after =", "bytes= 0-1", 1000, Ranges(&[(0, 1)])),
        ("surrounding OWS", " \tbytes=0-1\t ", 1000, Ranges(&[(0, 1)])),
        ("tab around comma", "bytes=0-1\t,\t900-999", 1000, Ranges(&[(0, 1), (900, 999)])),
        ("empty list elements", "bytes=,0-1,,", 1000, Ranges(&[(0, 1)])),
        ("space inside a spec", "bytes=0 -1", 1000, Ignore),
        ("plus sign", "bytes=+1-2", 1000, Ignore),
        ("plus last-pos", "bytes=1-+2", 1000, Ignore),
        ("plus suffix", "bytes=-+2", 1000, Ignore),
        ("negative", "bytes=-1-2", 1000, Ignore),
        ("bare hyphen", "bytes=-", 1000, Ignore),
        ("trailing semicolon", "bytes=0-1;", 1000, Ignore),
        ("two equals", "bytes==0-1", 1000, Ignore),
        ("unicode digit", "bytes=٣-4", 1000, Ignore),
        ("leading zeros", "bytes=007-010", 1000, Ranges(&[(7, 10)])),
        ("equal ends", "bytes=5-5", 1000, Ranges(&[(5, 5)])),
        ("unsorted parts are sorted", "bytes=900-999,0-9", 1000, Ranges(&[(0, 9), (900, 999)])),
        ("gap of 80 stays apart", "bytes=0-9,90-99", 1000, Ranges(&[(0, 9), (90, 99)])),
        ("gap of 79 coalesces", "bytes=0-9,89-99", 1000, Ranges(&[(0, 99)])),
        ("contained range", "bytes=0-500,10-20", 1000, Ranges(&[(0, 500)])),
        ("overflowing last-pos", "bytes=0-99999999999999999999", 10, Ranges(&[(0, 9)])),
        ("overflowing first-pos", "bytes=99999999999999999999-", 10, Unsat),
        ("overflowing suffix", "bytes=-99999999999999999999", 10, Ranges(&[(0, 9)])),
        ("overflow both, reversed", "bytes=99999999999999999999-5", 10, Ignore),
        ("u64::MAX first of u64::MAX", "bytes=18446744073709551615-", u64::MAX, Unsat),
        ("last byte of u64::MAX", "bytes=18446744073709551614-", u64::MAX, Ranges(&[(u64::MAX - 1, u64::MAX - 1)])),
        ("suffix of u64::MAX", "bytes=-18446744073709551615", u64::MAX, Ranges(&[(0, u64::MAX - 1)])),
    ];

    #[test]
    fn plan_table() {
        for (name, header, len, want) in PLANS {
            let want = match want {
                Ignore => RangePlan::Ignore,
                Unsat => RangePlan::Unsatisfiable,
                Ranges([(start, end)]) => RangePlan::Single(ByteRange { start: *start, end: *end }),
                Ranges(ranges) => RangePlan::Multi(
                    ranges.iter().map(|&(start, end)| ByteRange { start, end }).collect(),
                ),
            };
            assert_eq!(plan(header, *len), want, "{name}: {header:?} of {len} bytes");
        }
    }

    #[rustfmt::skip]
    const PARSES: &[(&str, Result<&[RangeSpec], Malformed>)] = &[
        ("bytes=0-4", Ok(&[RangeSpec::FromTo(0, 4)])),
        ("bytes=5-", Ok(&[RangeSpec::From(5)])),
        ("bytes=-5", Ok(&[RangeSpec::Suffix(5)])),
        ("bytes=1-1, 3-, -2", Ok(&[RangeSpec::FromTo(1, 1), RangeSpec::From(3), RangeSpec::Suffix(2)])),
        ("bytes=0-99999999999999999999", Ok(&[RangeSpec::FromTo(0, u64::MAX)])),
        ("bytes=-99999999999999999999", Ok(&[RangeSpec::Suffix(u64::MAX)])),
        ("", Err(Malformed::Syntax)),
        ("bytes", Err(Malformed::Syntax)),
        ("items=0-1", Err(Malformed::UnknownUnit)),
        ("=0-1", Err(Malformed::UnknownUnit)),
        ("bytes=1", Err(Malformed::Syntax)),
        ("bytes=1-2-3", Err(Malformed::Syntax)),
        ("bytes=0-1,x", Err(Malformed::Syntax)),
        ("bytes=3-2", Err(Malformed::Reversed)),
        ("bytes=", Err(Malformed::Empty)),
        ("bytes=, ,\t,", Err(Malformed::Empty)),
    ];

    #[test]
    fn parse_reports_the_exact_reason() {
        for &(header, want) in PARSES {
            assert_eq!(parse(header).as_deref().map_err(|&e| e), want, "{header:?}");
        }
    }

    #[test]
    fn a_hundred_specs_parse_and_one_more_is_too_many() {
        let hundred = format!("bytes={}", vec!["0-0"; 100].join(","));
        assert_eq!(parse(&hundred).map(|specs| specs.len()), Ok(100));
        assert_eq!(parse(&format!("{hundred},0-0")), Err(Malformed::TooMany));
        assert_eq!(plan(&format!("{hundred},0-0"), 1000), RangePlan::Ignore);
    }

    /// `n` one-byte ranges 200 bytes apart, too far apart to coalesce.
    fn sparse(n: u64) -> String {
        let specs: Vec<String> = (0..n).map(|i| format!("{0}-{0}", i * 200)).collect();
        format!("bytes={}", specs.join(","))
    }

    #[test]
    fn thirty_two_parts_are_served_and_thirty_three_ignored() {
        assert!(matches!(plan(&sparse(32), 10_000), RangePlan::Multi(r) if r.len() == MAX_PARTS));
        assert_eq!(plan(&sparse(33), 10_000), RangePlan::Ignore);
    }

    /// xorshift64: a deterministic stream of numbers for the property test.
    struct Rng(u64);

    impl Rng {
        /// A number below `n` (or 0 when `n` is 0).
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0.checked_rem(n).unwrap_or(0)
        }

        /// One of the `|`-separated choices.
        fn pick<'a>(&mut self, choices: &'a str) -> &'a str {
            let choices: Vec<&str> = choices.split('|').collect();
            choices[self.below(choices.len() as u64) as usize]
        }

        /// A position at the start, near the end, past the end or anywhere.
        fn position(&mut self, len: u64) -> u64 {
            match self.below(4) {
                0 => self.below(10),
                1 => len.saturating_sub(self.below(100)),
                2 => len.saturating_add(self.below(3)),
                _ => self.below(len.saturating_add(1)),
            }
        }

        /// A mostly well-formed header: usually the one to four specs players send, sometimes
        /// up to 40, with overflows, garbage and odd separators mixed in.
        fn header(&mut self, len: u64) -> String {
            let mut header = self.pick("bytes=|BYTES=|items=||bytes=|bytes=").to_owned();
            let count = if self.below(4) == 0 { self.below(40) } else { 1 + self.below(4) };
            for i in 0..count {
                if i > 0 {
                    header.push_str(self.pick(",|, | ,\t|,,"));
                }
                let (a, b) = (self.position(len), self.position(len));
                let spec = match self.below(64) {
                    0 => self
                        .pick("0-99999999999999999999|-99999999999999999999|99999999999999999999-|-0|5|+1-2|1 -2|a-b|-||*|é")
                        .to_owned(),
                    1 => format!("{}-{}", a.max(b), a.min(b)),
                    2..=15 => format!("{a}-"),
                    16..=29 => format!("-{b}"),
                    _ => format!("{}-{}", a.min(b), a.max(b)),
                };
                header.push_str(&spec);
            }
            header
        }
    }

    #[test]
    fn no_input_panics_and_every_planned_range_lies_inside_the_representation() {
        const LENS: &[u64] = &[0, 1, 2, 10, 100, 1000, 100_000, u64::MAX - 1, u64::MAX];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut seen = [0; 4];
        for _ in 0..20_000 {
            let len = match LENS.get(rng.below(12) as usize) {
                Some(&len) => len,
                None => rng.below(u64::MAX) >> rng.below(64),
            };
            let header = rng.header(len);
            let _ = parse(&header);
            let plan = plan(&header, len);
            seen[match plan {
                RangePlan::Ignore => 0,
                RangePlan::Unsatisfiable => 1,
                RangePlan::Single(_) => 2,
                RangePlan::Multi(_) => 3,
            }] += 1;
            let ranges = match plan {
                RangePlan::Single(range) => vec![range],
                RangePlan::Multi(ranges) => ranges,
                RangePlan::Ignore | RangePlan::Unsatisfiable => continue,
            };
            assert!(ranges.len() <= MAX_PARTS, "{header:?}");
            for range in &ranges {
                assert!(range.start <= range.end && range.end < len, "{header:?} of {len}");
            }
            for pair in ranges.windows(2) {
                assert!(pair[1].start > pair[0].end + COALESCE_GAP, "{header:?} of {len}");
            }
        }
        // Every kind of plan came up, so the generator reaches all of the code.
        assert!(seen.iter().all(|&count| count > 100), "plans seen: {seen:?}");
    }

    #[test]
    fn byte_range_len_counts_both_ends() {
        assert_eq!(ByteRange { start: 5, end: 5 }.len(), 1);
        assert_eq!(ByteRange { start: 0, end: 9 }.len(), 10);
    }
}
