//! Which endpoint answers a request target.

/// An endpoint, with the still-encoded path after its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// `/` or `/index.html`: the player page.
    Page,
    /// `/api/track/<path>`.
    Track(&'a str),
    /// `/api/browse` or `/api/browse/<dir>`, with the query.
    Browse(&'a str, &'a str),
    /// `/api/cover/<path>`, of a file or a directory.
    Cover(&'a str),
}

/// The endpoint for `target` (path and query as received), `None` for an unknown path.
pub fn route(target: &str) -> Option<Route<'_>> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path == "/" || path == "/index.html" {
        return Some(Route::Page);
    }
    let api = path.strip_prefix("/api/")?;
    if let Some(raw) = api.strip_prefix("track/") {
        Some(Route::Track(raw))
    } else if api == "browse" {
        Some(Route::Browse("", query))
    } else if let Some(raw) = api.strip_prefix("browse/") {
        Some(Route::Browse(raw, query))
    } else if api == "cover" {
        Some(Route::Cover(""))
    } else {
        api.strip_prefix("cover/").map(Route::Cover)
    }
}

#[cfg(test)]
mod tests {
    use super::Route::{Browse, Cover, Page, Track};
    use super::{Route, route};

    #[test]
    fn routes() {
        #[rustfmt::skip]
        let cases: &[(&str, Option<Route>)] = &[
            ("/", Some(Page)), ("/index.html", Some(Page)), ("/?token=x", Some(Page)),
            ("/api/track/a%20b.mp3", Some(Track("a%20b.mp3"))), ("/api/track/a.mp3?token=x", Some(Track("a.mp3"))),
            ("/api/track/", Some(Track(""))),
            ("/api/browse", Some(Browse("", ""))), ("/api/browse/", Some(Browse("", ""))),
            ("/api/browse/Tones?offset=2", Some(Browse("Tones", "offset=2"))), ("/api/browse/Tones/", Some(Browse("Tones/", ""))),
            ("/api/cover/a.mp3", Some(Cover("a.mp3"))), ("/api/cover", Some(Cover(""))), ("/api/cover/", Some(Cover(""))),
            ("/api/track", None), ("/api/", None), ("/api", None), ("/index.htm", None), ("/stream/a.mp3", None),
            ("/API/track/a.mp3", None), ("", None), ("?/api/track/a", None), ("/api/browser", None),
        ];
        for &(target, want) in cases {
            assert_eq!(route(target), want, "{target:?}");
        }
    }
}
