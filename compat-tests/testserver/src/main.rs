//! `irods-testserver --port N --data-dir DIR [--env-file F]`.

fn main() {
    eprintln!("irods-testserver: not implemented yet");
    std::process::exit(2);
}
