//! The catalog and vault live in the data directory and survive a restart; resources and users
//! declared on the command line are created once and found again.

mod common;

use std::process::Command;

use common::TestServer;
use test_support::venv_python;

fn run_python(env_file: &std::path::Path, code: &str) -> String {
    let output = Command::new(venv_python())
        .arg("-c")
        .arg(code)
        .env("IRODS_ENVIRONMENT_FILE", env_file)
        .output()
        .expect("running python");
    assert!(
        output.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

const SESSION: &str = "import os\nfrom irods.session import iRODSSession\n\
    s = iRODSSession(irods_env_file=os.environ['IRODS_ENVIRONMENT_FILE'])\n";

#[test]
fn catalog_and_vault_survive_a_restart() {
    let data = tempfile::tempdir().expect("data dir");
    let data_dir = data.path().join("data");
    let data_arg = data_dir.to_string_lossy().into_owned();
    {
        let server = TestServer::start_in(
            &data_arg,
            &["--resource", "extra:unixfilesystem", "--user", "bob:rodsuser:bobpw"],
        );
        run_python(
            &server.env_file,
            &format!(
                "{SESSION}s.collections.create('/tempZone/home/rods/kept')\n\
                 with s.data_objects.open('/tempZone/home/rods/kept/x', 'w', destRescName='extra') as f: f.write(b'persisted')\n\
                 s.data_objects.get('/tempZone/home/rods/kept/x').metadata.add('a', 'v')\n"
            ),
        );
    }
    let server = TestServer::start_in(
        &data_arg,
        &["--resource", "extra:unixfilesystem", "--user", "bob:rodsuser:bobpw"],
    );
    let out = run_python(
        &server.env_file,
        &format!(
            "{SESSION}o = s.data_objects.get('/tempZone/home/rods/kept/x')\n\
             print(o.open('r').read().decode(), o.resource_name, [(m.name, m.value) for m in o.metadata.items()])\n\
             b = iRODSSession(host='127.0.0.1', port=s.port, user='bob', zone='tempZone', password='bobpw')\n\
             print(b.collections.get('/tempZone/home/bob').owner_name)\n"
        ),
    );
    assert_eq!(out.trim(), "persisted extra [('a', 'v')]\nbob");
}
