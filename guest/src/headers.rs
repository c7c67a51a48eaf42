//! The request header fields the policy reads, collected from the request's field list.

use crate::precondition::Conditionals;

/// A field the policy reads.
#[derive(Debug, Clone, Copy)]
enum Field {
    IfMatch,
    IfNoneMatch,
    IfModifiedSince,
    IfUnmodifiedSince,
    IfRange,
    Range,
}

/// How many [`Field`]s there are: `Range` is the last.
const FIELDS: usize = Field::Range as usize + 1;

impl Field {
    /// The field called `name` in wasi-http's spelling (lower case), if the policy reads it.
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "if-match" => Self::IfMatch,
            "if-none-match" => Self::IfNoneMatch,
            "if-modified-since" => Self::IfModifiedSince,
            "if-unmodified-since" => Self::IfUnmodifiedSince,
            "if-range" => Self::IfRange,
            "range" => Self::Range,
            _ => return None,
        })
    }
}

/// The values of the fields the policy reads; `None` where a field is absent.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RequestHeaders {
    values: [Option<String>; FIELDS],
}

impl RequestHeaders {
    /// Collects the fields from `(name, value)` pairs in the order they were received.
    /// A repeated field is joined with `, ` into one value (RFC 9110 §5.3). A field with any
    /// value that is not UTF-8 is as good as absent: no policy can read it as text.
    pub fn from_fields(fields: impl IntoIterator<Item = (String, Vec<u8>)>) -> Self {
        let mut values: [Option<String>; FIELDS] = Default::default();
        // One bit per `Field`: this set of fields had a value that is not text.
        let mut not_text = 0u8;
        for (name, value) in fields {
            let Some(field) = Field::named(&name) else {
                continue;
            };
            // The value's bytes become the string, without a copy.
            match (String::from_utf8(value), &mut values[field as usize]) {
                (Ok(value), Some(joined)) => {
                    joined.push_str(", ");
                    joined.push_str(&value);
                }
                (Ok(value), absent) => *absent = Some(value),
                (Err(_), _) => not_text |= 1 << field as u8,
            }
        }
        for (index, value) in values.iter_mut().enumerate() {
            if not_text & 1 << index != 0 {
                *value = None;
            }
        }
        Self { values }
    }

    /// The conditional request fields, for [`crate::precondition::evaluate`].
    pub fn conditionals(&self) -> Conditionals<'_> {
        Conditionals {
            if_match: self.value(Field::IfMatch),
            if_none_match: self.value(Field::IfNoneMatch),
            if_modified_since: self.value(Field::IfModifiedSince),
            if_unmodified_since: self.value(Field::IfUnmodifiedSince),
            if_range: self.value(Field::IfRange),
        }
    }

    /// The Range field, for [`crate::range::plan`].
    pub fn range(&self) -> Option<&str> {
        self.value(Field::Range)
    }

    fn value(&self, field: Field) -> Option<&str> {
        self.values[field as usize].as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::RequestHeaders;
    use crate::precondition::Conditionals;

    struct Case {
        name: &'static str,
        fields: &'static [(&'static str, &'static [u8])],
        conditionals: Conditionals<'static>,
        range: Option<&'static str>,
    }

    const NONE: Conditionals<'static> = Conditionals::NONE;
    const BASE: Case = Case { name: "", fields: &[], conditionals: NONE, range: None };
    const DATE: &str = "Wed, 25 Jun 2014 17:12:18 GMT";

    #[rustfmt::skip]
    const CASES: &[Case] = &[
        Case { name: "no fields", ..BASE },
        Case { name: "range", fields: &[("range", b"bytes=0-1")], range: Some("bytes=0-1"), ..BASE },
        Case {
            name: "every conditional",
            fields: &[("if-match", br#""A""#), ("if-none-match", br#""B""#), ("if-modified-since", DATE.as_bytes()), ("if-unmodified-since", DATE.as_bytes()), ("if-range", br#""C""#)],
            conditionals: Conditionals { if_match: Some(r#""A""#), if_none_match: Some(r#""B""#), if_modified_since: Some(DATE), if_unmodified_since: Some(DATE), if_range: Some(r#""C""#) },
            ..BASE
        },
        Case { name: "other fields are skipped", fields: &[("host", b"x"), ("accept", b"*/*"), ("range", b"bytes=5-")], range: Some("bytes=5-"), ..BASE },
        Case { name: "repeated field joined in order", fields: &[("if-none-match", br#""A""#), ("accept", b"*/*"), ("if-none-match", br#""B""#)], conditionals: Conditionals { if_none_match: Some(r#""A", "B""#), ..NONE }, ..BASE },
        Case { name: "repeated range joined", fields: &[("range", b"bytes=0-1"), ("range", b"bytes=5-6")], range: Some("bytes=0-1, bytes=5-6"), ..BASE },
        Case { name: "empty value kept", fields: &[("if-match", b"")], conditionals: Conditionals { if_match: Some(""), ..NONE }, ..BASE },
        Case { name: "empty repeat joined", fields: &[("if-match", b""), ("if-match", b"*")], conditionals: Conditionals { if_match: Some(", *"), ..NONE }, ..BASE },
        Case { name: "UTF-8 value", fields: &[("if-match", "\"é\"".as_bytes())], conditionals: Conditionals { if_match: Some("\"é\""), ..NONE }, ..BASE },
        Case { name: "not UTF-8 is absent", fields: &[("range", b"bytes=\xff-1")], ..BASE },
        Case { name: "not UTF-8 after a good value", fields: &[("if-match", b"*"), ("if-match", b"\xc3\x28")], ..BASE },
        Case { name: "not UTF-8 before a good value", fields: &[("if-match", b"\x80"), ("if-match", b"*")], ..BASE },
        Case { name: "not UTF-8 spoils only its own field", fields: &[("if-range", b"\xff"), ("range", b"bytes=0-1")], range: Some("bytes=0-1"), ..BASE },
        Case { name: "not UTF-8 in a skipped field", fields: &[("x-junk", b"\xff"), ("range", b"bytes=0-1")], range: Some("bytes=0-1"), ..BASE },
    ];

    #[test]
    fn from_fields_table() {
        for case in CASES {
            let fields = case.fields.iter().map(|&(name, value)| (name.to_owned(), value.to_vec()));
            let headers = RequestHeaders::from_fields(fields);
            assert_eq!(headers.conditionals(), case.conditionals, "{}", case.name);
            assert_eq!(headers.range(), case.range, "{}", case.name);
        }
    }
}
