//! Replies with validators: 304 and 412 from the request's preconditions, else a 200 with
//! its entity-tag, Last-Modified and Cache-Control.

use std::time::{Duration, UNIX_EPOCH};

use tapedeck_guest::precondition::{self, Conditionals, Verdict};
use tapedeck_guest::reply::{Body, Reply, Status};

/// Clients may keep what the API sends but must revalidate it first (RFC 9111 §5.2.2.4):
/// tags change in place, and the ETag makes asking cheap.
pub const CACHE_CONTROL: &str = "no-cache";

/// 9999-12-31T23:59:59Z, the last instant an HTTP-date can write (`httpdate` panics past
/// it, and a file's mtime is whatever its owner set).
const LATEST_HTTP_DATE_SECS: u64 = 253_402_300_799;

/// The validators of a representation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validators {
    /// The strong entity-tag.
    pub etag: String,
    /// Last-Modified in seconds since the Unix epoch, when there is one.
    pub modified_secs: Option<u64>,
}

impl Validators {
    /// The 304 or 412 the request's preconditions call for (RFC 9110 §13.2.2), or `None`
    /// to send the representation. Without a Last-Modified, the date conditions are
    /// ignored, as §13.1.3 and §13.1.4 say for a representation without one.
    pub fn check(&self, conditionals: &Conditionals) -> Option<Reply> {
        let mut conditionals = *conditionals;
        if self.modified_secs.is_none() {
            conditionals.if_modified_since = None;
            conditionals.if_unmodified_since = None;
        }
        match precondition::evaluate(&conditionals, &self.etag, self.modified_secs.unwrap_or(0)) {
            Verdict::Proceed { .. } => None,
            // §15.4.5: a 304 carries the validators a 200 would.
            Verdict::NotModified => Some(Reply {
                status: Status::NotModified,
                headers: self.headers(),
                body: Body::Empty,
            }),
            Verdict::PreconditionFailed => {
                Some(Reply::error(Status::PreconditionFailed, "Precondition failed"))
            }
        }
    }

    /// A 200 of `len` bytes of `content_type`.
    pub fn ok(&self, content_type: &str, body: Body, len: u64) -> Reply {
        let mut headers = vec![
            ("content-type", content_type.to_owned()),
            ("content-length", itoa::Buffer::new().format(len).to_owned()),
        ];
        headers.extend(self.headers());
        Reply { status: Status::Ok, headers, body }
    }

    /// A 200 of JSON.
    pub fn json(&self, json: String) -> Reply {
        let len = json.len() as u64;
        self.ok("application/json", Body::Literal(json.into_bytes()), len)
    }

    fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![("etag", self.etag.clone())];
        if let Some(secs) = self.modified_secs {
            let date = UNIX_EPOCH + Duration::from_secs(secs.min(LATEST_HTTP_DATE_SECS));
            headers.push(("last-modified", httpdate::fmt_http_date(date)));
        }
        headers.push(("cache-control", CACHE_CONTROL.to_owned()));
        headers
    }
}

#[cfg(test)]
mod tests {
    use tapedeck_guest::precondition::Conditionals;
    use tapedeck_guest::reply::{Body, Status};

    use super::Validators;

    const T: u64 = 1_403_716_338;
    const DATE: &str = "Wed, 25 Jun 2014 17:12:18 GMT";

    fn validators(modified_secs: Option<u64>) -> Validators {
        Validators { etag: r#""x-json""#.into(), modified_secs }
    }

    #[test]
    fn preconditions() {
        let none = Conditionals::default();
        let matching = Conditionals { if_none_match: Some(r#""x-json""#), ..none };
        let other = Conditionals { if_none_match: Some(r#""y""#), ..none };
        let since = Conditionals { if_modified_since: Some(DATE), ..none };
        let failed = Conditionals { if_match: Some(r#""y""#), ..none };
        #[rustfmt::skip]
        let cases = [
            (none, Some(T), None), (matching, Some(T), Some(Status::NotModified)), (other, Some(T), None),
            (since, Some(T), Some(Status::NotModified)), (since, Some(T + 1), None),
            // Without Last-Modified, a date cannot say the representation is unchanged.
            (since, None, None), (matching, None, Some(Status::NotModified)),
            (failed, Some(T), Some(Status::PreconditionFailed)),
        ];
        for (conditionals, modified, want) in cases {
            let got = validators(modified).check(&conditionals).map(|reply| reply.status);
            assert_eq!(got, want, "{conditionals:?} {modified:?}");
        }
    }

    #[test]
    fn not_modified_carries_the_validators() {
        let conditionals = Conditionals { if_none_match: Some("*"), ..Conditionals::default() };
        let reply = validators(Some(T)).check(&conditionals).unwrap();
        let names: Vec<_> = reply.headers.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, ["etag", "last-modified", "cache-control"]);
        assert_eq!(reply.body, Body::Empty);
    }

    #[test]
    fn dates_past_9999_are_clamped() {
        let reply = validators(Some(u64::MAX)).json("{}".into());
        let date = reply.headers.iter().find(|(name, _)| *name == "last-modified").unwrap();
        assert_eq!(date.1, "Fri, 31 Dec 9999 23:59:59 GMT");
    }
}
