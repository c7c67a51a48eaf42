//! JSON strings (RFC 8259 §7), shared by the guests' error bodies and the library's API.

/// Appends `text` as a JSON string, quoted and escaped.
pub fn push_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Controls must be escaped; U+2028 and U+2029 are escaped too, so the JSON is
            // also valid JavaScript.
            c if c < ' ' || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str("\\u");
                let n = u32::from(c);
                for shift in [12, 8, 4, 0] {
                    out.push(char::from(b"0123456789abcdef"[(n >> shift) as usize & 0xf]));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::push_string;

    #[rustfmt::skip]
    const CASES: &[(&str, &str)] = &[
        ("plain", r#""plain""#),
        ("a \"quoted\" \\ path", r#""a \"quoted\" \\ path""#),
        ("new\nline\ttab\r", r#""new\nline\ttab\r""#),
        ("\u{1}\u{1f}", r#""\u0001\u001f""#),
        ("\u{2028}\u{2029}", r#""\u2028\u2029""#),
        ("é 日本 🎵", "\"é 日本 🎵\""),
    ];

    #[test]
    fn strings_table() {
        for &(text, json) in CASES {
            let mut out = String::new();
            push_string(&mut out, text);
            assert_eq!(out, json, "{text:?}");
        }
    }
}
