//! The results: a human table, then one JSON line.

use std::io::Write;

use serde_json::{Map, Value};

/// The results of one run.
pub(crate) struct Report {
    title: String,
    rows: Vec<(String, String)>,
    json: Map<String, Value>,
}

impl Report {
    /// An empty report for `scenario`.
    pub(crate) fn new(scenario: &str, title: String) -> Self {
        let mut json = Map::new();
        json.insert("scenario".into(), Value::from(scenario));
        Self {
            title,
            rows: Vec::new(),
            json,
        }
    }

    /// Adds a row to the table.
    pub(crate) fn row(&mut self, label: &str, value: impl Into<String>) {
        self.rows.push((label.to_owned(), value.into()));
    }

    /// Adds a field to the JSON line.
    pub(crate) fn field(&mut self, key: &str, value: impl serde::Serialize) {
        let v = serde_json::to_value(value).unwrap_or(Value::Null);
        self.json.insert(key.to_owned(), v);
    }

    /// The number in a JSON field (0 when absent).
    pub(crate) fn number(&self, key: &str) -> u64 {
        self.json.get(key).and_then(Value::as_u64).unwrap_or(0)
    }

    /// Writes the table (unless `json_only`) and the JSON line to `out`.
    pub(crate) fn write(&self, out: &mut impl Write, json_only: bool) -> std::io::Result<()> {
        if !json_only {
            writeln!(out, "{}", self.title)?;
            let width = self.rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
            for (label, value) in &self.rows {
                writeln!(out, "  {label:<width$}  {value}")?;
            }
        }
        writeln!(out, "{}", Value::Object(self.json.clone()))?;
        out.flush()
    }
}

/// The latency row of a request-and-answer scenario.
pub(crate) fn latency(p: &crate::stats::Percentiles) -> String {
    format!(
        "p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
        ms(p.p50_us),
        ms(p.p90_us),
        ms(p.p99_us),
        ms(p.p999_us),
        ms(p.max_us)
    )
}

/// Microseconds as milliseconds with 3 decimals.
pub(crate) fn ms(us: u64) -> String {
    // Latencies are far below 2^53 µs.
    #[allow(clippy::cast_precision_loss)]
    let v = us as f64 / 1000.0;
    format!("{v:.3} ms")
}

/// A count with thousands separators.
pub(crate) fn thousands(n: f64) -> String {
    // Rates are positive and far below 2^63.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let n = n.round() as u64;
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes as KiB with one decimal.
pub(crate) fn kib(bytes: f64) -> String {
    format!("{:.1} KiB", bytes / 1024.0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn table_then_one_json_line() {
        let mut r = Report::new("rtt", "rtt: 1 client".into());
        r.row("p50", ms(153));
        r.row("events/s", thousands(12_345.6));
        r.field("sent", 10u64);
        r.field("received", 10u64);
        let mut out = Vec::new();
        r.write(&mut out, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "rtt: 1 client");
        assert_eq!(lines[1], "  p50       0.153 ms");
        assert_eq!(lines[2], "  events/s  12,346");
        let json: Value = serde_json::from_str(lines[3]).unwrap();
        assert_eq!(json["scenario"], "rtt");
        assert_eq!(json["sent"], 10);
        assert_eq!(r.number("received"), 10);

        let mut only = Vec::new();
        r.write(&mut only, true).unwrap();
        assert_eq!(String::from_utf8(only).unwrap().lines().count(), 1);
    }

    #[test]
    fn formats() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1_000.0), "1,000");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
        assert_eq!(kib(12_288.0), "12.0 KiB");
        assert_eq!(ms(1_500), "1.500 ms");
    }
}
