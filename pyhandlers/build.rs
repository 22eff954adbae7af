//! Bakes libpython's directory into this crate's test and example executables, and records which
//! venv the crate was built against so that the embedded interpreter can use its site-packages.

include!("build/python_link.rs");

fn main() {
    emit_python_link_args();
    println!("cargo:rerun-if-changed=build/python_link.rs");

    // PYO3_PYTHON=/path/to/venv/bin/python: the venv is the directory holding pyvenv.cfg.
    let config = pyo3_build_config::get();
    let executable = config.executable().map(str::to_owned).or_else(|| std::env::var("PYO3_PYTHON").ok());
    let venv = executable.as_deref().map(std::path::Path::new).and_then(|exe| {
        let root = exe.parent()?.parent()?;
        root.join("pyvenv.cfg").is_file().then(|| root.to_path_buf())
    });
    if let Some(venv) = venv {
        println!("cargo:rustc-env=IRODS_INGEST_BUILD_VENV={}", venv.display());
    }
    println!("cargo:rustc-env=IRODS_INGEST_BUILD_PYTHON_VERSION={}", config.version());
    // The embedded Python sources (include_str!) are tracked by rustc itself.
}
