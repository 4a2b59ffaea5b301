//! The one table style of the human output: a header row, columns padded to their widest
//! cell, two spaces between columns, no trailing spaces, no colour (which trivially honours
//! NO_COLOR and keeps piped output clean).

use std::fmt::Write;

pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&'static str]) -> Table {
        Table {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    /// A row; missing cells are empty, extra cells are dropped.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Every line starts with `indent`.
    pub fn render(&self, indent: &str) -> String {
        let columns = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, width) in widths.iter_mut().enumerate() {
                *width = (*width).max(cell(row, i).chars().count());
            }
        }
        let header: Vec<String> = self.header.iter().map(|h| h.to_string()).collect();
        let mut out = String::new();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::from(indent);
            for (i, width) in widths.iter().enumerate().take(columns) {
                let text = cell(row, i);
                if i + 1 == columns {
                    line.push_str(text);
                } else {
                    let pad = width - text.chars().count();
                    let _ = write!(line, "{text}{:pad$}  ", "");
                }
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
        out
    }
}

fn cell(row: &[String], i: usize) -> &str {
    row.get(i).map(String::as_str).unwrap_or("")
}

/// A compact age: `45s`, `12m`, `3h`, `2d`.
pub fn age(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// `-` for nothing, so every cell has something to read.
pub fn or_dash(value: Option<&str>) -> String {
    value.filter(|v| !v.is_empty()).unwrap_or("-").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_aligned_without_trailing_spaces() {
        let mut t = Table::new(&["ROLE", "NAME", "NOTE"]);
        t.row(vec!["live".into(), "shop_stage_1".into(), String::new()]);
        t.row(vec!["retired".into(), "s".into(), "old".into()]);
        assert_eq!(
            t.render("  "),
            "  ROLE     NAME          NOTE\n  live     shop_stage_1\n  retired  s             old\n"
        );
    }

    #[test]
    fn ages() {
        assert_eq!(
            [0, 59, 60, 3599, 3600, 86_399, 86_400 * 3].map(age),
            ["0s", "59s", "1m", "59m", "1h", "23h", "3d"]
        );
    }
}
