//! `supervisord`: the daemon. Argument handling and exit codes live here; the work is in the library.

fn main() {
    println!("{}", supervisor::VERSION);
}
