//! Progress on standard error for commands that can run for minutes (`aecl replay` of a
//! long trace, `aecl audit verify` and `export`), drawn only when standard error is a
//! terminal: piped or in CI, nothing is written, so output stays what scripts parse.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often the bar redraws at most: a replay of a million events must not spend its
/// time drawing.
const REFRESH_PER_SECOND: u8 = 8;

/// A bar over `total` units (`bytes` counts them as sizes), or a counter when the total is
/// unknown (`None`); hidden when standard error is not a terminal.
pub fn bar(total: Option<u64>, what: &str, bytes: bool) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let (position, length) = if bytes {
        ("{binary_bytes}", "{binary_total_bytes}")
    } else {
        ("{human_pos}", "{human_len}")
    };
    let template = match total {
        Some(_) => format!("{{spinner}} {what} [{{bar:30}}] {position}/{length} ({{eta}} left)"),
        None => format!("{{spinner}} {what}: {position} ({{per_sec}})"),
    };
    let style = ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let bar = match total {
        Some(total) => ProgressBar::new(total),
        None => ProgressBar::new_spinner(),
    };
    bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(REFRESH_PER_SECOND));
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(250));
    // Drawn at once, so that even a short run shows what it is doing.
    bar.tick();
    bar
}
