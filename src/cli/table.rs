//! Output for people: aligned columns, and colour only when stdout is a terminal and
//! `NO_COLOR` is not set (<https://no-color.org>), so pipes and CI logs stay plain text.

use std::io::IsTerminal;

/// A colour for a cell or a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colour {
    Red,
    Green,
    Yellow,
    Bold,
    Dim,
}

impl Colour {
    fn code(self) -> &'static str {
        match self {
            Colour::Red => "31",
            Colour::Green => "32",
            Colour::Yellow => "33",
            Colour::Bold => "1",
            Colour::Dim => "2",
        }
    }
}

/// Whether to colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    colour: bool,
}

impl Style {
    /// Colour when stdout is a terminal and `NO_COLOR` is unset or empty.
    pub fn detect() -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            colour: !no_color && std::io::stdout().is_terminal(),
        }
    }

    pub fn plain() -> Style {
        Style { colour: false }
    }

    pub fn paint(&self, colour: Colour, text: &str) -> String {
        if self.colour {
            format!("\x1b[{}m{text}\x1b[0m", colour.code())
        } else {
            text.to_string()
        }
    }
}

/// A table with a header row; columns are as wide as their widest cell.
#[derive(Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<(String, Option<Colour>)>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<(String, Option<Colour>)>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table, each line prefixed with `indent`; no trailing spaces.
    pub fn render(&self, style: Style, indent: &str) -> String {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, (text, _)) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(text.chars().count());
            }
        }
        // The lines go into one string as they are made (a table of a large VPC is megabytes).
        let mut out = String::new();
        let mut line = |cells: Vec<(&str, Option<Colour>)>| {
            if !out.is_empty() {
                out.push('\n');
            }
            let start = out.len();
            let last = cells.len().saturating_sub(1);
            out.push_str(indent);
            for (i, (text, colour)) in cells.into_iter().enumerate() {
                let padded = if i == last {
                    text.to_string()
                } else {
                    format!("{text:<width$}  ", width = widths[i])
                };
                // Pad first, then paint: escape codes must not count towards the width.
                let (body, pad) = padded.split_at(text.len());
                match colour {
                    Some(c) => out.push_str(&style.paint(c, body)),
                    None => out.push_str(body),
                }
                out.push_str(pad);
            }
            let end = start + out[start..].trim_end().len();
            out.truncate(end);
        };
        line(
            self.headers
                .iter()
                .map(|h| (h.as_str(), Some(Colour::Bold)))
                .collect(),
        );
        for row in &self.rows {
            line(row.iter().map(|(t, c)| (t.as_str(), *c)).collect());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_lines_have_no_trailing_spaces() {
        let mut t = Table::new(&["CLIENT", "VERDICT"]);
        t.row(vec![
            ("eni-1".into(), None),
            ("Reachable".into(), Some(Colour::Green)),
        ]);
        t.row(vec![("eni-long-name".into(), None), ("".into(), None)]);
        assert_eq!(
            t.render(Style::plain(), "  "),
            "  CLIENT         VERDICT\n  eni-1          Reachable\n  eni-long-name"
        );
    }

    #[test]
    fn colour_does_not_change_the_alignment() {
        let mut t = Table::new(&["A", "B"]);
        t.row(vec![("x".into(), Some(Colour::Red)), ("y".into(), None)]);
        let coloured = t.render(Style { colour: true }, "");
        assert_eq!(coloured.lines().nth(1).unwrap(), "\x1b[31mx\x1b[0m  y");
    }
}
