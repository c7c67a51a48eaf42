//! The query string of `/api/browse`: `offset` and `limit` page the tracks; other
//! parameters (`token=` for the host) are ignored.

/// Tracks in a page when the query does not say.
pub const DEFAULT_LIMIT: usize = 100;
/// The most tracks in a page, so one request parses a bounded number of files.
pub const MAX_LIMIT: usize = 500;

/// A page of tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Tracks skipped.
    pub offset: usize,
    /// Tracks at most, at most [`MAX_LIMIT`].
    pub limit: usize,
}

/// `offset` or `limit` is not a decimal number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadQuery;

/// The page `query` (without the `?`) asks for. An empty value counts as absent; a limit
/// over [`MAX_LIMIT`] is lowered to it.
pub fn page(query: &str) -> Result<Page, BadQuery> {
    let mut page = Page { offset: 0, limit: DEFAULT_LIMIT };
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let field = match key {
            "offset" => &mut page.offset,
            "limit" => &mut page.limit,
            _ => continue,
        };
        if value.is_empty() {
            continue;
        }
        // `usize::from_str` would take a leading `+`.
        if !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BadQuery);
        }
        // Past usize, the value is more than any directory holds.
        *field = value.parse().unwrap_or(usize::MAX);
    }
    page.limit = page.limit.min(MAX_LIMIT);
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::{BadQuery, Page, page};

    #[test]
    fn pages() {
        let p = |offset, limit| Ok(Page { offset, limit });
        #[rustfmt::skip]
        let cases = [
            ("", p(0, 100)), ("offset=10", p(10, 100)), ("limit=5&offset=2", p(2, 5)), ("limit=1000", p(0, 500)),
            ("limit=0", p(0, 0)), ("token=abc&limit=3", p(0, 3)), ("offset=&limit=", p(0, 100)), ("limit=2&limit=4", p(0, 4)),
            ("offset=99999999999999999999999", p(usize::MAX, 100)), ("x&offset=1", p(1, 100)),
            ("limit=-1", Err(BadQuery)), ("offset=%31", Err(BadQuery)), ("limit=+5", Err(BadQuery)), ("offset=1e3", Err(BadQuery)),
        ];
        for (query, want) in cases {
            assert_eq!(page(query), want, "{query:?}");
        }
    }
}
