//! Writes the report of a run or grid directory, as `genius report DIR` does, for measuring the report alone.
//!
//! ```text
//! cargo run --release -p genius-report --example report -- DIR
//! ```

fn main() {
    let dir = std::env::args().nth(1).expect("usage: report DIR");
    match genius_report::write_report(std::path::Path::new(&dir)) {
        Ok(files) => eprintln!("{} rows, {}", files.rows.len(), files.report.display()),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
