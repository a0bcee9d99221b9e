//! The sweep's table: one row per point, the CSV written from it.
//!
//! Owns flattening a point's JSON summary (the one `simnet run --json`
//! prints) into named numbers (`hosts.sender.cpu_busy_ns`,
//! `flows[0].goodput_bps`, `hosts.sender.cpu_ns.copy`), the column order
//! (the varied keys, `outcome`, then every figure in the order the
//! summaries first give it, points in grid order, then `wall_ms`) and the
//! CSV text. Leaves out what is not a figure of the run: text fields and
//! `stages` (whose rows differ from point to point; each row is in the
//! summary) and `captures`.
//!
//! Does not run anything or know where the summaries come from (a run in
//! this process, or files a jobs file's commands wrote).

use serde_json::Value;

/// One point's row: its varied values, outcome, figures and wall time.
#[derive(Debug, Clone)]
pub struct Row {
    pub values: Vec<String>,
    pub outcome: String,
    pub figures: Vec<(String, Value)>,
    /// Milliseconds of wall-clock time the point's run took, when it ran
    /// in this process (not deterministic).
    pub wall_ms: Option<f64>,
}

/// The name of the column of wall-clock time: the one column that
/// differs from run to run.
pub const WALL_MS: &str = "wall_ms";

/// Top-level summary fields that are not columns.
const LEFT_OUT: &[&str] = &["stages", "captures"];

/// The numbers of a JSON summary, by dotted name, in its own order.
pub fn flatten(summary: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    if let Value::Object(top) = summary {
        for (k, v) in top {
            if !LEFT_OUT.contains(&k.as_str()) {
                walk(k, v, &mut out);
            }
        }
    }
    out
}

fn walk(name: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Number(_) => out.push((name.to_string(), v.clone())),
        Value::Object(m) => {
            for (k, v) in m {
                walk(&format!("{name}.{k}"), v, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                walk(&format!("{name}[{i}]"), v, out);
            }
        }
        Value::String(_) | Value::Bool(_) | Value::Null => {}
    }
}

/// The table of a sweep: its columns and rows.
pub struct Table {
    pub keys: Vec<String>,
    pub figures: Vec<String>,
    pub rows: Vec<Row>,
}

impl Table {
    /// The table of `rows`, whose varied values are those of `keys`.
    pub fn new(keys: Vec<String>, rows: Vec<Row>) -> Table {
        let mut figures: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for r in &rows {
            for (name, _) in &r.figures {
                if seen.insert(name.clone()) {
                    figures.push(name.clone());
                }
            }
        }
        Table {
            keys,
            figures,
            rows,
        }
    }

    /// Every column's name, in order.
    pub fn header(&self) -> Vec<String> {
        let mut h = self.keys.clone();
        h.push("outcome".into());
        h.extend(self.figures.iter().cloned());
        h.push(WALL_MS.into());
        h
    }

    /// The value of column `name` in row `r`, as a number, if it is one.
    pub fn number(&self, r: &Row, name: &str) -> Option<f64> {
        if let Some(i) = self.keys.iter().position(|k| k == name) {
            return r.values.get(i).and_then(|v| super::grid::numeric(v));
        }
        if name == WALL_MS {
            return r.wall_ms;
        }
        (r.figures.iter())
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_f64())
    }

    /// Whether `name` is a column.
    pub fn has(&self, name: &str) -> bool {
        self.header().iter().any(|h| h == name)
    }

    /// The CSV text: a header line, then one line per point.
    pub fn csv(&self) -> Result<Vec<u8>, String> {
        let fail = |e: csv::Error| format!("cannot write the CSV: {e}");
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(self.header()).map_err(fail)?;
        for r in &self.rows {
            let mut rec = r.values.clone();
            rec.push(r.outcome.clone());
            for name in &self.figures {
                let cell = (r.figures.iter())
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.to_string())
                    .unwrap_or_default();
                rec.push(cell);
            }
            rec.push(r.wall_ms.map(|ms| format!("{ms:.3}")).unwrap_or_default());
            w.write_record(&rec).map_err(fail)?;
        }
        w.into_inner()
            .map_err(|e| format!("cannot write the CSV: {}", e.error()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_flattens_to_its_numbers_in_order_without_stages() {
        let s: Value = serde_json::from_str(
            r#"{"scenario":"t","seed":1,"flows":[{"from":"a","goodput_bps":5,
                "write_latency_ns":{"p50":1}}],"hosts":{"a":{"cpu_busy_ns":7}},
                "stages":[{"count":3}],"captures":[]}"#,
        )
        .unwrap();
        let names: Vec<String> = flatten(&s).into_iter().map(|f| f.0).collect();
        assert_eq!(
            names,
            [
                "seed",
                "flows[0].goodput_bps",
                "flows[0].write_latency_ns.p50",
                "hosts.a.cpu_busy_ns"
            ]
        );
        let row = Row {
            values: vec!["1KiB".into()],
            outcome: "ok".into(),
            figures: flatten(&s),
            wall_ms: Some(1.5),
        };
        let t = Table::new(vec!["flow[0].write_size".into()], vec![row]);
        let csv = String::from_utf8(t.csv().unwrap()).unwrap();
        assert!(csv.starts_with("flow[0].write_size,outcome,seed,"), "{csv}");
        assert!(csv.ends_with("1KiB,ok,1,5,1,7,1.500\n"), "{csv}");
        assert_eq!(t.number(&t.rows[0], "flow[0].write_size"), Some(1024.0));
        assert_eq!(t.number(&t.rows[0], "hosts.a.cpu_busy_ns"), Some(7.0));
    }
}
