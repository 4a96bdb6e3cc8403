//! The `mergesearch` binary: parses arguments, runs, and reports errors as one paragraph.

use clap::Parser;

mod cli;

fn main() {
    mergesearch::runtime::keep_freed_memory();
    let cli = cli::Cli::parse();
    if let Err(e) = cli::run(cli) {
        let chain: Vec<String> = e.chain().map(|c| paragraph(&c.to_string())).collect();
        eprintln!("error: {}", chain.join(": "));
        std::process::exit(1);
    }
}

/// One error message without what candle appends when `RUST_BACKTRACE` is set (a
/// `WithBacktrace` error prints its stack after the message) and without blank lines, so
/// that every error prints as one paragraph.
fn paragraph(msg: &str) -> String {
    let mut lines = Vec::new();
    for line in msg.lines() {
        let t = line.trim_start();
        let frame = t
            .split_once(": ")
            .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if frame
            || t.starts_with("at ")
            || t.starts_with("stack backtrace:")
            || t == "disabled backtrace"
            || t == "unsupported backtrace"
        {
            // A backtrace runs to the end of its message; what follows it is more of it.
            break;
        }
        if !t.is_empty() {
            lines.push(line.trim_end());
        }
    }
    lines.join("\n")
}
