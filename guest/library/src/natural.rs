//! Natural order for names: runs of digits compare as numbers ("2 - x" before "10 - x"),
//! letters without regard to case.

use std::cmp::Ordering;

/// Compares `a` and `b` in natural order; names equal but for case or leading zeros are
/// then ordered by their bytes, so the order is total and stable.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a, b);
    loop {
        match (x.chars().next(), y.chars().next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let (run_x, rest_x) = split_digits(x);
                let (run_y, rest_y) = split_digits(y);
                let order = compare_numbers(run_x, run_y);
                if order != Ordering::Equal {
                    return order;
                }
                (x, y) = (rest_x, rest_y);
            }
            (Some(c), Some(d)) => {
                let order = c.to_lowercase().cmp(d.to_lowercase());
                if order != Ordering::Equal {
                    return order;
                }
                (x, y) = (&x[c.len_utf8()..], &y[d.len_utf8()..]);
            }
        }
    }
}

fn split_digits(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.split_at(end)
}

/// Compares two runs of digits by value, however long they are.
fn compare_numbers(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering::{Equal, Greater, Less};

    use super::compare;

    #[test]
    fn natural_order() {
        #[rustfmt::skip]
        let cases = [
            ("2 - x", "10 - x", Less), ("10 - x", "2 - x", Greater), ("a", "B", Less), ("B", "a", Greater),
            ("track2", "track10", Less), ("Track 2", "track 10", Less), ("x", "x", Equal), ("x", "x1", Less),
            ("1", "01", Greater), ("01", "1", Less), ("a1b2", "a1b10", Less), ("é", "f", Greater), ("É", "é", Less),
            ("99999999999999999999999", "100000000000000000000000", Less), ("", "a", Less),
            ("Disc 1/10", "Disc 1/9", Greater), ("a", "a", Equal),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare(a, b), want, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn sorting_a_directory() {
        let mut names = vec![
            "10 - ten.mp3",
            "2 - two.mp3",
            "1 - One.flac",
            "b.mp3",
            "A.mp3",
            "01 - zero one.mp3",
        ];
        names.sort_by(|a, b| compare(a, b));
        assert_eq!(
            names,
            ["1 - One.flac", "01 - zero one.mp3", "2 - two.mp3", "10 - ten.mp3", "A.mp3", "b.mp3"]
        );
    }
}
