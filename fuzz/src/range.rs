//! `range::parse` and `range::plan`. Input: the representation's length in decimal on the
//! first line, then the Range field value.

use tapedeck_guest::multipart;
use tapedeck_guest::range::{self, RangePlan, RangeSpec};

/// Most parts a plan may have (RFC 9110 §14.2 lets a server refuse more).
const MAX_PARTS: usize = 32;

/// Most range-specs `parse` reads.
const MAX_SPECS: usize = 100;

/// Ranges closer than this are merged into one part.
const COALESCE_GAP: u64 = 80;

/// Checks one (length, Range) pair.
pub fn check(data: &[u8]) {
    let Some((len, header)) = crate::input::number_line(data) else {
        return;
    };
    let Ok(header) = std::str::from_utf8(header) else {
        return;
    };
    let plan = range::plan(header, len);
    assert_eq!(range::plan(header, len), plan, "deterministic");
    let specs = match range::parse(header) {
        Ok(specs) => specs,
        Err(_) => {
            assert_eq!(plan, RangePlan::Ignore, "a malformed header is ignored: {header:?}");
            return;
        }
    };
    assert!((1..=MAX_SPECS).contains(&specs.len()), "{header:?}");
    // Written back in the canonical form, the specs read the same.
    let written: Vec<String> = specs.iter().map(write).collect();
    let rewritten = format!("bytes={}", written.join(","));
    assert_eq!(range::parse(&rewritten).as_ref(), Ok(&specs), "{header:?}");

    let wanted: Vec<(u64, u64)> = specs.iter().filter_map(|&spec| satisfiable(spec, len)).collect();
    let ranges = match plan {
        RangePlan::Ignore => {
            // Well-formed, so only ignored for asking too many separate parts.
            assert!(wanted.len() > MAX_PARTS, "{header:?} of {len} ignored");
            return;
        }
        RangePlan::Unsatisfiable => {
            assert!(wanted.is_empty(), "{header:?} of {len} unsatisfiable");
            return;
        }
        RangePlan::Single(range) => vec![range],
        RangePlan::Multi(ranges) => {
            assert!((2..=MAX_PARTS).contains(&ranges.len()), "{header:?} of {len}");
            ranges
        }
    };
    for range in &ranges {
        assert!(range.start <= range.end && range.end < len, "{header:?} of {len}: {range:?}");
    }
    // Sorted, disjoint, and more than the coalescing gap apart.
    for pair in ranges.windows(2) {
        assert!(pair[1].start > pair[0].end, "{header:?} of {len}: {pair:?}");
        assert!(pair[1].start - pair[0].end > COALESCE_GAP, "{header:?} of {len}: {pair:?}");
    }
    // Every byte asked for is sent, and each part starts and ends where some spec does.
    for &(start, end) in &wanted {
        let covered = ranges.iter().any(|r| r.start <= start && end <= r.end);
        assert!(covered, "{header:?} of {len}: {start}-{end} not sent");
    }
    for range in &ranges {
        assert!(wanted.iter().any(|&(start, _)| start == range.start), "{header:?}: {range:?}");
        assert!(wanted.iter().any(|&(_, end)| end == range.end), "{header:?}: {range:?}");
    }
    // Never more than the representation, plus the framing of at most 32 parts.
    let total: u128 = ranges.iter().map(|r| u128::from(r.len())).sum();
    assert!(total <= u128::from(len), "{header:?} of {len}");
    if ranges.len() > 1 {
        let framed = multipart::byteranges(r#""etag""#, "audio/mpeg", &ranges, len);
        let bound = u128::from(len) + framing_bound(MAX_PARTS, "audio/mpeg");
        assert!(u128::from(framed.content_length) <= bound, "{header:?} of {len}");
    }
}

/// The spec in the canonical form `parse` reads.
fn write(spec: &RangeSpec) -> String {
    match *spec {
        RangeSpec::FromTo(first, last) => {
            assert!(first <= last, "{spec:?}");
            format!("{first}-{last}")
        }
        RangeSpec::From(first) => format!("{first}-"),
        RangeSpec::Suffix(suffix) => format!("-{suffix}"),
    }
}

/// The bytes `spec` selects of `len`, clamped to the end (RFC 9110 §14.1.2), if any.
fn satisfiable(spec: RangeSpec, len: u64) -> Option<(u64, u64)> {
    match spec {
        RangeSpec::FromTo(first, last) if first < len => Some((first, last.min(len - 1))),
        RangeSpec::From(first) if first < len => Some((first, len - 1)),
        RangeSpec::Suffix(suffix) if suffix > 0 && len > 0 => {
            Some((len - suffix.min(len), len - 1))
        }
        _ => None,
    }
}

/// The most framing `multipart::byteranges` can add to `parts` parts: the widest part headers
/// (largest numbers, a 70-byte boundary, the most RFC 2046 §5.1.1 allows) and the close
/// delimiter.
fn framing_bound(parts: usize, content_type: &str) -> u128 {
    let boundary = "b".repeat(70);
    let max = u64::MAX;
    let part = format!(
        "\r\n--{boundary}\r\nContent-Type: {content_type}\r\n\
         Content-Range: bytes {max}-{max}/{max}\r\n\r\n"
    );
    let close = format!("\r\n--{boundary}--\r\n");
    parts as u128 * part.len() as u128 + close.len() as u128
}
