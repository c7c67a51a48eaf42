//! A minimal JSON writer (the fixture has no dependencies besides `wasip2`).

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code, reason = "used by the wasm build only"))]

use std::fmt::Write as _;

/// Quotes and escapes `s` as a JSON string.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON array of strings.
pub fn strings<S: AsRef<str>>(items: &[S]) -> String {
    let parts: Vec<String> = items.iter().map(|s| string(s.as_ref())).collect();
    format!("[{}]", parts.join(","))
}

/// Builds a JSON object member by member, in insertion order.
pub struct Object {
    /// `"key":value` of each member, in order.
    members: Vec<String>,
}

impl Object {
    /// An object with no members.
    pub fn new() -> Self {
        Self { members: Vec::new() }
    }

    /// Adds a member whose value is already JSON.
    pub fn raw(mut self, key: &str, json: String) -> Self {
        self.members.push(format!("{}:{}", string(key), json));
        self
    }

    /// Adds a member whose value is the string `value`.
    pub fn string(self, key: &str, value: &str) -> Self {
        self.raw(key, string(value))
    }

    /// The object as JSON text.
    pub fn finish(self) -> String {
        format!("{{{}}}", self.members.join(","))
    }
}

/// What one escape attempt got: `"ok:…"` with a preview of what was obtained, or `"err:<kind>"`.
/// The tests only look at the prefix; the rest is for the human reading a failure.
pub fn outcome<T, E: std::fmt::Debug>(
    result: Result<T, E>,
    preview: impl FnOnce(T) -> String,
) -> String {
    match result {
        Ok(value) => format!("ok:{}", preview(value)),
        Err(e) => format!("err:{e:?}"),
    }
}

/// Up to 64 bytes of `bytes`, lossily decoded, with the total length.
pub fn preview(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(64)];
    format!("len={}:{}", bytes.len(), String::from_utf8_lossy(head))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_quotes_backslashes_and_control_characters() {
        assert_eq!(string("a\"b\\c\nd\u{1}é"), r#""a\"b\\c\nd\u0001é""#);
    }

    #[test]
    fn object_keeps_member_order() {
        let json = Object::new().string("b", "1").raw("a", strings(&["x", "y"])).finish();
        assert_eq!(json, r#"{"b":"1","a":["x","y"]}"#);
    }
}
