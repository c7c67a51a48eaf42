//! Conditional requests (RFC 9110 §13): one type per header, combined by [`evaluate`].

use std::time::UNIX_EPOCH;

/// Optional whitespace (RFC 9110 §5.6.3).
const OWS: [char; 2] = [' ', '\t'];

/// An entity-tag, `"opaque"` or `W/"opaque"` (RFC 9110 §8.8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EntityTag<'a> {
    weak: bool,
    opaque: &'a str,
}

impl<'a> EntityTag<'a> {
    /// The entity-tag at the start of `s`, and what follows it.
    fn scan(s: &'a str) -> Option<(Self, &'a str)> {
        let (weak, rest) = match s.strip_prefix("W/") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let rest = rest.strip_prefix('"')?;
        let (opaque, after) = rest.split_once('"')?;
        // etagc = %x21 / %x23-7E / obs-text: no DQUOTE, no whitespace, no controls.
        if !opaque.bytes().all(|b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80) {
            return None;
        }
        Some((Self { weak, opaque }, after))
    }

    /// `s` if it is exactly one entity-tag.
    fn parse(s: &'a str) -> Option<Self> {
        match Self::scan(s)? {
            (tag, "") => Some(tag),
            _ => None,
        }
    }

    /// Strong comparison (§8.8.3.2): both strong, same opaque-tag.
    fn strong_eq(self, other: Self) -> bool {
        !self.weak && !other.weak && self.opaque == other.opaque
    }

    /// Weak comparison (§8.8.3.2): same opaque-tag, weak or not.
    fn weak_eq(self, other: Self) -> bool {
        self.opaque == other.opaque
    }
}

/// `"*" / #entity-tag` (§13.1.1, §13.1.2), read like Go's `checkIfMatch`: commas and OWS
/// between tags, empty elements allowed, and reading stops at the first malformed element,
/// so the tags before it still count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TagList<'a>(&'a str);

impl<'a> TagList<'a> {
    /// Whether the list is `*` or holds a tag that `matches`.
    fn any(self, matches: impl Fn(EntityTag<'a>) -> bool) -> bool {
        if self.0 == "*" {
            return true;
        }
        let mut rest = self.0;
        loop {
            rest = rest.trim_start_matches(|c| c == ',' || OWS.contains(&c));
            let Some((tag, after)) = EntityTag::scan(rest) else {
                return false;
            };
            if matches(tag) {
                return true;
            }
            rest = after;
        }
    }
}

/// The field value without surrounding OWS, or `None` if blank: a blank field counts as
/// absent, as it does for Go's `Header.Get`.
fn non_blank(value: &str) -> Option<&str> {
    Some(value.trim_matches(OWS)).filter(|value| !value.is_empty())
}

/// An HTTP-date in any of the three formats recipients must accept (§5.6.7), in seconds
/// since the Unix epoch.
fn http_date(value: &str) -> Option<u64> {
    let date = httpdate::parse_http_date(value.trim_matches(OWS)).ok()?;
    Some(date.duration_since(UNIX_EPOCH).ok()?.as_secs())
}

/// `If-Match` (RFC 9110 §13.1.1): true if the value is `*` or lists the current entity-tag,
/// by strong comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfMatch<'a>(TagList<'a>);

impl<'a> IfMatch<'a> {
    /// Reads the field value; `None` if it is blank.
    pub fn from_header_value(value: &'a str) -> Option<Self> {
        non_blank(value).map(|value| Self(TagList(value)))
    }

    /// Whether the condition holds for the representation tagged `etag`. A value without a
    /// well-formed matching tag is false, as in Go, so a garbled If-Match never passes.
    pub fn passes(&self, etag: &str) -> bool {
        let current = EntityTag::parse(etag);
        self.0.any(|tag| current.is_some_and(|current| tag.strong_eq(current)))
    }
}

/// `If-None-Match` (RFC 9110 §13.1.2): true unless the value is `*` or lists the current
/// entity-tag, by weak comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfNoneMatch<'a>(TagList<'a>);

impl<'a> IfNoneMatch<'a> {
    /// Reads the field value; `None` if it is blank.
    pub fn from_header_value(value: &'a str) -> Option<Self> {
        non_blank(value).map(|value| Self(TagList(value)))
    }

    /// Whether the condition holds (no listed tag matches) for the representation tagged `etag`.
    pub fn passes(&self, etag: &str) -> bool {
        let current = EntityTag::parse(etag);
        !self.0.any(|tag| current.is_some_and(|current| tag.weak_eq(current)))
    }
}

/// `If-Modified-Since` (RFC 9110 §13.1.3): true if the representation changed after the date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfModifiedSince(u64);

impl IfModifiedSince {
    /// Reads the field value; `None` if it is not an HTTP-date, which §13.1.3 says to ignore.
    pub fn from_header_value(value: &str) -> Option<Self> {
        http_date(value).map(Self)
    }

    /// Whether a representation last modified at `last_modified_secs` changed after the date.
    /// Both are whole seconds, the resolution of an HTTP-date.
    pub fn passes(&self, last_modified_secs: u64) -> bool {
        last_modified_secs > self.0
    }
}

/// `If-Unmodified-Since` (RFC 9110 §13.1.4): true if the representation has not changed since
/// the date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfUnmodifiedSince(u64);

impl IfUnmodifiedSince {
    /// Reads the field value; `None` if it is not an HTTP-date, which §13.1.4 says to ignore.
    pub fn from_header_value(value: &str) -> Option<Self> {
        http_date(value).map(Self)
    }

    /// Whether a representation last modified at `last_modified_secs` is unchanged since the date.
    pub fn passes(&self, last_modified_secs: u64) -> bool {
        last_modified_secs <= self.0
    }
}

/// The validator in an `If-Range` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Validator<'a> {
    Tag(EntityTag<'a>),
    Date(u64),
}

/// `If-Range` (RFC 9110 §13.1.5): an entity-tag or an HTTP-date naming the representation the
/// client holds part of; the Range applies only if it still is the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfRange<'a>(Validator<'a>);

impl<'a> IfRange<'a> {
    /// Reads the field value; `None` if it is neither one entity-tag nor an HTTP-date.
    pub fn from_header_value(value: &'a str) -> Option<Self> {
        let value = value.trim_matches(OWS);
        // §13.1.5: an entity-tag is told from an HTTP-date by its DQUOTE (after any `W/`).
        let validator = if value.starts_with('"') || value.starts_with("W/") {
            Validator::Tag(EntityTag::parse(value)?)
        } else {
            Validator::Date(http_date(value)?)
        };
        Some(Self(validator))
    }

    /// Whether the validator matches the current representation, so the Range is honoured.
    pub fn passes(&self, etag: &str, last_modified_secs: u64) -> bool {
        match self.0 {
            // §13.1.5: strong comparison, so a weak entity-tag never matches.
            Validator::Tag(tag) => {
                EntityTag::parse(etag).is_some_and(|current| tag.strong_eq(current))
            }
            // §13.1.5: the date must equal Last-Modified exactly. A file changed twice within one
            // second keeps its date; clients holding the ETag send that instead.
            Validator::Date(secs) => secs == last_modified_secs,
        }
    }
}

/// The raw values of the conditional request headers; `None` when a header is absent.
/// A repeated field is one value joined with `, ` (RFC 9110 §5.3), as
/// [`crate::headers::RequestHeaders`] collects it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Conditionals<'a> {
    /// `If-Match`.
    pub if_match: Option<&'a str>,
    /// `If-None-Match`.
    pub if_none_match: Option<&'a str>,
    /// `If-Modified-Since`.
    pub if_modified_since: Option<&'a str>,
    /// `If-Unmodified-Since`.
    pub if_unmodified_since: Option<&'a str>,
    /// `If-Range`.
    pub if_range: Option<&'a str>,
}

impl Conditionals<'_> {
    /// No conditional fields, usable in `const` table rows.
    #[cfg(test)]
    pub(crate) const NONE: Self = Self {
        if_match: None,
        if_none_match: None,
        if_modified_since: None,
        if_unmodified_since: None,
        if_range: None,
    };
}

/// What the preconditions allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send the representation.
    Proceed {
        /// Whether a Range header may be applied: false when an If-Range did not match.
        honor_range: bool,
    },
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed.
    PreconditionFailed,
}

/// Evaluates the conditional headers of a GET or HEAD for the representation tagged `etag` and
/// last modified at `last_modified_secs`, in the order of RFC 9110 §13.2.2:
///
/// 1. If If-Match is present: if it is false, 412 Precondition Failed.
/// 2. Otherwise, if If-Unmodified-Since is present and valid: if the representation was
///    modified after that date, 412.
/// 3. If If-None-Match is present: if it is false (a tag matches), 304 Not Modified; only GET
///    and HEAD reach this code, so 304 is always the answer.
/// 4. Otherwise, if If-Modified-Since is present and valid: if the representation was not
///    modified after that date, 304.
/// 5. If If-Range is present: honour the Range only if its validator matches, by strong
///    entity-tag comparison or a date equal to Last-Modified. Without If-Range, honour it.
///
/// A blank field counts as absent; dates compare at one-second resolution.
pub fn evaluate(c: &Conditionals, etag: &str, last_modified_secs: u64) -> Verdict {
    // Steps 1 and 2: If-Match, else If-Unmodified-Since (§13.1.4 ignores it beside If-Match).
    let unchanged = match c.if_match.and_then(IfMatch::from_header_value) {
        Some(if_match) => if_match.passes(etag),
        None => c
            .if_unmodified_since
            .and_then(IfUnmodifiedSince::from_header_value)
            .is_none_or(|since| since.passes(last_modified_secs)),
    };
    if !unchanged {
        return Verdict::PreconditionFailed;
    }
    // Steps 3 and 4: If-None-Match, else If-Modified-Since (§13.1.3 ignores it beside
    // If-None-Match).
    let changed = match c.if_none_match.and_then(IfNoneMatch::from_header_value) {
        Some(if_none_match) => if_none_match.passes(etag),
        None => c
            .if_modified_since
            .and_then(IfModifiedSince::from_header_value)
            .is_none_or(|since| since.passes(last_modified_secs)),
    };
    if !changed {
        return Verdict::NotModified;
    }
    // Step 5.
    let honor_range = match c.if_range.and_then(non_blank) {
        None => true,
        // §13.1.5: a validator that does not parse cannot match, so the Range is ignored.
        Some(value) => IfRange::from_header_value(value)
            .is_some_and(|if_range| if_range.passes(etag, last_modified_secs)),
    };
    Verdict::Proceed { honor_range }
}

#[cfg(test)]
mod tests {
    use super::{
        Conditionals, IfMatch, IfModifiedSince, IfNoneMatch, IfRange, IfUnmodifiedSince, Verdict,
        evaluate,
    };

    /// Last-Modified of the representation in most rows: Wed, 25 Jun 2014 17:12:18 GMT.
    const T: u64 = 1_403_716_338;
    const DATE: &str = "Wed, 25 Jun 2014 17:12:18 GMT";
    const TWO_SECONDS_BEFORE: &str = "Wed, 25 Jun 2014 17:12:16 GMT";
    const ONE_SECOND_AFTER: &str = "Wed, 25 Jun 2014 17:12:19 GMT";

    const NONE: Conditionals<'static> = Conditionals::NONE;
    const OK: Verdict = Verdict::Proceed { honor_range: true };
    const WHOLE: Verdict = Verdict::Proceed { honor_range: false };
    const NOT_MODIFIED: Verdict = Verdict::NotModified;
    const FAILED: Verdict = Verdict::PreconditionFailed;

    /// (name, headers, current etag, current Last-Modified, verdict). Rows named `go:` are
    /// net/http's `TestServeContent` cases, with its verdicts.
    #[rustfmt::skip]
    const CASES: &[(&str, Conditionals, &str, u64, Verdict)] = &[
        ("go: no conditionals", NONE, r#""A""#, T, OK),
        ("go: not_modified_modtime", Conditionals { if_modified_since: Some(DATE), ..NONE }, r#""foo""#, T, NOT_MODIFIED),
        ("go: not_modified_etag", Conditionals { if_none_match: Some(r#""foo""#), ..NONE }, r#""foo""#, T, NOT_MODIFIED),
        ("go: not_modified_etag_no_seek", Conditionals { if_none_match: Some(r#""baz", W/"foo""#), ..NONE }, r#"W/"foo""#, T, NOT_MODIFIED),
        ("go: if_none_match_mismatch", Conditionals { if_none_match: Some(r#""Foo""#), ..NONE }, r#""foo""#, T, OK),
        ("go: if_none_match_malformed", Conditionals { if_none_match: Some(","), ..NONE }, r#""foo""#, T, OK),
        ("go: range_match", Conditionals { if_range: Some(r#""A""#), ..NONE }, r#""A""#, T, OK),
        ("go: range_match_weak_etag", Conditionals { if_range: Some(r#"W/"A""#), ..NONE }, r#"W/"A""#, T, WHOLE),
        ("go: range_no_match", Conditionals { if_range: Some(r#""B""#), ..NONE }, r#""A""#, T, WHOLE),
        ("go: range_with_modtime", Conditionals { if_range: Some(DATE), ..NONE }, r#""A""#, T, OK),
        ("go: range_with_modtime_mismatch", Conditionals { if_range: Some(ONE_SECOND_AFTER), ..NONE }, r#""A""#, T, WHOLE),
        ("go: ifmatch_matches", Conditionals { if_match: Some(r#""Z", "A""#), ..NONE }, r#""A""#, T, OK),
        ("go: ifmatch_star", Conditionals { if_match: Some("*"), ..NONE }, r#""A""#, T, OK),
        ("go: ifmatch_failed", Conditionals { if_match: Some(r#""B""#), ..NONE }, r#""A""#, T, FAILED),
        ("go: ifmatch_fails_on_weak_etag", Conditionals { if_match: Some(r#"W/"A""#), ..NONE }, r#"W/"A""#, T, FAILED),
        ("go: if_unmodified_since_true", Conditionals { if_unmodified_since: Some(DATE), ..NONE }, r#""A""#, T, OK),
        ("go: if_unmodified_since_false", Conditionals { if_unmodified_since: Some(TWO_SECONDS_BEFORE), ..NONE }, r#""A""#, T, FAILED),
        ("If-None-Match *", Conditionals { if_none_match: Some("*"), ..NONE }, r#""A""#, T, NOT_MODIFIED),
        ("If-None-Match weak vs strong", Conditionals { if_none_match: Some(r#"W/"A""#), ..NONE }, r#""A""#, T, NOT_MODIFIED),
        ("If-None-Match list with OWS", Conditionals { if_none_match: Some(" \"B\" ,\t\"A\" "), ..NONE }, r#""A""#, T, NOT_MODIFIED),
        ("If-None-Match empty elements", Conditionals { if_none_match: Some(r#",,"B",,"A","#), ..NONE }, r#""A""#, T, NOT_MODIFIED),
        ("If-None-Match tag holding a comma", Conditionals { if_none_match: Some(r#""a,b""#), ..NONE }, r#""a,b""#, T, NOT_MODIFIED),
        ("If-None-Match stops at garbage", Conditionals { if_none_match: Some(r#""B", junk, "A""#), ..NONE }, r#""A""#, T, OK),
        ("If-None-Match unquoted tag", Conditionals { if_none_match: Some("A"), ..NONE }, r#""A""#, T, OK),
        ("If-None-Match lower-case w/", Conditionals { if_none_match: Some(r#"w/"A""#), ..NONE }, r#""A""#, T, OK),
        ("If-None-Match space in a tag", Conditionals { if_none_match: Some(r#""A B""#), ..NONE }, r#""A B""#, T, OK),
        ("If-None-Match unterminated", Conditionals { if_none_match: Some(r#""A"#), ..NONE }, r#""A""#, T, OK),
        ("If-Match exact", Conditionals { if_match: Some(r#""A""#), ..NONE }, r#""A""#, T, OK),
        ("If-Match weak request tag", Conditionals { if_match: Some(r#"W/"A""#), ..NONE }, r#""A""#, T, FAILED),
        ("If-Match empty list", Conditionals { if_match: Some(","), ..NONE }, r#""A""#, T, FAILED),
        ("If-Match garbage", Conditionals { if_match: Some("garbage"), ..NONE }, r#""A""#, T, FAILED),
        ("If-Match * inside a list", Conditionals { if_match: Some(r#""B", *"#), ..NONE }, r#""A""#, T, FAILED),
        ("If-Match tag before garbage", Conditionals { if_match: Some(r#""A", junk"#), ..NONE }, r#""A""#, T, OK),
        ("If-Unmodified-Since later", Conditionals { if_unmodified_since: Some(ONE_SECOND_AFTER), ..NONE }, r#""A""#, T, OK),
        ("If-Unmodified-Since invalid", Conditionals { if_unmodified_since: Some("yesterday"), ..NONE }, r#""A""#, T, OK),
        ("If-Unmodified-Since list", Conditionals { if_unmodified_since: Some("Wed, 25 Jun 2014 17:12:16 GMT, Wed, 25 Jun 2014 17:12:16 GMT"), ..NONE }, r#""A""#, T, OK),
        ("If-Modified-Since earlier", Conditionals { if_modified_since: Some(TWO_SECONDS_BEFORE), ..NONE }, r#""A""#, T, OK),
        ("If-Modified-Since later", Conditionals { if_modified_since: Some(ONE_SECOND_AFTER), ..NONE }, r#""A""#, T, NOT_MODIFIED),
        ("If-Modified-Since invalid", Conditionals { if_modified_since: Some("yesterday"), ..NONE }, r#""A""#, T, OK),
        ("If-Modified-Since RFC 850", Conditionals { if_modified_since: Some("Wednesday, 25-Jun-14 17:12:18 GMT"), ..NONE }, r#""A""#, T, NOT_MODIFIED),
        ("If-Modified-Since asctime", Conditionals { if_modified_since: Some("Wed Jun 25 17:12:18 2014"), ..NONE }, r#""A""#, T, NOT_MODIFIED),
        ("If-Modified-Since with OWS", Conditionals { if_modified_since: Some(" Wed, 25 Jun 2014 17:12:18 GMT "), ..NONE }, r#""A""#, T, NOT_MODIFIED),
        ("If-Modified-Since at the epoch", Conditionals { if_modified_since: Some("Thu, 01 Jan 1970 00:00:00 GMT"), ..NONE }, r#""A""#, 0, NOT_MODIFIED),
        ("If-Match passes, If-Unmodified-Since ignored", Conditionals { if_match: Some(r#""A""#), if_unmodified_since: Some(TWO_SECONDS_BEFORE), ..NONE }, r#""A""#, T, OK),
        ("If-Match fails before If-None-Match", Conditionals { if_match: Some(r#""B""#), if_none_match: Some(r#""A""#), ..NONE }, r#""A""#, T, FAILED),
        ("If-Unmodified-Since fails before If-Modified-Since", Conditionals { if_unmodified_since: Some(TWO_SECONDS_BEFORE), if_modified_since: Some(DATE), ..NONE }, r#""A""#, T, FAILED),
        ("If-None-Match mismatch, If-Modified-Since ignored", Conditionals { if_none_match: Some(r#""B""#), if_modified_since: Some(DATE), ..NONE }, r#""A""#, T, OK),
        ("blank If-None-Match, If-Modified-Since used", Conditionals { if_none_match: Some(" "), if_modified_since: Some(DATE), ..NONE }, r#""A""#, T, NOT_MODIFIED),
        ("blank If-Match, If-Unmodified-Since used", Conditionals { if_match: Some(""), if_unmodified_since: Some(TWO_SECONDS_BEFORE), ..NONE }, r#""A""#, T, FAILED),
        ("If-None-Match match beats If-Range", Conditionals { if_none_match: Some(r#""A""#), if_range: Some(r#""A""#), ..NONE }, r#""A""#, T, NOT_MODIFIED),
        ("If-Range blank", Conditionals { if_range: Some("  "), ..NONE }, r#""A""#, T, OK),
        ("If-Range garbage", Conditionals { if_range: Some("yesterday"), ..NONE }, r#""A""#, T, WHOLE),
        ("If-Range unquoted tag", Conditionals { if_range: Some("A"), ..NONE }, r#""A""#, T, WHOLE),
        ("If-Range tag list", Conditionals { if_range: Some(r#""A", "B""#), ..NONE }, r#""A""#, T, WHOLE),
        ("If-Range weak tag of strong etag", Conditionals { if_range: Some(r#"W/"A""#), ..NONE }, r#""A""#, T, WHOLE),
        ("If-Range earlier date", Conditionals { if_range: Some(TWO_SECONDS_BEFORE), ..NONE }, r#""A""#, T, WHOLE),
        ("If-Range with OWS", Conditionals { if_range: Some(" \"A\"\t"), ..NONE }, r#""A""#, T, OK),
        ("all pass", Conditionals { if_match: Some(r#""A""#), if_none_match: Some(r#""B""#), if_range: Some(r#""A""#), ..NONE }, r#""A""#, T, OK),
    ];

    #[test]
    fn evaluate_table() {
        for (name, conditionals, etag, last_modified, want) in CASES {
            assert_eq!(evaluate(conditionals, etag, *last_modified), *want, "{name}");
        }
    }

    #[test]
    fn if_none_match_takes_precedence_over_if_modified_since() {
        let c =
            Conditionals { if_none_match: Some(r#""B""#), if_modified_since: Some(DATE), ..NONE };
        assert_eq!(evaluate(&c, r#""A""#, T), OK);
        let c = Conditionals {
            if_none_match: Some(r#""A""#),
            if_modified_since: Some(TWO_SECONDS_BEFORE),
            ..NONE
        };
        assert_eq!(evaluate(&c, r#""A""#, T), NOT_MODIFIED);
    }

    #[test]
    fn if_match_takes_precedence_over_if_unmodified_since() {
        let c = Conditionals {
            if_match: Some("*"),
            if_unmodified_since: Some(TWO_SECONDS_BEFORE),
            ..NONE
        };
        assert_eq!(evaluate(&c, r#""A""#, T), OK);
    }

    #[test]
    fn precondition_failed_takes_precedence_over_not_modified() {
        let c = Conditionals {
            if_unmodified_since: Some(TWO_SECONDS_BEFORE),
            if_none_match: Some("*"),
            ..NONE
        };
        assert_eq!(evaluate(&c, r#""A""#, T), FAILED);
    }

    #[test]
    fn if_range_never_matches_a_weak_entity_tag() {
        let if_range = IfRange::from_header_value(r#"W/"A""#).expect("a weak tag parses");
        assert!(!if_range.passes(r#"W/"A""#, T));
        assert!(!if_range.passes(r#""A""#, T));
    }

    #[test]
    fn if_range_date_must_equal_last_modified_to_the_second() {
        let if_range = IfRange::from_header_value(DATE).expect("an HTTP-date parses");
        assert!(if_range.passes(r#""A""#, T));
        assert!(!if_range.passes(r#""A""#, T - 1));
        assert!(!if_range.passes(r#""A""#, T + 1));
    }

    #[test]
    fn blank_fields_read_as_absent() {
        assert_eq!(IfMatch::from_header_value(" \t"), None);
        assert_eq!(IfNoneMatch::from_header_value(""), None);
        assert_eq!(IfModifiedSince::from_header_value(""), None);
        assert_eq!(IfUnmodifiedSince::from_header_value(" "), None);
        assert_eq!(IfRange::from_header_value(""), None);
    }

    #[test]
    fn dates_before_the_epoch_or_garbled_are_ignored() {
        assert_eq!(IfModifiedSince::from_header_value("Wed, 31 Dec 1969 23:59:59 GMT"), None);
        assert_eq!(IfModifiedSince::from_header_value("Wed, 25 Jun 2014 17:12:18"), None);
        assert_eq!(IfUnmodifiedSince::from_header_value("1403716338"), None);
    }
}
