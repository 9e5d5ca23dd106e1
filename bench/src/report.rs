//! The one Markdown table a run prints, and how its numbers are written.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use crate::machine::Machine;

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// What was measured.
    pub measurement: String,
    /// What came out (or why nothing did).
    pub result: String,
    /// What it is compared with, if anything.
    pub reference: String,
    /// The comparison.
    pub ratio: String,
}

/// The table with its heading and notes.
#[derive(Debug, Clone)]
pub struct Report {
    /// The machine it ran on.
    pub machine: Machine,
    /// `quick` or `full`, and the load's shape.
    pub setup: String,
    /// The measurements, in order.
    pub rows: Vec<Row>,
    /// Sentences under the table (criteria, skipped parts, caveats).
    pub notes: Vec<String>,
}

impl Row {
    /// A row without reference or ratio.
    pub fn new(measurement: impl Into<String>, result: impl Into<String>) -> Row {
        Row {
            measurement: measurement.into(),
            result: result.into(),
            reference: String::new(),
            ratio: String::new(),
        }
    }

    /// The same row compared with `reference`.
    pub fn compared(mut self, reference: impl Into<String>, ratio: impl Into<String>) -> Row {
        self.reference = reference.into();
        self.ratio = ratio.into();
        self
    }
}

impl Report {
    /// The report as Markdown: a heading line with the machine, the table, the notes.
    pub fn to_markdown(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(text, "Machine: {}. {}", self.machine, self.setup);
        text.push('\n');
        text.push_str("| measurement | result | reference | ratio |\n|---|---|---|---|\n");
        for row in &self.rows {
            let _ = writeln!(
                text,
                "| {} | {} | {} | {} |",
                cell(&row.measurement),
                cell(&row.result),
                cell(&row.reference),
                cell(&row.ratio)
            );
        }
        if !self.notes.is_empty() {
            text.push('\n');
            for note in &self.notes {
                let _ = writeln!(text, "- {note}");
            }
        }
        text
    }
}

/// A table cell: one line, with `|` escaped.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// `1234567` as `1,234,567`.
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A rate per second: whole numbers with separators from 100 up, one decimal below.
pub fn per_second(rate: f64) -> String {
    if rate >= 100.0 {
        format!("{}/s", thousands(rate.round() as u64))
    } else {
        format!("{rate:.1}/s")
    }
}

/// Microseconds as milliseconds, with as many decimals as are meaningful.
pub fn millis(micros: u64) -> String {
    let ms = micros as f64 / 1000.0;
    if ms < 1.0 {
        format!("{ms:.2} ms")
    } else if ms < 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{} ms", thousands(ms.round() as u64))
    }
}

/// `p50 .. p90 .. p99 .. max ..` of a histogram of microseconds.
pub fn latencies(histogram: &Histogram<u64>) -> String {
    if histogram.is_empty() {
        return "no latencies".to_owned();
    }
    format!(
        "p50 {} p90 {} p99 {} max {}",
        millis(histogram.value_at_quantile(0.50)),
        millis(histogram.value_at_quantile(0.90)),
        millis(histogram.value_at_quantile(0.99)),
        millis(histogram.max()),
    )
}

/// A ratio: two decimals below 10, whole above, with `×` when it is a multiple.
pub fn ratio(value: f64) -> String {
    if !value.is_finite() {
        "n/a".to_owned()
    } else if value >= 10.0 {
        format!("{}×", thousands(value.round() as u64))
    } else {
        format!("{value:.2}")
    }
}

/// An error in one line: its own message and, if different, its root cause (the chain between
/// often repeats itself).
pub fn brief(error: &anyhow::Error) -> String {
    let top = error.to_string();
    let root = error.root_cause().to_string();
    if top.contains(&root) {
        top
    } else {
        format!("{top}: {root}")
    }
}

/// Bytes as MiB.
pub fn mebibytes(bytes: u64) -> String {
    format!("{} MB", thousands(bytes / (1 << 20)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_for_people() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(per_second(21_004.4), "21,004/s");
        assert_eq!(per_second(12.34), "12.3/s");
        assert_eq!(millis(700), "0.70 ms");
        assert_eq!(millis(6_040), "6.0 ms");
        assert_eq!(millis(201_400), "201 ms");
        assert_eq!(ratio(0.978), "0.98");
        assert_eq!(ratio(140.4), "140×");
        assert_eq!(ratio(f64::NAN), "n/a");
    }

    #[test]
    fn the_table_is_markdown_with_the_machine_on_top() {
        let report = Report {
            machine: Machine {
                cores: 2,
                memory_bytes: Some(24 << 30),
                cpu_model: Some("Test CPU".to_owned()),
                kernel: None,
                load_average: None,
                date: chrono::DateTime::UNIX_EPOCH,
            },
            setup: "Quick mode.".to_owned(),
            rows: vec![
                Row::new("durable creates, 0 stored", "21,000/s"),
                Row::new("json-server", "150/s").compared("a | b", "140×"),
            ],
            notes: vec!["A note.".to_owned()],
        };
        let text = report.to_markdown();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "Machine: 2 cores, 24.0 GiB memory, Test CPU, 1970-01-01 00:00 UTC. Quick mode."
        );
        assert_eq!(lines[2], "| measurement | result | reference | ratio |");
        assert_eq!(lines[4], "| durable creates, 0 stored | 21,000/s |  |  |");
        assert_eq!(lines[5], "| json-server | 150/s | a \\| b | 140× |");
        assert_eq!(lines[7], "- A note.");
    }

    #[test]
    fn latencies_read_the_histogram() {
        let mut histogram = crate::load::latency_histogram();
        for micros in 1..=1000u64 {
            let _ = histogram.record(micros * 10);
        }
        assert_eq!(
            latencies(&histogram),
            "p50 5.0 ms p90 9.0 ms p99 9.9 ms max 10 ms"
        );
    }
}
