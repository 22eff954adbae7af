use std::path::{Path, PathBuf};

/// The repository's top directory (the workspace root).
pub fn repo_root() -> PathBuf {
    // This crate lives at compat-tests/support.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("compat-tests/support sits two levels below the workspace root")
        .to_path_buf()
}

/// A program from the project's venv (`INGEST_VENV`, else `<repo>/.venv`).
///
/// Panics with the set-up command to run when the venv is missing, since every interop test needs it.
pub fn venv_bin(program: &str) -> PathBuf {
    let venv =
        std::env::var_os("INGEST_VENV").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".venv"));
    let path = venv.join("bin").join(program);
    assert!(path.exists(), "{} is missing: run scripts/setup to create the Python venv", path.display());
    path
}

/// The venv's Python interpreter, which has Celery, python-irodsclient and the reference package.
pub fn venv_python() -> PathBuf {
    venv_bin("python")
}

/// A binary built from this workspace, in the same profile as the running test.
///
/// Test executables live in `target/<profile>/deps/`; binaries and examples one and two levels
/// up. The caller names the relative path, e.g. `"irods-testserver"` or `"examples/demo_worker"`.
pub fn target_binary(relative: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let profile_dir =
        exe.parent().and_then(Path::parent).expect("test executables live in target/<profile>/deps");
    let path = profile_dir.join(relative);
    assert!(
        path.exists(),
        "{} is missing: build it first (scripts/test builds every binary and example)",
        path.display()
    );
    path
}
