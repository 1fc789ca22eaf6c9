//! Output for people: aligned columns and relative times ("3 min ago"). Commands print
//! these by default and JSON with `--json`, whose shapes are the stable interface.

use std::time::{SystemTime, UNIX_EPOCH};

/// The widest a cell is printed; longer text is cut with `…`.
const MAX_CELL: usize = 60;

/// Rows under a header, printed with columns aligned.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table { header: header.iter().map(|h| (*h).to_owned()).collect(), rows: Vec::new() }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text, one line per row, columns separated by two spaces; control
    /// characters in cells (which a terminal would obey) are shown as `?`.
    pub fn render(&self) -> String {
        let cells: Vec<Vec<String>> = std::iter::once(&self.header)
            .chain(&self.rows)
            .map(|row| row.iter().map(|cell| clean(cell)).collect())
            .collect();
        let columns = self.header.len();
        let widths: Vec<usize> = (0..columns)
            .map(|i| {
                cells
                    .iter()
                    .map(|row| row.get(i).map_or(0, |c| c.chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &cells {
            let mut line = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = row.get(i).map_or("", String::as_str);
                if i + 1 == columns {
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(width - cell.chars().count() + 2));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// A cell as printed: one line, invisible and control characters written out
/// (`⟨U+202E⟩`: what an approver reads is what runs), at most [`MAX_CELL`] characters.
fn clean(text: &str) -> String {
    let one_line = aecl_core::visible::visible(text).replace(['\n', '\t'], "?");
    if one_line.chars().count() <= MAX_CELL {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(MAX_CELL - 1).collect();
    cut.push('…');
    cut
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A moment relative to `now_ms`: "just now", "3 min ago", "in 2 h".
pub fn relative(now_ms: u64, then_ms: u64) -> String {
    let (secs, past) = if then_ms <= now_ms {
        ((now_ms - then_ms) / 1000, true)
    } else {
        ((then_ms - now_ms) / 1000, false)
    };
    let amount = match secs {
        0..10 => return "just now".to_owned(),
        10..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86_400 => format!("{} h", secs / 3600),
        _ => format!("{} d", secs / 86_400),
    };
    if past { format!("{amount} ago") } else { format!("in {amount}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_and_cells_stay_on_one_line() {
        let mut table = Table::new(&["ID", "STATUS"]);
        table.row(vec!["a".into(), "pending".into()]);
        table.row(vec!["long-id".into(), "evil\u{1b}[2Jtext\nmore".into()]);
        table.row(vec!["bidi".into(), "\u{202e}1394ED\u{202c}\u{200b}".into()]);
        assert_eq!(
            table.render(),
            "ID       STATUS\na        pending\nlong-id  evil⟨U+001B⟩[2Jtext?more\n\
             bidi     ⟨U+202E⟩1394ED⟨U+202C⟩⟨U+200B⟩\n"
        );
        let mut wide = Table::new(&["X"]);
        wide.row(vec!["y".repeat(100)]);
        assert_eq!(wide.render().lines().nth(1).unwrap().chars().count(), MAX_CELL);
    }

    #[test]
    fn times_read_relative_to_now() {
        assert_eq!(relative(100_000, 95_000), "just now");
        assert_eq!(relative(200_000, 0), "3 min ago");
        assert_eq!(relative(0, 7_300_000), "in 2 h");
        assert_eq!(relative(4 * 86_400_000, 0), "4 d ago");
        assert_eq!(relative(0, 30_000), "in 30 s");
    }
}
