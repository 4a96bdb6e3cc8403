//! The `mergesearch` binary: parses arguments, runs, and reports errors as one paragraph.

use clap::Parser;

fn main() {
    let cli = mergesearch::cli::Cli::parse();
    if let Err(e) = mergesearch::cli::run(cli) {
        let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
        eprintln!("error: {}", chain.join(": "));
        std::process::exit(1);
    }
}
