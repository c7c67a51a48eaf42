//! Query-string parameters (`a=1&try=%2Fetc%2Fpasswd`), percent-decoded.

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code, reason = "used by the wasm build only"))]

/// The decoded `name=value` pairs of a query string, in order; repeated names are kept.
pub struct Query {
    /// `(name, value)`, decoded.
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Reads `query`, the part of the target after `?`; a pair without `=` has an empty value.
    pub fn parse(query: &str) -> Self {
        let pairs = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(name), decode(value))
            })
            .collect();
        Self { pairs }
    }

    /// Every value given for `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.pairs.iter().filter(|(n, _)| n == name).map(|(_, v)| v.clone()).collect()
    }

    /// The first value of `name`.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, if it is a number that fits a `u16` (a port, a count).
    pub fn first_u16(&self, name: &str) -> Option<u16> {
        self.first(name)?.parse().ok()
    }
}

/// Decodes `%XX` escapes and `+`; invalid escapes are kept as they are.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_repeated_names_in_order() {
        let q = Query::parse("try=%2Fetc%2Fpasswd&port=80&try=a+b&try=%zz&try=%41");
        assert_eq!(q.all("try"), ["/etc/passwd", "a b", "%zz", "A"]);
        assert_eq!(q.first_u16("port"), Some(80));
        assert_eq!(q.first_u16("udp"), None);
        assert_eq!(q.first("try"), Some("/etc/passwd"));
    }
}
