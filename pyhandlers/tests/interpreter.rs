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

/// A binary linked against this crate, started with an empty environment (no PATH to a Python,
/// no LD_LIBRARY_PATH that cargo would otherwise add): still pyenv's libpython and stdlib, still
/// the venv's packages.
#[test]
fn an_executable_needs_no_environment() {
    let program = env!("CARGO_BIN_EXE_handler_check");
    let output =
        std::process::Command::new(program).env_clear().env("PATH", "/usr/bin:/bin").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert!(report["version"].as_str().unwrap().starts_with("3.11.7 "), "{report}");
    let venv = ingest_pyhandlers::interpreter::BUILD_VENV.unwrap();
    assert_eq!(report["prefix"], venv);
    assert_eq!(report["executable"], format!("{venv}/bin/python"));
    let path: Vec<&str> =
        report["sys_path"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    assert!(path.iter().all(|p| !p.starts_with("/usr/lib/python3")), "Debian's stdlib: {path:?}");
    assert!(path.contains(&format!("{venv}/lib/python3.11/site-packages").as_str()), "{path:?}");
    assert!(report["package"].as_str().unwrap().starts_with(venv));
    // The hook's logger writes to stdout when meta.config.log.filename is None.
    assert!(stdout.contains(r#""event": "hook ran""#), "{stdout}");
}

/// `IRODS_INGEST_VENV` overrides the build's venv (deployments); a directory that is not a venv
/// is refused with a clear error instead of running without the packages.
#[test]
fn the_venv_override_is_honoured() {
    let not_a_venv = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_handler_check"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("IRODS_INGEST_VENV", not_a_venv.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a venv"), "{stderr}");
    assert!(stderr.contains(&not_a_venv.path().display().to_string()), "{stderr}");
}
