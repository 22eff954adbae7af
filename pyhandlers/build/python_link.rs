// Build-script helper shared by every crate that links the embedded CPython into a binary or a
// test executable. Include it from that crate's build.rs:
//
//     include!("../pyhandlers/build/python_link.rs");      // path relative to the build.rs
//     fn main() { emit_python_link_args(); }
//
// with `pyo3-build-config` as a build-dependency. Why: pyo3-ffi links libpython with `-L<dir>`
// but its `-rpath` does not reach the final executable, so at run time the loader picks whichever
// `libpython3.11.so.1.0` it finds first -- on Debian that is /usr/lib's 3.11.2 instead of the
// pyenv 3.11.7 the crate was built against, and the embedded interpreter then runs without the
// venv. Baking the library directory into the executable's RUNPATH fixes it without any
// environment variable. Cargo applies `rustc-link-arg*` only to the targets of the package whose
// build script prints them, hence one include per package that produces executables.

/// Prints the rpath link argument for the binaries, tests, examples and benches of this package.
#[allow(dead_code)]
fn emit_python_link_args() {
    let config = pyo3_build_config::get();
    if let Some(dir) = config.lib_dir() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
}
