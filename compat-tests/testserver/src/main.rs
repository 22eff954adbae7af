//! `irods-testserver`: an iRODS-protocol server with a SQLite catalog, for tests.

fn main() {
    eprintln!("irods-testserver: not implemented yet");
    std::process::exit(2);
}
