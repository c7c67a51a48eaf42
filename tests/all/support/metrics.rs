//! A parsed `/metrics` scrape (Prometheus / OpenMetrics text), queried by name and labels.
//! A series that is not there is an error, not a zero, so a renamed series fails the tests
//! that read it; "absent or zero" has to be asked for.

/// One sample: the series name, its labels, its value.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// Every sample of one scrape, and its text for failure messages.
#[derive(Debug, Clone)]
pub struct Scrape {
    pub samples: Vec<Sample>,
    pub text: String,
}

impl Scrape {
    /// Parses the exposition text; `#` lines (HELP, TYPE, UNIT, EOF) are skipped.
    #[track_caller]
    pub fn parse(text: &str) -> Scrape {
        let samples = text
            .lines()
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| parse_sample(line).unwrap_or_else(|| panic!("bad metrics line `{line}`")))
            .collect();
        Scrape { samples, text: text.to_owned() }
    }

    /// The samples named `name` that carry every label of `labels` (and maybe others).
    pub fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&str, &str)],
    ) -> impl Iterator<Item = &'a Sample> {
        self.samples.iter().filter(move |sample| {
            sample.name == name
                && labels
                    .iter()
                    .all(|(key, value)| sample.labels.iter().any(|(k, v)| k == key && v == value))
        })
    }

    /// The value of the one sample named `name` with `labels`, or why there is not one.
    pub fn lookup(&self, name: &str, labels: &[(&str, &str)]) -> Result<f64, String> {
        let found: Vec<&Sample> = self.matching(name, labels).collect();
        match found.as_slice() {
            [] => Err(format!("no sample of `{name}` {labels:?}")),
            [one] => Ok(one.value),
            _ => Err(format!("{} samples of `{name}` {labels:?}: {found:?}", found.len())),
        }
    }

    /// The value of the one sample named `name` with `labels`; a panic naming the series
    /// when there is none or several.
    #[track_caller]
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.lookup(name, labels).unwrap_or_else(|e| panic!("{e} in the scrape:\n{}", self.text))
    }

    /// `lookup`, where no sample means 0: for a labelled series the server creates on first
    /// use (a status, a limit) that nothing may have touched yet. A renamed series reads as 0
    /// here too: use it only where absence is what the test means, and read the same series
    /// with `value` once the test has made it count.
    pub fn lookup_or_zero(&self, name: &str, labels: &[(&str, &str)]) -> Result<f64, String> {
        match self.matching(name, labels).next() {
            None => Ok(0.0),
            Some(_) => self.lookup(name, labels),
        }
    }

    /// `lookup_or_zero`, or a panic when several samples match.
    #[track_caller]
    pub fn value_or_zero(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.lookup_or_zero(name, labels)
            .unwrap_or_else(|e| panic!("{e} in the scrape:\n{}", self.text))
    }

    /// Whether a series named `name` exists at all (with any labels).
    pub fn has(&self, name: &str) -> bool {
        self.samples.iter().any(|sample| sample.name == name)
    }
}

/// `name{a="x",b="y"} value [timestamp]` or `name value`.
fn parse_sample(line: &str) -> Option<Sample> {
    let (series, rest) = match line.find('{') {
        Some(_) => {
            let close = line.rfind('}')?;
            (&line[..close + 1], &line[close + 1..])
        }
        None => line.split_at(line.find(' ')?),
    };
    let value = rest.split_whitespace().next()?.parse().ok()?;
    let (name, labels) = match series.split_once('{') {
        Some((name, labels)) => (name, parse_labels(labels.strip_suffix('}')?)?),
        None => (series, Vec::new()),
    };
    Some(Sample { name: name.to_owned(), labels, value })
}

/// `a="x",b="y"`; values may hold escaped quotes and commas.
fn parse_labels(mut text: &str) -> Option<Vec<(String, String)>> {
    let mut labels = Vec::new();
    while !text.is_empty() {
        let (key, rest) = text.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            let (at, c) = chars.next()?;
            match c {
                '\\' => value.push(chars.next()?.1),
                '"' => break at,
                c => value.push(c),
            }
        };
        labels.push((key.trim().to_owned(), value));
        text = rest[end + 1..].trim_start_matches(',');
    }
    Some(labels)
}

#[test]
fn scrape_parses_labels_and_values_and_refuses_missing_series() {
    let scrape = Scrape::parse(
        "# TYPE x counter\nx_total{tenant=\"a\",status=\"200\"} 5\nx_total{tenant=\"-\",status=\"404\"} 1\n\
         h_bucket{le=\"+Inf\",tenant=\"a\"} 3\ng 2.5\n# EOF\n",
    );
    assert_eq!(scrape.value("x_total", &[("tenant", "a"), ("status", "200")]), 5.0);
    assert_eq!(scrape.value("x_total", &[("tenant", "-")]), 1.0);
    assert_eq!(scrape.value("h_bucket", &[("le", "+Inf")]), 3.0);
    assert_eq!(scrape.value("g", &[]), 2.5);
    // Absent: an error, unless asked for as "absent or zero".
    assert!(scrape.lookup("x_total", &[("tenant", "b")]).is_err());
    assert!(scrape.lookup("renamed_total", &[]).is_err());
    assert_eq!(scrape.lookup_or_zero("x_total", &[("tenant", "b")]), Ok(0.0));
    assert_eq!(scrape.lookup_or_zero("x_total", &[("tenant", "a"), ("status", "200")]), Ok(5.0));
    // Several matches are an error either way.
    assert!(scrape.lookup("x_total", &[]).is_err());
    assert!(scrape.lookup_or_zero("x_total", &[]).is_err());
    let missing = std::panic::catch_unwind(|| scrape.value("x_total", &[("tenant", "b")]));
    assert!(missing.is_err(), "a missing series read as a value");
}
