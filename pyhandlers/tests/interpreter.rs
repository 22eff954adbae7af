//! The embedded interpreter is the build's CPython with the venv's packages, found without any
//! environment variable.

mod common;

use common::fixture;

#[test]
fn runs_the_pyenv_interpreter_with_the_venv_packages() {
    let info = fixture().runtime.info();
    // pyenv's 3.11.7, not Debian's /usr/lib libpython 3.11.2.
    assert!(info.version.starts_with("3.11.7 "), "sys.version = {}", info.version);
    let venv = info.venv.as_ref().expect("the build venv is used").to_string_lossy().into_owned();
    assert!(venv.ends_with("/.venv"), "venv = {venv}");
    assert_eq!(info.prefix, venv);
    assert_eq!(info.executable, format!("{venv}/bin/python"));
    let site = format!("{venv}/lib/python3.11/site-packages");
    assert!(info.sys_path.contains(&site), "sys.path = {:?}", info.sys_path);
    // The base interpreter's own site-packages stay out, as in the venv's python.
    assert!(
        !info.sys_path.iter().any(|p| p.contains("/.pyenv/") && p.ends_with("site-packages")),
        "sys.path = {:?}",
        info.sys_path
    );
    assert_eq!(info.package, ingest_pyhandlers::IngestPackage::Reference);
    assert!(info.package_file.starts_with(&site), "package = {}", info.package_file);
}

#[test]
fn loads_libpython_from_the_build_lib_dir() {
    fixture();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let libpython: Vec<&str> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|p| p.contains("libpython3"))
        .collect();
    assert!(!libpython.is_empty(), "libpython is mapped");
    assert!(libpython.iter().all(|p| p.contains("/.pyenv/versions/3.11.7/")), "mapped: {libpython:?}");
    for variable in ["PYTHONPATH", "PYTHONHOME"] {
        assert!(std::env::var_os(variable).is_none(), "{variable} must not be needed");
    }
}
