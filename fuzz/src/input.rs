//! Reading the text formats of the fuzz inputs: lines, decimal numbers, `start-end` pairs.

/// `data` as lines split at `\n`, each without a trailing `\r`, if it is all UTF-8.
pub fn lines(data: &[u8]) -> Option<Vec<&str>> {
    let text = std::str::from_utf8(data).ok()?;
    Some(text.split('\n').map(|line| line.strip_suffix('\r').unwrap_or(line)).collect())
}

/// The first line of `data` as a decimal `u64`, and the bytes after its `\n`.
pub fn number_line(data: &[u8]) -> Option<(u64, &[u8])> {
    let end = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let number = std::str::from_utf8(&data[..end]).ok()?.trim().parse().ok()?;
    Some((number, data.get(end + 1..).unwrap_or_default()))
}

/// `start-end` as two decimal `u64`s.
pub fn pair(text: &str) -> Option<(u64, u64)> {
    let (start, end) = text.trim().split_once('-')?;
    Some((start.parse().ok()?, end.parse().ok()?))
}
