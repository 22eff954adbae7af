//! Bakes libpython's directory into the RUNPATH of this package's executables (the `irods-ingest`
//! binary, tests, examples): the crate links the embedded CPython through `ingest-pyhandlers`, and
//! without the rpath the loader would pick Debian's libpython instead of the pyenv one it was built
//! against (see pyhandlers/README.md, "Linking").

include!("../pyhandlers/build/python_link.rs");

fn main() {
    emit_python_link_args();
    println!("cargo:rerun-if-changed=../pyhandlers/build/python_link.rs");
}
