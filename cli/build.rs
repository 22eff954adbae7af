//! Bakes libpython's directory into the RUNPATH of the `irods-ingest` binary and this crate's
//! tests: the binary embeds CPython through `ingest-pyhandlers`, and without the rpath the loader
//! would pick Debian's libpython instead of the one it was built against (pyhandlers/README.md,
//! "Linking").

include!("../pyhandlers/build/python_link.rs");

fn main() {
    emit_python_link_args();
    println!("cargo:rerun-if-changed=../pyhandlers/build/python_link.rs");
}
