//! Process-wide set-up of the embedded interpreter.
//!
//! There is one CPython per process, so this runs once (later runtimes reuse it):
//!
//! 1. pyo3 initialises the interpreter (`auto-initialize`, no signal handlers: the worker owns
//!    SIGINT/SIGTERM). The libpython it loads is the one baked into the executable's RUNPATH by
//!    `build/python_link.rs`.
//! 2. The native module `_irods_ingest_native` (log sink, operation callable) is registered and
//!    the Python sources of `python/` — compiled into this crate with `include_str!` — are served
//!    by a small import hook, so a deployment needs no files besides the venv.
//! 3. `irods_ingest_rt.runtime.setup` puts the venv's site-packages on `sys.path` (dropping the
//!    base interpreter's, as a venv does), installs the interruptible `time.sleep`, and picks the
//!    ingest package handlers import: the reference package when installed, else the bundled
//!    stand-in.
//!
//! Which venv: `IRODS_INGEST_VENV` when set (deployments), else [`PythonEnvironment`] from the
//! runtime configuration, else the venv the crate was built against (`PYO3_PYTHON` at build
//! time). No `PYTHONPATH`, `PYTHONHOME` or `LD_LIBRARY_PATH` is needed.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyTuple};

use crate::error::StartError;
use crate::native;

/// Which `irods_capability_automated_ingest` handlers import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IngestPackage {
    /// The reference package when it is importable, else the bundled stand-in.
    #[default]
    Auto,
    /// The installed reference package; start fails without it.
    Reference,
    /// The bundled stand-in even when the reference package is installed.
    Bundled,
}

impl IngestPackage {
    fn as_python(self) -> &'static str {
        match self {
            IngestPackage::Auto => "auto",
            IngestPackage::Reference => "reference",
            IngestPackage::Bundled => "bundled",
        }
    }
}

/// Whose site-packages the interpreter uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PythonEnvironment {
    /// `IRODS_INGEST_VENV`, else the venv the crate was built against, else the bare interpreter.
    #[default]
    Default,
    /// This venv (the directory holding `pyvenv.cfg`); `IRODS_INGEST_VENV` still wins.
    Venv(PathBuf),
    /// Leave `sys.path` as the interpreter set it up.
    Interpreter,
}

/// The environment variable that names the venv at run time, overriding everything else.
pub const VENV_VARIABLE: &str = "IRODS_INGEST_VENV";

/// The venv `PYO3_PYTHON` belonged to when the crate was built, if it was one.
pub const BUILD_VENV: Option<&str> = option_env!("IRODS_INGEST_BUILD_VENV");

/// The base interpreter the crate was built against (`sys._base_executable` of `PYO3_PYTHON`).
pub const BUILD_PYTHON: Option<&str> = option_env!("IRODS_INGEST_BUILD_PYTHON_EXECUTABLE");

/// `X.Y` of the libpython this crate links.
pub const BUILD_PYTHON_VERSION: &str = env!("IRODS_INGEST_BUILD_PYTHON_VERSION");

impl PythonEnvironment {
    /// The venv directory to use, after applying the override variable.
    pub fn resolve(&self) -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os(VENV_VARIABLE).filter(|v| !v.is_empty()) {
            return Some(PathBuf::from(dir));
        }
        match self {
            PythonEnvironment::Default => BUILD_VENV.map(PathBuf::from),
            PythonEnvironment::Venv(dir) => Some(dir.clone()),
            PythonEnvironment::Interpreter => None,
        }
    }
}

/// What the interpreter looks like after set-up (for start-up logs and tests).
#[derive(Debug, Clone)]
pub struct InterpreterInfo {
    /// `sys.version`.
    pub version: String,
    /// The package actually used: `Reference` or `Bundled`.
    pub package: IngestPackage,
    /// `irods_capability_automated_ingest.__file__`.
    pub package_file: String,
    pub executable: String,
    pub prefix: String,
    pub sys_path: Vec<String>,
    pub venv: Option<PathBuf>,
}

/// Python objects every call needs, looked up once.
pub(crate) struct PyGlobals {
    pub call_event: Py<PyAny>,
    pub call_override: Py<PyAny>,
    pub load_handler: Py<PyAny>,
    pub describe_exception: Py<PyAny>,
    pub translate_path: Py<PyAny>,
    pub cleanup_sessions: Py<PyAny>,
    pub begin_call: Py<PyAny>,
    pub end_call: Py<PyAny>,
    pub set_thread_runtime: Py<PyAny>,
    pub operation_class: Py<PyAny>,
    pub delete_mode_class: Py<PyAny>,
    pub soft_time_limit: Py<PyAny>,
    pub terminated: Py<PyAny>,
    pub operation_failed: Py<PyAny>,
}

static GLOBALS: OnceLock<PyGlobals> = OnceLock::new();
static SETUP_LOCK: Mutex<()> = Mutex::new(());

pub(crate) fn globals() -> &'static PyGlobals {
    GLOBALS.get().expect("the interpreter is set up before any runtime exists")
}

/// One embedded source file: module name, path below `python/`, text, package?, stand-in?
struct Source {
    module: &'static str,
    origin: &'static str,
    text: &'static str,
    package: bool,
    compat: bool,
}

macro_rules! source {
    ($module:literal, $path:literal, $package:literal, $compat:literal) => {
        Source {
            module: $module,
            origin: concat!(env!("CARGO_MANIFEST_DIR"), "/../python/", $path),
            text: include_str!(concat!("../../python/", $path)),
            package: $package,
            compat: $compat,
        }
    };
}

const IMPORTER: Source = source!("_irods_ingest_importer", "_irods_ingest_importer.py", false, false);

const SOURCES: &[Source] = &[
    source!("irods_ingest_rt", "irods_ingest_rt/__init__.py", true, false),
    source!("irods_ingest_rt.errors", "irods_ingest_rt/errors.py", false, false),
    source!("irods_ingest_rt.interrupt", "irods_ingest_rt/interrupt.py", false, false),
    source!("irods_ingest_rt.logbridge", "irods_ingest_rt/logbridge.py", false, false),
    source!("irods_ingest_rt.session", "irods_ingest_rt/session.py", false, false),
    source!("irods_ingest_rt.runtime", "irods_ingest_rt/runtime.py", false, false),
    source!(
        "irods_capability_automated_ingest",
        "compat/irods_capability_automated_ingest/__init__.py",
        true,
        true
    ),
    source!(
        "irods_capability_automated_ingest.core",
        "compat/irods_capability_automated_ingest/core.py",
        false,
        true
    ),
    source!(
        "irods_capability_automated_ingest.utils",
        "compat/irods_capability_automated_ingest/utils.py",
        false,
        true
    ),
    source!(
        "irods_capability_automated_ingest.redis_utils",
        "compat/irods_capability_automated_ingest/redis_utils.py",
        false,
        true
    ),
    source!(
        "irods_capability_automated_ingest.redis_key",
        "compat/irods_capability_automated_ingest/redis_key.py",
        false,
        true
    ),
    source!(
        "irods_capability_automated_ingest.sync_logging",
        "compat/irods_capability_automated_ingest/sync_logging.py",
        false,
        true
    ),
];

/// Sets the interpreter up (first call) or checks that it is compatible (later calls), and makes
/// `runtime_id`'s log sink receive library log records.
pub(crate) fn setup(
    environment: &PythonEnvironment,
    package: IngestPackage,
    log_level: Option<&str>,
    runtime_id: u64,
) -> Result<InterpreterInfo, StartError> {
    // Taken before attaching: a thread waiting here must not hold the GIL.
    let _serialised = SETUP_LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let venv = environment.resolve();
    if let Some(venv) = &venv {
        check_venv_version(venv)?;
    }
    let program = match &venv {
        Some(venv) => Some(venv.join("bin").join("python")),
        None => BUILD_PYTHON.map(PathBuf::from),
    };
    if let Some(program) = program {
        initialize_as(&program)?;
    }
    Python::attach(|py| {
        let info = setup_attached(py, venv.as_ref(), package, log_level, runtime_id)
            .map_err(|err| StartError::Python(describe(py, &err)))?;
        Ok(info)
    })
}

/// A venv made from another Python version would hand its standard library to this libpython.
fn check_venv_version(venv: &Path) -> Result<(), StartError> {
    let config = std::fs::read_to_string(venv.join("pyvenv.cfg"))
        .map_err(|e| StartError::Python(format!("{}: not a venv ({e})", venv.display())))?;
    let version = config.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "version" || key.trim() == "version_info").then(|| value.trim().to_owned())
    });
    match version {
        Some(v) if v != BUILD_PYTHON_VERSION && !v.starts_with(&format!("{BUILD_PYTHON_VERSION}.")) => {
            Err(StartError::Python(format!(
                "the venv {} is Python {v}, this binary embeds Python {BUILD_PYTHON_VERSION}",
                venv.display()
            )))
        }
        _ => Ok(()),
    }
}

/// Initialises CPython as if it had been started as `program` (the venv's `bin/python`, or the
/// base interpreter): its path configuration then finds `pyvenv.cfg`, the base interpreter's
/// standard library and the venv's site-packages exactly as the command-line `python` does. Left
/// to itself, an embedded interpreter looks for `python3` on `PATH` and may take Debian's
/// `/usr/lib/python3.11` for its standard library. No-op when Python is already running (then
/// `runtime.setup` still puts the venv on `sys.path`).
fn initialize_as(program: &Path) -> Result<(), StartError> {
    use std::mem::MaybeUninit;
    use std::os::unix::ffi::OsStrExt;

    let program_c =
        CString::new(program.as_os_str().as_bytes()).map_err(|e| StartError::Python(e.to_string()))?;
    let failed = |status: ffi::PyStatus| -> Option<String> {
        // SAFETY: status comes from the C API; err_msg is NULL or a static C string.
        unsafe {
            (ffi::PyStatus_Exception(status) != 0).then(|| {
                if status.err_msg.is_null() {
                    "unknown error".to_owned()
                } else {
                    std::ffi::CStr::from_ptr(status.err_msg).to_string_lossy().into_owned()
                }
            })
        }
    };
    // SAFETY: the documented PyConfig sequence (init, set, initialize, clear) on a config that
    // lives on this stack frame; pyo3 has not initialised Python (checked first), and its own
    // initialisation later sees Py_IsInitialized() and does nothing. The GIL taken by
    // initialisation is released at the end, as pyo3 does.
    unsafe {
        if ffi::Py_IsInitialized() != 0 {
            return Ok(());
        }
        let mut config = MaybeUninit::<ffi::PyConfig>::zeroed();
        let config = config.as_mut_ptr();
        ffi::PyConfig_InitPythonConfig(config);
        // The worker owns SIGINT/SIGTERM (pyo3 also initialises without signal handlers).
        (*config).install_signal_handlers = 0;
        let status = ffi::PyConfig_SetBytesString(config, &mut (*config).program_name, program_c.as_ptr());
        if let Some(message) = failed(status) {
            ffi::PyConfig_Clear(config);
            return Err(StartError::Python(format!("configuring Python: {message}")));
        }
        let status = ffi::Py_InitializeFromConfig(config);
        ffi::PyConfig_Clear(config);
        if let Some(message) = failed(status) {
            return Err(StartError::Python(format!(
                "initialising Python as {}: {message}",
                program.display()
            )));
        }
        ffi::PyEval_SaveThread();
    }
    Ok(())
}

fn describe(py: Python<'_>, err: &PyErr) -> String {
    let traceback = err.traceback(py).and_then(|tb| tb.format().ok()).unwrap_or_default();
    format!("{traceback}{err}")
}

fn setup_attached(
    py: Python<'_>,
    venv: Option<&PathBuf>,
    package: IngestPackage,
    log_level: Option<&str>,
    runtime_id: u64,
) -> PyResult<InterpreterInfo> {
    if GLOBALS.get().is_none() {
        native::register(py)?;
        install_sources(py)?;
    }
    let runtime = py.import("irods_ingest_rt.runtime")?;
    let venv_text = venv.map(|v| v.to_string_lossy().into_owned());
    let info = runtime.getattr("setup")?.call1((venv_text, package.as_python(), log_level, runtime_id))?;
    if GLOBALS.get().is_none() {
        let attr = |name: &str| runtime.getattr(name).map(Bound::unbind);
        let interrupt = py.import("irods_ingest_rt.interrupt")?;
        let logbridge = py.import("irods_ingest_rt.logbridge")?;
        let errors = py.import("irods_ingest_rt.errors")?;
        let globals = PyGlobals {
            call_event: attr("call_event")?,
            call_override: attr("call_override")?,
            load_handler: attr("load_handler")?,
            describe_exception: attr("describe_exception")?,
            translate_path: attr("translate_path")?,
            cleanup_sessions: attr("cleanup_sessions")?,
            begin_call: interrupt.getattr("begin_call")?.unbind(),
            end_call: interrupt.getattr("end_call")?.unbind(),
            set_thread_runtime: logbridge.getattr("set_thread_runtime")?.unbind(),
            operation_class: attr("Operation")?,
            delete_mode_class: attr("DeleteMode")?,
            soft_time_limit: attr("SoftTimeLimitExceeded")?,
            terminated: attr("Terminated")?,
            operation_failed: errors.getattr("OperationFailed")?.unbind(),
        };
        let _ = GLOBALS.set(globals);
    }
    let get = |key: &str| -> PyResult<String> { info.get_item(key)?.extract() };
    let package = match get("package")?.as_str() {
        "bundled" => IngestPackage::Bundled,
        _ => IngestPackage::Reference,
    };
    Ok(InterpreterInfo {
        version: get("version")?,
        package,
        package_file: get("package_file")?,
        executable: get("executable")?,
        prefix: get("prefix")?,
        sys_path: info.get_item("path")?.extract()?,
        venv: venv.cloned(),
    })
}

fn install_sources(py: Python<'_>) -> PyResult<()> {
    let code = CString::new(IMPORTER.text).map_err(to_py_err)?;
    let file = CString::new(IMPORTER.origin).map_err(to_py_err)?;
    let name = CString::new(IMPORTER.module).map_err(to_py_err)?;
    let importer = PyModule::from_code(py, &code, &file, &name)?;
    let table = PyDict::new(py);
    for source in SOURCES {
        let entry = PyTuple::new(
            py,
            [
                source.origin.into_pyobject(py)?.into_any(),
                source.text.into_pyobject(py)?.into_any(),
                PyBool::new(py, source.package).to_owned().into_any(),
                PyBool::new(py, source.compat).to_owned().into_any(),
            ],
        )?;
        table.set_item(source.module, entry)?;
    }
    importer.getattr("install")?.call1((table,))?;
    Ok(())
}

fn to_py_err(err: std::ffi::NulError) -> PyErr {
    pyo3::exceptions::PyValueError::new_err(err.to_string())
}
