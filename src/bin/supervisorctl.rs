//! `supervisorctl`: the command-line client; everything but the exit lives in [`supervisor::ctl`].

fn main() {
    let code = supervisor::ctl::main(std::env::args().collect());
    std::process::exit(code);
}
