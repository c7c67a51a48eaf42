//! A small JSON writer (RFC 8259): the API's objects are flat and known, so they are
//! written directly rather than built as a tree.

pub use tapedeck_guest::json::push_string as string;

/// Appends an unsigned integer.
pub fn number(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// Appends a number of seconds rounded to the microsecond, always with a fraction (`3.0`,
/// so that typed clients read a float), or `null` if not finite.
pub fn seconds(out: &mut String, seconds: f64) {
    let rounded = (seconds * 1e6).round() / 1e6;
    if rounded.is_finite() {
        out.push_str(&format!("{rounded:?}"));
    } else {
        out.push_str("null");
    }
}

/// A JSON object being written: `field` adds the comma and the key, then the caller writes
/// the value.
pub struct Object<'a> {
    out: &'a mut String,
    empty: bool,
}

impl<'a> Object<'a> {
    /// Opens an object.
    pub fn new(out: &'a mut String) -> Self {
        out.push('{');
        Self { out, empty: true }
    }

    /// Writes the key of the next member, and returns where its value goes.
    pub fn field(&mut self, key: &str) -> &mut String {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        string(self.out, key);
        self.out.push(':');
        self.out
    }

    /// A string member.
    pub fn string(&mut self, key: &str, value: &str) {
        string(self.field(key), value);
    }

    /// A string member, or `null`.
    pub fn optional_string(&mut self, key: &str, value: Option<&str>) {
        match value {
            Some(value) => self.string(key, value),
            None => self.field(key).push_str("null"),
        }
    }

    /// A number member, or `null`.
    pub fn optional_number(&mut self, key: &str, value: Option<u64>) {
        match value {
            Some(value) => number(self.field(key), value),
            None => self.field(key).push_str("null"),
        }
    }

    /// Closes the object.
    pub fn end(self) {
        self.out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::{Object, seconds, string};

    #[test]
    fn strings_are_escaped() {
        #[rustfmt::skip]
        let cases = [
            ("plain", r#""plain""#), ("a \"q\" \\ b", r#""a \"q\" \\ b""#), ("l1\nl2\r\t", r#""l1\nl2\r\t""#),
            ("\u{0}\u{1f}", r#""\u0000\u001f""#), ("é 日本 🎵", "\"é 日本 🎵\""), ("\u{2028}", r#""\u2028""#),
            ("</script>", r#""</script>""#),
        ];
        for (text, want) in cases {
            let mut out = String::new();
            string(&mut out, text);
            assert_eq!(out, want, "{text:?}");
        }
    }

    #[test]
    fn seconds_are_rounded_to_microseconds() {
        #[rustfmt::skip]
        let cases = [(3.0, "3.0"), (3.030_204_081_632_653, "3.030204"), (0.1 + 0.2, "0.3"), (f64::NAN, "null"), (f64::INFINITY, "null")];
        for (value, want) in cases {
            let mut out = String::new();
            seconds(&mut out, value);
            assert_eq!(out, want, "{value}");
        }
    }

    #[test]
    fn objects_separate_members() {
        let mut out = String::new();
        let mut object = Object::new(&mut out);
        object.string("a", "x");
        object.optional_string("b", None);
        object.optional_number("c", Some(3));
        object.optional_number("d", None);
        object.field("e").push_str("[]");
        object.end();
        assert_eq!(out, r#"{"a":"x","b":null,"c":3,"d":null,"e":[]}"#);
        let mut empty = String::new();
        Object::new(&mut empty).end();
        assert_eq!(empty, "{}");
    }
}
